"""Starting a generation: the row, its ledger entry and the submit task, in that order."""

import pytest

from gallery.models import Budget, Generation, OverBudget, Usage, personal_team
from jobs import tasks
from jobs.start import start_generation


def fields(user) -> dict:
    team = personal_team(user)
    return {
        "owner": user,
        "team": team,
        "gallery": team.default_gallery(),
        "model_id": "sandbox/flux-sync",
        "provider": "sandbox",
        "prompt": "a lighthouse",
        "params": {"num_images": 2},
    }


def test_it_enqueues_submit_only_once_the_transaction_commits(
    alice, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.submit, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        generation = start_generation(**fields(alice))
        assert sent == []  # not before the commit: the worker could find no row
    assert len(callbacks) == 2  # the submit, and the news for the team's tabs (webapp/live.py)
    for callback in callbacks:
        callback()
    assert sent == [generation.pk]


def test_it_opens_the_ledger_row_with_the_generation(alice, monkeypatch):
    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    generation = start_generation(**fields(alice))
    entry = Usage.objects.get(generation=generation)
    assert entry.images == 2 and entry.user == alice and entry.settled_at is None


def test_it_saves_nothing_and_enqueues_nothing_over_a_limit(
    alice, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.submit, "delay", sent.append)
    Budget.objects.create(user=alice, images_per_day=1)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(OverBudget):
        start_generation(**fields(alice))
    assert sent == []
    assert not Generation.objects.exists() and not Usage.objects.exists()
