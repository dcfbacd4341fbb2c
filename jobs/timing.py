"""How long to wait before asking a provider again, learned from the model's finished
generations: the first poll waits about as long as most of them took."""

import statistics
import time

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from gallery.models import Generation

Status = Generation.Status


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
    ready = _median([t for row in rows if (t := _ready_seconds(*row)) is not None])
    _expected[model_id] = (now + (60.0 if ready is not None else 1.0), ready)
    return ready


def typical_times(model_ids: list[str]) -> dict[str, float]:
    """`ready_after` for many models at once, as the model picker shows it, from the same
    per-process memory: the models it does not hold are learned in one query. A model with
    nothing to learn from is asked about again after a minute here (`ready_after` asks again
    after a second, for the pipeline): a page must not query for ninety unused models each time.
    """
    now = time.monotonic()
    cached = {m: _expected[m] for m in model_ids if m in _expected and _expected[m][0] > now}
    missing = [m for m in model_ids if m not in cached and _unknown_until.get(m, 0.0) <= now]
    learned = _learn(missing) if missing else {}
    for model_id in missing:
        ready = learned.get(model_id)
        _expected[model_id] = (now + (60.0 if ready is not None else 1.0), ready)
        if ready is None:
            _unknown_until[model_id] = now + 60.0
    found = {m: ready for m, (_, ready) in cached.items() if ready is not None}
    return found | learned


_unknown_until: dict[str, float] = {}


def forget() -> None:
    """Drop everything learned in this process (tests start from nothing)."""
    _expected.clear()
    _unknown_until.clear()


def _learn(model_ids: list[str]) -> dict[str, float]:
    """Each model's latest EXPECTED_SAMPLE successes, numbered per model by a window function."""
    latest = Window(RowNumber(), partition_by=[F("model_id")], order_by=F("created_at").desc())
    rows = (
        Generation.objects.filter(
            status=Status.SUCCEEDED, model_id__in=model_ids, submitted_at__isnull=False
        )
        .annotate(latest=latest)
        .filter(latest__lte=EXPECTED_SAMPLE)
        .values_list("model_id", "submitted_at", "result_at", "finished_at", "provider_meta")
    )
    times: dict[str, list[float]] = {}
    for model_id, *row in rows:
        if (seconds := _ready_seconds(*row)) is not None:
            times.setdefault(model_id, []).append(seconds)
    return {model_id: statistics.median(found) for model_id, found in times.items()}


def _ready_seconds(start, result, end, meta) -> float | None:
    """When one success was ready: the provider's own figure, or when our poll saw it."""
    timings = (meta or {}).get("timings")
    reported = timings.get("elapsed_seconds") if isinstance(timings, dict) else None
    if isinstance(reported, int | float) and reported >= 0:
        return reported + READY_MARGIN
    if start and (seen := result or end):  # rows from before result_at was kept: done
        return (seen - start).total_seconds() - settings.POLL_INTERVAL / 2
    return None


def _median(times: list[float]) -> float | None:
    return statistics.median(times) if times else None
