"""How long a generation stays in one worker's hands without news from it.

A row in flight past queued carries `lease_until`: until then a worker holds it, either running
its step or with its next step scheduled. While a step waits on the network (a submit, a poll,
downloads), a thread renews the lease every third of CLAIM_LEASE; a scheduled step holds it until
it is due, and half a lease more. When a worker dies (SIGKILL, a host gone), nothing renews its
leases, and the sweeper, every SWEEP_INTERVAL, hands every row whose lease is over to another
worker: within CLAIM_LEASE + SWEEP_INTERVAL of the death for work under way, and within half a
lease and a sweep of its due time for a step it held scheduled (README, "Hosts that share
nothing").

The broker is not relied on for this: Redis gives an unacknowledged message back only after its
visibility timeout (an hour, longer than the longest task must be).
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from gallery.models import Generation

log = logging.getLogger(__name__)
Status = Generation.Status


def grace() -> timedelta:
    """How late a scheduled step may be before it is presumed lost with its worker."""
    return timedelta(seconds=settings.CLAIM_LEASE / 2)


def expect(generation_id: int, step: str, delay: float) -> None:
    """Its next step is scheduled `delay` seconds from now: say so in the row.

    A poll or a download holds the row's lease until it is due, and a grace more. A submit is
    either a retry, whose wait is already the lease (a claim needs it over), or a queued row
    waiting for a free provider slot: it is touched, so the sweeper sees it is looked after.
    """
    now = timezone.now()
    rows = Generation.objects.filter(pk=generation_id)
    if step == "submit":
        rows.filter(status=Status.QUEUED).update(touched_at=now)
    else:
        until = now + timedelta(seconds=delay) + grace()
        rows.filter(status__in=(Status.RUNNING, Status.FETCHING)).update(
            lease_until=until, touched_at=now
        )


@contextmanager
def renewed(generation: Generation) -> Iterator[None]:
    """Keep the generation's lease while the block runs (a request, downloads).

    A thread with its own connection renews it every third of CLAIM_LEASE, by compare-and-set
    on the lease it saw last: once anything else changes the lease (a retry's wait) or the
    state, it stops. The block's own thread is never held up by it.
    """
    every = settings.CLAIM_LEASE / 3
    stop = threading.Event()
    lease = [generation.lease_until]  # what the row holds, as the thread last set it
    worker = threading.Thread(
        target=_renew,
        args=(generation.pk, generation.status, lease, every, stop),
        name=f"lease-{generation.pk}",
        daemon=True,
    )
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()
        generation.lease_until = lease[0]


def _renew(pk: int, status: str, lease: list, every: float, stop: threading.Event) -> None:
    try:
        while not stop.wait(every):
            until = timezone.now() + timedelta(seconds=settings.CLAIM_LEASE)
            rows = Generation.objects.filter(pk=pk, status=status)
            rows = rows.filter(lease_until=lease[0]) if lease[0] else rows.filter(lease_until=None)
            if not rows.update(lease_until=until):
                return  # moved on, or another lease now: not ours to keep
            lease[0] = until
    except Exception:
        # A lease not renewed costs a spare wake-up by the sweeper, never the step itself.
        log.exception("generation %s: could not renew its lease", pk)
    finally:
        connection.close()
