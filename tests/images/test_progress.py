"""An in-flight card's figures: seconds so far, and the model's learned time to measure them by."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Generation
from gallery.templatetags.progress import duration, progress
from jobs import timing
from tests.factories import make_generation

Status = Generation.Status


@pytest.fixture(autouse=True)
def nothing_learned_yet():
    timing.forget()
    yield
    timing.forget()


def test_a_model_with_no_finished_generation_has_no_estimate(alice):
    generation = make_generation(alice, status=Status.QUEUED)
    figures = progress(generation)
    assert figures["expected"] is None and figures["value"] is None
    assert 0 <= figures["elapsed"] <= 2


def test_the_estimate_is_the_queue_time_plus_the_models_learned_time(alice, settings):
    settings.POLL_INTERVAL = 1.0
    now = timezone.now()
    for n in range(3):
        start = now - timedelta(hours=n + 1)
        make_generation(
            alice,
            status=Status.SUCCEEDED,
            submitted_at=start,
            result_at=start + timedelta(seconds=20.5),
        )
    generation = make_generation(alice, status=Status.RUNNING)
    generation.created_at = now - timedelta(seconds=10)
    generation.submitted_at = now - timedelta(seconds=7)
    generation.save(update_fields=["created_at", "submitted_at"])
    figures = progress(generation)
    assert figures["expected"] == 23  # 3 s queued, then 20 s (20.5 less half a poll)
    assert figures["elapsed"] == 10 and figures["value"] == 10


def test_the_bar_stops_short_of_full_while_the_picture_is_late(alice):
    now = timezone.now()
    start = now - timedelta(hours=1)
    make_generation(alice, status=Status.SUCCEEDED, submitted_at=start, result_at=start)
    generation = make_generation(alice, status=Status.RUNNING, submitted_at=now)
    generation.created_at = now - timedelta(seconds=100)
    generation.save(update_fields=["created_at"])
    figures = progress(generation)
    assert figures["value"] < figures["expected"]


@pytest.mark.parametrize(
    "seconds, said", [(None, ""), (0, "0 s"), (59.9, "59 s"), (60, "1 min 0 s"), (185, "3 min 5 s")]
)
def test_durations_read_as_app_js_writes_them(seconds, said):
    assert duration(seconds) == said
