"""The path of one generation, as plain functions over a Generation row.

Each step claims its row by compare-and-set, holds no transaction across network I/O, and
returns the `Next` step to schedule (or None). Waits longer than a short countdown live in the
row (`lease_until`), where the sweeper finds them, never in the broker.
"""

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from gallery.models import Generation, UnreadableKey
from jobs import catalog, http, images, leases
from jobs.connections import connection_for, known_keys
from jobs.inputs import request_params
from jobs.outputs import discard_images, store
from jobs.providers import (
    MAX_RETRY_AFTER,
    Output,
    Pending,
    ProviderError,
    Result,
    Submitted,
    scrub,
)
from jobs.providers.adapters import adapter_for
from jobs.timing import poll_interval
from webapp import live

log = logging.getLogger(__name__)
Status = Generation.Status


@dataclass(frozen=True)
class Next:
    step: str  # "submit" | "poll" | "fetch"
    delay: float = 0.0


MAX_RETRY_DELAY = 30.0


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """The wait before trying again after try number `attempt` (1, 2, ...).

    The provider's own Retry-After when it gives one up to MAX_RETRY_AFTER (two minutes, as
    openai-python obeys it); else exponential backoff with jitter as its
    `_calculate_retry_timeout` computes it: the initial delay doubled per try, capped, less up
    to a quarter at random (RETRY_INITIAL_DELAY is 1 s here, 0.5 s there: each of our tries is
    a task, and a generation is worth a little more patience).
    """
    if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
        return retry_after + random.uniform(0, 1)
    delay = min(settings.RETRY_INITIAL_DELAY * 2.0 ** (attempt - 1), MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


def _later(step: str, delay: float) -> Next | None:
    # A long wait is not handed to the broker: the row's lease says when, the sweeper acts.
    return Next(step, delay) if delay <= settings.MAX_COUNTDOWN else None


# The most of a reason that is kept and shown (a provider may answer with pages of text).
REASON_MAX = 600


def safe_text(generation: Generation, text: str) -> str:
    """A provider's words with every key the worker knows masked, then cut to REASON_MAX: they
    are shown to people, kept in the ledger and logged. Masked first, so that a cut through a
    key cannot leave its start behind."""
    text = scrub(text, known_keys(generation.team))
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1].rstrip() + "…"


def fail(generation: Generation, reason: str, *, refused: bool = False, then: str = "") -> bool:
    """The one way the pipeline fails a generation: with a reason that carries no key.

    `refused`: the provider refused the request or never got it, so it costs nothing.
    `then`: our own words after the reason, kept whole however long the reason was.
    """
    reason = safe_text(generation, reason)
    if then:
        reason = f"{reason if reason.endswith(('.', '!', '?', '…')) else reason + '.'} {then}"
    return generation.mark_failed(reason, refused=refused)


def claim(generation: Generation) -> bool:
    """Take a queued generation, or one whose earlier claim lapsed before it reached the
    provider (no task id): compare-and-set, so exactly one worker wins.

    The attempt count is part of the condition, so the row as loaded is the row claimed and
    needs no second read.
    """
    now = timezone.now()
    lapsed = Q(status=Status.SUBMITTED, provider_task_id="", lease_until__lt=now)
    fields = {
        "status": Status.SUBMITTED,
        "lease_until": now + timedelta(seconds=settings.CLAIM_LEASE),
        "attempts": generation.attempts + 1,
        "submitted_at": now,
        "touched_at": now,
    }
    won = Generation.objects.filter(
        Q(status=Status.QUEUED) | lapsed, pk=generation.pk, attempts=generation.attempts
    ).update(**fields)
    if won:
        for name, value in fields.items():
            setattr(generation, name, value)
        live.bump(generation.team_id)
    return won == 1


def provider_busy(provider: str) -> bool:
    """Whether the provider already has as many submissions in flight as we allow."""
    in_flight = Generation.objects.filter(
        provider=provider, status=Status.SUBMITTED, lease_until__gt=timezone.now()
    )
    return in_flight.count() >= settings.PROVIDER_CONCURRENCY


def submit(generation: Generation) -> Next | None:
    """Claim a generation and send it to its provider; never again once a task id is stored."""
    if generation.status == Status.QUEUED and provider_busy(generation.provider):
        return Next("submit", 1.0 + random.uniform(0, 1))
    if not claim(generation):
        return None  # another worker has it, it was cancelled, or it is past submission
    model = catalog.get(generation.model_id)
    if model is None:
        fail(generation, f"The model {generation.model_id} is no longer available.")
        return None
    if generation.sent_at is not None and not idempotent(model):
        # An earlier claim sent it and went silent (its worker died mid-request, or outlived its
        # lease): the provider may have done the work, and a second request would do it again.
        fail(generation, "The request was sent, but no answer came back." + MAY_HAVE_MADE_IT)
        return None
    adapter = adapter_for(model.protocol)
    try:
        params = request_params(generation)
        connection = connection_for(model, generation.team)
    except images.ImageError as e:
        fail(generation, str(e))
        return None
    except UnreadableKey as e:
        # Nothing is sent; what an earlier try may have had done (sent_at kept) still counts.
        fail(generation, str(e), refused=generation.sent_at is None)
        return None
    request = adapter.build_submit(connection, model, params, idempotency_key=str(generation.uuid))
    if not generation.mark_sent():
        return None  # cancelled since it was claimed: nothing is sent
    try:
        with http.client() as client, leases.renewed(generation):
            answer = adapter.parse_submit(client.send(request))
    except (ProviderError, httpx.TransportError) as e:
        return _submit_failed(generation, model, e)
    if isinstance(answer, Submitted):
        # Stored before anything else, so the work is never submitted twice.
        generation.advance(
            Status.SUBMITTED,
            Status.RUNNING,
            provider_task_id=answer.task_id,
            poll_url=answer.poll_url,
        )
        return Next("poll", poll_interval(generation))
    return _got_result(generation, Status.SUBMITTED, answer)


# The request never left: sending it again cannot duplicate work, and it costs nothing.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAY_HAVE_MADE_IT = (
    " It may still have made the image, so it was not sent again; try again if nothing arrives."
)


def _submit_failed(
    generation: Generation, model: catalog.Model, error: ProviderError | httpx.TransportError
) -> Next | None:
    """Try again what may pass and cannot duplicate work; fail the rest with its reason."""
    if isinstance(error, ProviderError):
        # An HTTP error answer is a refusal: the provider did no work for it.
        refused = error.status is not None
        if error.transient:
            return _retry_submit(generation, error.message, error.retry_after, sent=not refused)
        fail(generation, error.message, refused=refused)
        return None
    if isinstance(error, NOT_SENT):
        return _retry_submit(generation, "Could not reach the provider.", sent=False)
    if isinstance(error, httpx.TimeoutException):
        reason = "The provider did not answer in time."
    else:
        reason = "The connection to the provider broke after the request was sent."
    if idempotent(model):
        return _retry_submit(generation, reason)
    fail(generation, reason + MAY_HAVE_MADE_IT)
    return None


def idempotent(model: catalog.Model) -> bool:
    """Whether a submit may be sent again after it may have reached the provider: Relay's async
    submit carries an Idempotency-Key; the synchronous protocols have nothing like it."""
    return model.protocol == "relay" and model.asynchronous


def _retry_submit(
    generation: Generation, reason: str, retry_after: float | None = None, *, sent: bool = True
) -> Next | None:
    """Send it again after a wait, or give up once SUBMIT_ATTEMPTS tries have failed.

    `sent`: the provider may have the request (only an idempotent one is sent again then);
    otherwise it refused it or never got it, so a cancel during the wait costs nothing.
    """
    tries = generation.attempts
    if tries >= settings.SUBMIT_ATTEMPTS:
        times = f"{tries} {'try' if tries == 1 else 'tries'}"
        fail(generation, reason, refused=not sent, then=f"Gave up after {times}.")
        return None
    delay = backoff(tries, retry_after)
    now = timezone.now()
    unsent = {} if sent else {"sent_at": None}
    # Hold the claim until the retry is due, so no one else picks it up early.
    Generation.objects.filter(pk=generation.pk, status=Status.SUBMITTED).update(
        lease_until=now + timedelta(seconds=delay), touched_at=now, **unsent
    )
    log.info(
        "generation %s: %s retrying in %.1fs", generation.uuid, safe_text(generation, reason), delay
    )
    return _later("submit", delay)


def poll(generation: Generation) -> Next | None:
    """Ask the provider once about an async task; the caller re-schedules the Next poll."""
    if generation.status != Status.RUNNING:
        return None
    if generation.deadline_at and timezone.now() > generation.deadline_at:
        fail(generation, "The provider took too long; the generation was stopped.")
        return None
    model = catalog.get(generation.model_id)
    assert model is not None
    adapter = adapter_for(model.protocol)
    try:
        connection = connection_for(model, generation.team)
    except UnreadableKey as e:
        fail(generation, str(e))  # the provider has the task: it is paid for
        return None
    request = adapter.build_poll(connection, generation.provider_task_id, generation.poll_url)
    interval = poll_interval(generation)
    try:
        with http.client(read_timeout=30.0) as client, leases.renewed(generation):
            answer = adapter.parse_poll(client.send(request))
    except ProviderError as e:
        # Asking again is harmless, and the deadline bounds it: a provider that asks for a long
        # wait is asked again after the usual backoff, not left with its paid work.
        if e.transient or (e.retry_after or 0) > MAX_RETRY_AFTER:
            generation.touch()
            return _later("poll", max(interval, backoff(1, e.retry_after)))
        # A task the provider reports failed cost nothing; an error answer to a poll does not
        # say the task it asks about did no work.
        fail(generation, e.message, refused=e.refused)
        return None
    except httpx.TransportError:
        generation.touch()
        return Next("poll", max(interval, backoff(1)))  # asking again is harmless
    if isinstance(answer, Pending):
        generation.touch()
        return Next("poll", interval)
    return _got_result(generation, Status.RUNNING, answer)


def _got_result(generation: Generation, from_status: str, result: Result) -> Next | None:
    found = {
        "outputs": [o.as_json() for o in result.outputs],
        "provider_meta": result.meta,
        "result_at": timezone.now(),
    }
    small = _small(result.outputs)
    if small and from_status == Status.RUNNING:
        # Polled for: the provider still holds the result, so a poll cut short asks again and
        # nothing is lost if the row does not say "fetching" first. Stored by the task that got
        # it, and the row goes straight to succeeded: one write less.
        _store_all(generation, Status.RUNNING, set(), found)
        return None
    if not generation.advance(from_status, Status.FETCHING, **found):
        return None
    if small:
        # Stored by the task that got them: one trip through the broker less. It has just moved
        # the row to fetching, so nothing of it is stored yet.
        return fetch(generation, stored=set())
    return Next("fetch")


def _small(outputs: list[Output]) -> bool:
    """Outputs cheap enough to store at once: base64 data, or URLs with a declared size, under
    INLINE_FETCH_MAX bytes or pixels in all. Others go to the images queue, so a provider slot
    is not held downloading and decoding big pictures."""
    total = 0
    for output in outputs:
        if output.b64:
            total += len(output.b64) * 3 // 4
        elif output.width and output.height:
            total += output.width * output.height
        else:
            return False
    return total <= settings.INLINE_FETCH_MAX


def fetch(generation: Generation, stored: set[int] | None = None) -> Next | None:
    """Download or decode each output, store it with its thumbnails, and finish.

    `stored`: the indexes of the outputs already stored, when the caller knows (else read).
    """
    if generation.status != Status.FETCHING:
        return None
    if stored is None:
        stored = set(generation.images.values_list("index", flat=True))
    _store_all(generation, Status.FETCHING, stored)
    return None


def _store_all(
    generation: Generation, from_status: str, stored: set[int], found: dict | None = None
) -> None:
    """Store every output not stored yet, then move the row from `from_status` to succeeded,
    with `found` (the provider's answer) when the row does not hold it yet."""
    outputs = found["outputs"] if found else generation.outputs
    try:
        trusted = _trusted_origins(catalog.get(generation.model_id))
        with http.client(read_timeout=30.0) as client, leases.renewed(generation):
            for index, raw in enumerate(outputs):
                if index not in stored:
                    store(generation, index, Output(**raw), client, trusted)
    except images.ImageError as e:
        if found:
            # Keep what the provider answered (it did the work) before failing.
            generation.advance(from_status, Status.FETCHING, **found)
        fail(generation, str(e))
        return
    except httpx.TransportError:
        generation.touch()
        return  # the sweeper tries again later; what was stored is kept
    # The base64 payloads are stored as files now; keep the row small.
    kept = [{k: v for k, v in o.items() if k != "b64"} for o in outputs]
    finished = generation.advance(
        from_status,
        Status.SUCCEEDED,
        **{**(found or {}), "outputs": kept},
        finished_at=timezone.now(),
    )
    if not finished:
        generation.refresh_from_db()
        if generation.status == Status.CANCELLED:
            discard_images(generation)


def _trusted_origins(model: catalog.Model | None) -> set[images.Origin]:
    """Where outputs may come from without the public-address check: exactly the provider's
    own scheme, host and port, and the origins in PROVIDER_DOWNLOAD_HOSTS."""
    urls = list(settings.PROVIDER_DOWNLOAD_HOSTS)
    if model is not None:
        urls.append(connection_for(model).base_url)
    return {images.origin_of(url) for url in urls if url}
