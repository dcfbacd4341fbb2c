"""The thin tasks and the sweeper, with the broker replaced by a list of what was enqueued."""

import pytest
from django.utils import timezone

from gallery.models import Generation
from jobs import tasks
from tests.factories import make_generation

Status = Generation.Status
ago = lambda seconds: timezone.now() - timezone.timedelta(seconds=seconds)  # noqa: E731


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[tuple[str, int]] = []
    for name in ("submit", "poll", "fetch"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda pk, name=name: sent.append((name, pk)))
    return sent


def test_the_sweeper_wakes_what_was_left_behind(alice, enqueued):
    queued = make_generation(alice, touched_at=ago(120))
    lapsed = make_generation(alice, status=Status.SUBMITTED, lease_until=ago(5))
    running = make_generation(
        alice, status=Status.RUNNING, provider_task_id="t", touched_at=ago(300)
    )
    fetching = make_generation(alice, status=Status.FETCHING, touched_at=ago(120))
    make_generation(alice)  # fresh: left alone
    make_generation(
        alice, status=Status.SUBMITTED, lease_until=timezone.now() + timezone.timedelta(minutes=1)
    )
    make_generation(alice, status=Status.SUBMITTED, provider_task_id="t", lease_until=ago(5))
    tasks.sweep()
    assert sorted(enqueued) == sorted(
        [("submit", queued.pk), ("submit", lapsed.pk), ("poll", running.pk), ("fetch", fetching.pk)]
    )


def test_the_sweeper_fails_what_is_past_its_deadline(alice, enqueued):
    late = make_generation(alice, status=Status.RUNNING, deadline_at=ago(1))
    tasks.sweep()
    late.refresh_from_db()
    assert late.status == Status.FAILED and "took too long" in late.error


def test_a_task_for_a_deleted_generation_does_nothing(db, enqueued):
    tasks.submit.run(123456)
    tasks.poll.run(123456)
    tasks.fetch.run(123456)
    assert enqueued == []


def test_a_model_can_have_its_own_deadline(alice, monkeypatch):
    from dataclasses import replace

    from jobs import catalog

    slow = replace(catalog.MODELS["sandbox/relay-async"], deadline=900)
    monkeypatch.setitem(catalog.MODELS, slow.id, slow)
    generation = make_generation(alice, model_id=slow.id)
    assert (generation.deadline_at - generation.created_at).total_seconds() == 900
