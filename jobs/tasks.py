"""Thin Celery tasks: take a row id, load the row, call the pipeline (or jobs/webhooks.py), schedule
the next step.

Late acknowledgement (settings) means a task whose worker died is delivered again; every
pipeline step is safe to run twice, and `deliver_webhook` claims its row first, so a second run
of the same message sends nothing twice.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from gallery.models import Delivery, Generation, UsageDay
from jobs import cleanup, leases, locks, pipeline, webhooks
from webapp import logs

Status = Generation.Status


def _load(generation_id: int) -> Generation | None:
    # With the team (its keys) and gallery (where images go) in the same query; `get` orders
    # nothing (`first` would sort by the model's ordering).
    try:
        return Generation.objects.select_related("team", "gallery").get(pk=generation_id)
    except Generation.DoesNotExist:
        return None


def _then(next_step: pipeline.Next | None, generation_id: int) -> None:
    if next_step is not None:
        task = {"submit": submit, "poll": poll, "fetch": fetch}[next_step.step]
        leases.expect(generation_id, next_step.step, next_step.delay)
        task.apply_async((generation_id,), countdown=next_step.delay)


@shared_task
def submit(generation_id: int) -> None:
    if generation := _load(generation_id):
        with logs.about(generation.uuid):
            _then(pipeline.submit(generation), generation_id)


@shared_task
def poll(generation_id: int) -> None:
    if generation := _load(generation_id):
        with logs.about(generation.uuid):
            _then(pipeline.poll(generation), generation_id)


@shared_task
def fetch(generation_id: int) -> None:
    if generation := _load(generation_id):
        with logs.about(generation.uuid):
            _then(pipeline.fetch(generation), generation_id)


@shared_task
def sweep() -> None:
    """Wake up what was left behind (a lost message, a dead worker) and end what is overdue.

    One round at a time across every beat and worker (jobs/locks.py): a second beat's round
    skips while another runs.
    """
    with locks.exclusive("sweep") as alone:
        if alone:
            _sweep()


def _sweep() -> None:
    now = timezone.now()
    for generation in Generation.objects.in_flight().filter(deadline_at__lt=now):
        with logs.about(generation.uuid):
            generation.mark_failed("The generation took too long and was stopped.")
    lease = timedelta(seconds=settings.CLAIM_LEASE)
    # Queued and not looked at for a lease: its message may have died with a worker that had
    # taken it. Touched when sent again, so one that waits its turn gets one more, not many.
    queued = Generation.objects.filter(status=Status.QUEUED, touched_at__lt=now - lease)
    queued_pks = list(queued.values_list("pk", flat=True))
    Generation.objects.filter(pk__in=queued_pks).update(touched_at=now)
    # A claim that lapsed before the provider gave a task id, or a retry whose wait is over.
    lapsed = Generation.objects.filter(
        status=Status.SUBMITTED, provider_task_id="", lease_until__lt=now
    )
    for pk in [*queued_pks, *lapsed.values_list("pk", flat=True)]:
        submit.delay(pk)
    # A poll or a download whose worker stopped renewing its lease (jobs/leases.py). Polls and
    # downloads re-check their state, so a spare wake-up is harmless; the new one holds the row
    # for a grace, so it is not sent again every round while it waits in the queue.
    over = Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    for status, task in ((Status.RUNNING, poll), (Status.FETCHING, fetch)):
        left = list(Generation.objects.filter(over, status=status).values_list("pk", flat=True))
        Generation.objects.filter(pk__in=left).update(lease_until=now + leases.grace())
        for pk in left:
            task.delay(pk)
    cleanup.purge_deleted(now - timedelta(hours=1))


@shared_task
def purge_uploads() -> None:
    """Remove uploads no generation can send any more, and stored files no upload names."""
    now = timezone.now()
    cleanup.purge_unused_uploads(now)
    cleanup.purge_orphan_inputs(now - timedelta(days=1))


@shared_task
def rollup_usage(days: int = 2) -> None:
    """Rebuild the usage dashboard's roll-ups of the last whole days (settled late ones too)."""
    UsageDay.objects.rebuild_recent(days)


@shared_task
def deliver_webhook(delivery_id: int) -> None:
    found = Delivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    if found is None:
        return
    delay = webhooks.deliver(found)
    # Short waits ride on the broker; longer ones live in the row, for the sweeper.
    if delay is not None and delay <= settings.MAX_COUNTDOWN:
        deliver_webhook.apply_async((delivery_id,), countdown=delay)


@shared_task
def sweep_webhooks() -> None:
    """Wake the deliveries whose wait is over, and those whose worker died mid-delivery."""
    for pk in Delivery.objects.due().values_list("pk", flat=True)[:1000]:
        deliver_webhook.delay(pk)


def enqueue_webhooks(sender, delivery_ids: list[int], **kwargs) -> None:
    """Receives gallery's `deliveries_recorded` (connected in JobsConfig.ready), sent once the
    transaction that recorded the deliveries has committed: one task each."""
    for pk in delivery_ids:
        deliver_webhook.delay(pk)
