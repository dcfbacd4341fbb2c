"""Thin Celery tasks: take a row id, load the row, call the pipeline, schedule the next step."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from gallery.models import Generation
from jobs import pipeline

Status = Generation.Status


def _load(generation_id: int) -> Generation | None:
    return Generation.objects.filter(pk=generation_id).first()


def _then(step: str, generation_id: int) -> None:
    if step == "poll":
        poll.apply_async((generation_id,), countdown=settings.POLL_INTERVAL)
    elif step == "fetch":
        fetch.delay(generation_id)


@shared_task
def submit(generation_id: int) -> None:
    if generation := _load(generation_id):
        _then(pipeline.submit(generation), generation_id)


@shared_task
def poll(generation_id: int) -> None:
    if generation := _load(generation_id):
        _then(pipeline.poll(generation), generation_id)


@shared_task
def fetch(generation_id: int) -> None:
    if generation := _load(generation_id):
        _then(pipeline.fetch(generation), generation_id)


@shared_task
def sweep() -> None:
    """Wake up what was left behind (a lost message, a restarted worker) and end what is overdue."""
    now = timezone.now()
    overdue = Generation.objects.in_flight().filter(deadline_at__lt=now)
    for generation in overdue:
        generation.mark_failed("The generation took too long and was stopped.")
    stale = Generation.objects.filter(touched_at__lt=now - timedelta(seconds=60))
    for pk in stale.filter(status=Status.QUEUED).values_list("pk", flat=True):
        submit.delay(pk)
    for pk in stale.filter(status=Status.RUNNING).values_list("pk", flat=True):
        poll.delay(pk)
    for pk in stale.filter(status=Status.FETCHING).values_list("pk", flat=True):
        fetch.delay(pk)
