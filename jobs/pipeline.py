"""The path of one generation, as plain functions over a Generation row.

Each step claims its row by compare-and-set, holds no transaction across network I/O, and
returns the `Next` step to schedule (or None). Waits longer than a short countdown live in the
row (`lease_until`), where the sweeper finds them, never in the broker.
"""

import logging
import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import batched
from typing import Any
from uuid import UUID

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from gallery.models import Generation, Image, InputImage, Team, UnreadableKey
from jobs import catalog, http, images, leases
from jobs.links import public_link
from jobs.providers import (
    MAX_RETRY_AFTER,
    Connection,
    InputFile,
    Output,
    Pending,
    ProviderError,
    Result,
    Submitted,
    scrub,
)
from jobs.providers.adapters import adapter_for
from jobs.sandbox import auth as sandbox_auth

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


def connection_for(model: catalog.Model, team: Team | None = None) -> Connection:
    """Where to send a model's requests, with the team's own key when it has one.

    Keys are read here, in the worker, from settings or the database: never from task
    arguments, so they never travel through the broker.
    """
    if model.provider == "sandbox":
        return Connection(settings.SANDBOX_BASE_URL, sandbox_auth.key())
    if model.provider == "aimlapi":
        key = team_key(team, "aimlapi") or settings.AIMLAPI_API_KEY
        return Connection(settings.AIMLAPI_BASE_URL, key)
    if model.provider == "relay":
        return Connection(
            settings.RELAY_BASE_URL, team_key(team, "relay") or settings.RELAY_API_KEY
        )
    return Connection(settings.A1111_BASE_URL)


def team_key(team: Team | None, provider: str) -> str:
    """The team's own key for a provider ("" if none); UnreadableKey if it cannot be read."""
    return team.provider_key(provider) if team is not None else ""


def known_keys(team: Team | None) -> list[str]:
    """Every key the worker may have sent for this team's generations: the site's, the team's
    own (decrypted here as for a request), the sandbox's."""
    keys = [settings.AIMLAPI_API_KEY, settings.RELAY_API_KEY, sandbox_auth.key()]
    for provider in ("aimlapi", "relay"):
        try:
            keys.append(team_key(team, provider))
        except UnreadableKey:
            continue  # a key that cannot be decrypted was never sent
    return keys


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


def request_params(generation: Generation) -> dict:
    """The provider's parameters, with image references turned into the pictures themselves.

    A reference is resolved only where the model takes a picture, and only to a picture of the
    generation's own team or an upload of its own owner; anything else raises ImageError, so
    nothing is sent.
    """
    model = catalog.get(generation.model_id)
    kinds = {p.name: p.type for p in model.image_params} if model else {}
    params: dict[str, Any] = {}
    for name, value in generation.params.items():
        if name in kinds:
            params[name] = _pictures(generation, kinds[name], value)
        elif catalog.holds_picture_reference(value):
            raise images.ImageError(MISPLACED_PICTURE.format(name=name))
        else:
            params[name] = value
    # Upscalers and some relight models take no prompt, or only an optional one.
    if model is None or (model.prompt and (generation.prompt or model.prompt.required)):
        params = {"prompt": generation.prompt, **params}
    return params


INPUT_GONE = "A picture this generation starts from was deleted or hidden, so it was not sent."
INPUT_NOT_ALLOWED = (
    "A picture this generation starts from is neither in this team's galleries nor one of its "
    "author's uploads, so nothing was sent."
)
MISPLACED_PICTURE = (
    "The parameter {name} names a picture, which only a picture field may do, so nothing was sent."
)


def _pictures(generation: Generation, kind: str, value) -> InputFile | list[InputFile]:
    """One picture parameter: a reference ("image"), or a list of them ("images")."""
    if kind == "image" and catalog.is_picture_reference(value):
        return input_file(generation, value)
    listed = isinstance(value, list) and all(catalog.is_picture_reference(v) for v in value)
    if kind == "images" and listed:
        return [input_file(generation, v) for v in value]
    raise images.ImageError(INPUT_NOT_ALLOWED)


def input_file(generation: Generation, reference: dict[str, str]) -> InputFile:
    """The picture a reference names, if the generation may use it."""
    [(kind, named)] = reference.items()
    uuid = _uuid(named)
    if kind == "upload":
        # Uploads are private to whoever made them: only the generation owner's are sent.
        item = generation.owner.input_images.filter(uuid=uuid).first()
        if item is None:
            raise images.ImageError(INPUT_NOT_ALLOWED)
        stored, content_type, filename = item.file, item.content_type, item.filename
    else:
        image = generation.team.images.filter(uuid=uuid).first()
        if image is None:
            raise images.ImageError(INPUT_NOT_ALLOWED)
        # Not one deleted or hidden by an admin since (a retry re-sends the old parameters).
        if image.deleted_at is not None or image.hidden_at is not None:
            raise images.ImageError(INPUT_GONE)
        stored, content_type = image.original, image.content_type
        filename = (stored.name or "").rsplit("/", 1)[-1]
    with stored.open("rb") as f:
        data = f.read()
    return InputFile(content_type, data, filename or "image.png", public_link(kind, uuid))


def _uuid(value) -> str:
    try:
        return str(UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise images.ImageError(INPUT_NOT_ALLOWED) from None


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


def poll_interval(generation: Generation) -> float:
    """When to ask next: when this model's recent results were ready, then briskly, less often
    the later it gets (at most every 5 s). Without history: briskly at first, less often for
    long tasks.

    Each poll is a task, and tasks are what a worker spends its time on: aiming at the
    expected time makes a typical generation cost one poll instead of six.
    """
    started = generation.submitted_at or generation.created_at
    waited = (timezone.now() - started).total_seconds()
    ready = ready_after(generation.model_id) or 0.0
    early = ready - waited
    if early > settings.POLL_INTERVAL:
        # Well under the countdown limit: the sweeper wakes rows untouched for a minute.
        return min(early, settings.MAX_COUNTDOWN / 2)
    return min(5.0, max(settings.POLL_INTERVAL, (waited - ready) / 2))


EXPECTED_SAMPLE = 20
# After the provider's own figure for a task (`elapsed_seconds`), so the first poll finds it done.
READY_MARGIN = 0.25
_expected: dict[str, tuple[float, float | None]] = {}


def ready_after(model_id: str) -> float | None:
    """Seconds after submission that the model's latest successes were ready; None before any.

    The provider's own elapsed time when it reports one (Relay does). Otherwise, the time until
    our poll saw the result, less half a poll interval: that includes how late the result was
    noticed, and aiming at it would let the figure creep up with every generation. Kept a minute
    in this process, a second while there is nothing to learn from yet.
    """
    now = time.monotonic()
    cached = _expected.get(model_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    rows = (
        Generation.objects.filter(
            status=Status.SUCCEEDED, model_id=model_id, submitted_at__isnull=False
        )
        .order_by("-created_at")
        .values_list("submitted_at", "result_at", "finished_at", "provider_meta")[:EXPECTED_SAMPLE]
    )
    times = []
    for start, result, end, meta in rows:
        timings = (meta or {}).get("timings")
        reported = timings.get("elapsed_seconds") if isinstance(timings, dict) else None
        if isinstance(reported, int | float) and reported >= 0:
            times.append(reported + READY_MARGIN)
        elif start and (seen := result or end):  # rows from before result_at was kept: done
            times.append((seen - start).total_seconds() - settings.POLL_INTERVAL / 2)
    ready = statistics.median(times) if times else None
    _expected[model_id] = (now + (60.0 if ready is not None else 1.0), ready)
    return ready


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
                    _store(generation, index, Output(**raw), client, trusted)
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


def purge_deleted(before) -> int:
    """Remove images deleted before `before` (their Undo window long over) and unshared files.

    An image an admin has hidden is kept for review, deleted or not.
    """
    purged = 0
    for image in Image.objects.filter(deleted_at__lt=before, hidden_at__isnull=True)[:500]:
        shared = Image.objects.filter(original=image.original.name).exclude(pk=image.pk).exists()
        if not shared:
            for stored in (image.original, image.thumbnail, image.thumbnail_small):
                if stored:
                    stored.delete(save=False)
        image.delete()
        purged += 1
    return purged


# How long a failed or cancelled generation keeps its uploads for Retry to send again.
UPLOADS_KEPT_FOR_RETRY = timedelta(days=7)


def purge_unused_uploads(now: datetime) -> int:
    """Remove uploads a day old or more that no generation can send any more.

    A generation in flight sends its uploads, and a failed or cancelled one sends them again
    when retried within UPLOADS_KEPT_FOR_RETRY; nothing reads them after that ("Use these
    settings" does not carry uploads). A file another row shares (someone else's retry) stays
    until that row goes too.
    """
    old = InputImage.objects.filter(created_at__lt=now - timedelta(days=1)).order_by("pk")
    removed, last = 0, 0
    # A page at a time after the last one seen: rows are deleted on the way.
    while batch := list(old.filter(pk__gt=last)[:500]):
        last = batch[-1].pk
        wanted = _uploads_still_wanted(batch, now)
        for item in batch:
            if str(item.uuid) in wanted:
                continue
            if not InputImage.objects.filter(file=item.file.name).exclude(pk=item.pk).exists():
                item.file.delete(save=False)
            item.delete()
            removed += 1
    return removed


def _uploads_still_wanted(batch: list[InputImage], now: datetime) -> set[str]:
    """The uuids of these uploads that a generation may still send (their owners' only)."""
    may_send = Generation.objects.filter(
        Q(status__in=Generation.IN_FLIGHT)
        | Q(
            status__in=(Status.FAILED, Status.CANCELLED),
            finished_at__gte=now - UPLOADS_KEPT_FOR_RETRY,
        ),
        owner__in={item.owner_id for item in batch},
        created_at__gte=min(item.created_at for item in batch),
    )
    wanted = set()
    for params in may_send.values_list("params", flat=True):
        for value in params.values():
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, dict) and "upload" in ref:
                    wanted.add(str(ref["upload"]))
    return wanted


def purge_orphan_inputs(before: datetime) -> int:
    """Remove stored input files that no upload names, last written before `before`: left by a
    process that died between storing a file and committing its row."""
    try:
        _folders, names = default_storage.listdir("inputs")
    except FileNotFoundError:
        return 0
    removed = 0
    for batch in batched((f"inputs/{name}" for name in names), 500):
        named = set(InputImage.objects.filter(file__in=batch).values_list("file", flat=True))
        for path in batch:
            if path not in named and default_storage.get_modified_time(path) < before:
                default_storage.delete(path)
                removed += 1
    return removed


def discard_images(generation: Generation) -> None:
    """Results that arrived after a cancel: remove them and their files."""
    for image in generation.images.all():
        for stored in (image.original, image.thumbnail, image.thumbnail_small):
            if stored:
                stored.delete(save=False)
        image.delete()


def _trusted_origins(model: catalog.Model | None) -> set[images.Origin]:
    """Where outputs may come from without the public-address check: exactly the provider's
    own scheme, host and port, and the origins in PROVIDER_DOWNLOAD_HOSTS."""
    urls = list(settings.PROVIDER_DOWNLOAD_HOSTS)
    if model is not None:
        urls.append(connection_for(model).base_url)
    return {images.origin_of(url) for url in urls if url}


def _store(
    generation: Generation,
    index: int,
    output: Output,
    client: httpx.Client,
    trusted: set[images.Origin],
) -> None:
    max_bytes = settings.DOWNLOAD_MAX_BYTES
    if output.b64:
        data = images.decode_base64(output.b64, max_bytes)
    elif output.url:
        data = images.download(
            client,
            output.url,
            max_bytes=max_bytes,
            trusted=trusted,
            deadline=settings.DOWNLOAD_DEADLINE,
        )
    else:
        raise images.ImageError("The provider's answer listed an image without any data.")
    try:
        decoded = images.process(data, settings.THUMBNAIL_SIZES)
    except images.UnreadableImage:
        # Failed with a plain message; the decoder's own error is kept here for whoever looks.
        log.exception("generation %s: output %s could not be decoded", generation.uuid, index)
        raise
    large, small = (decoded.thumbnails[size] for size in settings.THUMBNAIL_SIZES)
    image = Image(
        generation=generation,
        gallery=generation.gallery or generation.team.default_gallery(),
        index=index,
        width=decoded.width,
        height=decoded.height,
        thumb_width=large.width,
        thumb_height=large.height,
        content_type=decoded.content_type,
        byte_size=len(data),
        sha256=decoded.sha256,
        seed=output.seed if output.seed is not None else generation.params.get("seed"),
    )
    ext = images.CONTENT_TYPES_EXT[decoded.content_type]
    base = f"{generation.uuid}/{index}"
    image.original.name = _save(f"originals/{base}.{ext}", data)
    image.thumbnail.name = _save(f"thumbnails/{base}.webp", large.data)
    image.thumbnail_small.name = _save(f"thumbnails/{base}-256.webp", small.data)
    try:
        image.save()
    except IntegrityError:
        log.info("image %s#%s was stored by another worker", generation.uuid, index)


def _save(name: str, data: bytes) -> str:
    """Save under a deterministic name; keep a complete earlier copy, replace a partial one.

    A duplicate delivery finds the file its twin wrote and leaves it alone; an attempt cut off
    mid-write left a shorter file, which is replaced.
    """
    if default_storage.exists(name):
        if default_storage.size(name) == len(data):
            return name
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))
