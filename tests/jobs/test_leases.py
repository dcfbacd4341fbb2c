"""Fast takeover: a worker keeps the leases of what it is working on, and the sweeper hands
what a dead worker held to another once its lease is over."""

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from gallery.models import Generation
from jobs import http, leases, pipeline, tasks
from tests.factories import make_generation, png_bytes

Status = Generation.Status
ago = lambda seconds: timezone.now() - timedelta(seconds=seconds)  # noqa: E731
RELAY = {"model_id": "sandbox/relay-async", "poll_url": "/v2/tasks/sandbox:t1"}


@pytest.fixture
def slow_provider(monkeypatch, settings):
    """A provider that takes 1.5 s to answer, with a 1 s lease: without renewal, the claim
    would be over while the request is still waiting. Records the lease it saw meanwhile."""
    settings.CLAIM_LEASE = 1
    state: dict = {"answer": None, "seen": []}

    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(1.5)
        row = Generation.objects.values("lease_until").get(pk=state["pk"])
        state["seen"].append(row["lease_until"] - timezone.now())
        return state["answer"]

    monkeypatch.setattr(
        http,
        "client",
        lambda read_timeout=None: httpx.Client(transport=httpx.MockTransport(handler)),
    )
    return state


def test_a_slow_submit_keeps_its_claim(transactional_db, alice, slow_provider):
    generation = make_generation(alice, model_id="sandbox/relay-async")
    slow_provider["pk"] = generation.pk
    slow_provider["answer"] = httpx.Response(202, json={"task_id": "sandbox:t1"})
    assert pipeline.submit(generation).step == "poll"
    [left] = slow_provider["seen"]
    assert left > timedelta(0)  # still held after more than a lease


def test_a_slow_poll_keeps_its_lease(transactional_db, alice, slow_provider):
    generation = make_generation(
        alice, status=Status.RUNNING, provider_task_id="sandbox:t1", lease_until=ago(0), **RELAY
    )
    slow_provider["pk"] = generation.pk
    slow_provider["answer"] = httpx.Response(200, json={"task_id": "t", "status": "running"})
    assert pipeline.poll(generation).step == "poll"
    [left] = slow_provider["seen"]
    assert left > timedelta(0)


def test_a_slow_download_keeps_its_lease(transactional_db, alice, slow_provider, settings):
    url = f"{settings.SANDBOX_BASE_URL}/files/a"
    generation = make_generation(
        alice, status=Status.FETCHING, lease_until=ago(0), outputs=[{"url": url}]
    )
    slow_provider["pk"] = generation.pk
    slow_provider["answer"] = httpx.Response(
        200, content=png_bytes(), headers={"Content-Type": "image/png"}
    )
    assert pipeline.fetch(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    [left] = slow_provider["seen"]
    assert left > timedelta(0)


def test_renewal_stops_once_another_lease_is_set(transactional_db, alice, settings):
    """A retry's wait, set while a request was out, is the lease from then on."""
    settings.CLAIM_LEASE = 1
    generation = make_generation(alice, status=Status.SUBMITTED, lease_until=ago(-1))
    wait_over = timezone.now() + timedelta(seconds=0.2)
    with leases.renewed(generation):
        Generation.objects.filter(pk=generation.pk).update(lease_until=wait_over)
        time.sleep(1.2)
    generation.refresh_from_db()
    assert generation.lease_until == wait_over


def test_a_scheduled_poll_holds_the_row_until_due_and_half_a_lease(alice, monkeypatch, settings):
    settings.CLAIM_LEASE = 30
    monkeypatch.setattr(tasks.poll, "apply_async", lambda *args, **kwargs: None)
    generation = make_generation(alice, status=Status.RUNNING, provider_task_id="t", **RELAY)
    before = timezone.now()
    tasks._then(pipeline.Next("poll", 5.0), generation.pk)
    generation.refresh_from_db()
    held = (generation.lease_until - before).total_seconds()
    assert 20 <= held <= 21


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[tuple[str, int]] = []
    for name in ("submit", "poll", "fetch"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda pk, name=name: sent.append((name, pk)))
    return sent


def test_the_sweeper_takes_over_what_no_worker_holds_once(alice, enqueued, settings):
    settings.CLAIM_LEASE = 30
    running = dict(status=Status.RUNNING, provider_task_id="t", **RELAY)
    dead_poll = make_generation(alice, lease_until=ago(1), touched_at=ago(5), **running)
    dead_fetch = make_generation(alice, status=Status.FETCHING, lease_until=ago(1))
    dead_queued = make_generation(alice, touched_at=ago(31))
    # Held: a poll under way or due soon, a download, a queued row looked at recently.
    make_generation(alice, lease_until=ago(-5), touched_at=ago(120), **running)
    make_generation(alice, status=Status.FETCHING, lease_until=ago(-5), touched_at=ago(120))
    make_generation(alice, touched_at=ago(29))
    tasks.sweep()
    assert sorted(enqueued) == sorted(
        [("poll", dead_poll.pk), ("fetch", dead_fetch.pk), ("submit", dead_queued.pk)]
    )
    # The messages sent hold the rows a while: the next round does not send them again.
    enqueued.clear()
    tasks.sweep()
    assert enqueued == []
    dead_poll.refresh_from_db()
    assert dead_poll.lease_until > timezone.now() + timedelta(seconds=14)
