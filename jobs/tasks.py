"""Thin Celery tasks: take a row id, load the row, call the pipeline, schedule the next step.

Late acknowledgement (settings) means a task whose worker died is delivered again; every
pipeline step is safe to run twice.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from gallery.models import Generation, UsageDay
from jobs import pipeline
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
    """Wake up what was left behind (a lost message, a dead worker) and end what is overdue."""
    now = timezone.now()
    for generation in Generation.objects.in_flight().filter(deadline_at__lt=now):
        with logs.about(generation.uuid):
            generation.mark_failed("The generation took too long and was stopped.")
    stale = now - timedelta(seconds=60)
    queued = Q(status=Status.QUEUED, touched_at__lt=stale)
    # A claim that lapsed before the provider gave a task id, or a retry whose wait is over.
    lapsed = Q(status=Status.SUBMITTED, provider_task_id="", lease_until__lt=now)
    for pk in Generation.objects.filter(queued | lapsed).values_list("pk", flat=True):
        submit.delay(pk)
    # Polls and downloads re-check their state, so a spare wake-up is harmless.
    overdue = max(60.0, settings.POLL_INTERVAL * 10)
    running = Generation.objects.filter(
        status=Status.RUNNING, touched_at__lt=now - timedelta(seconds=overdue)
    )
    for pk in running.values_list("pk", flat=True):
        poll.delay(pk)
    fetching = Generation.objects.filter(status=Status.FETCHING, touched_at__lt=stale)
    for pk in fetching.values_list("pk", flat=True):
        fetch.delay(pk)
    pipeline.purge_deleted(now - timedelta(hours=1))


@shared_task
def purge_uploads() -> None:
    """Remove uploads no generation can send any more, and stored files no upload names."""
    now = timezone.now()
    pipeline.purge_unused_uploads(now)
    pipeline.purge_orphan_inputs(now - timedelta(days=1))


@shared_task
def rollup_usage(days: int = 2) -> None:
    """Rebuild the usage dashboard's roll-ups of the last whole days (settled late ones too)."""
    UsageDay.objects.rebuild_recent(days)
