"""Transient provider errors are retried as the official SDKs retry them: 408, 409, 429, every
5xx and connection errors, with exponential backoff and jitter, honouring Retry-After, a bounded
number of times. Provider HTTP is faked at the one client seam."""

import httpx
import pytest
from django.utils import timezone

from gallery.models import Generation
from jobs import http, pipeline
from tests.factories import make_generation, png_bytes

Status = Generation.Status


@pytest.fixture
def provider(monkeypatch):
    """Answer with the statuses a test lists, in turn, then with a picture; record requests."""
    state = {"answers": [], "requests": []}

    def handle(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        if state["answers"]:
            return state["answers"].pop(0)
        if request.url.path.endswith("/generations"):
            return httpx.Response(200, json={"images": [{"url": "http://127.0.0.1:8000/f.png"}]})
        return httpx.Response(200, content=png_bytes(), headers={"content-type": "image/png"})

    monkeypatch.setattr(
        http,
        "client",
        lambda read_timeout=None: httpx.Client(transport=httpx.MockTransport(handle)),
    )
    return state


def submit_until_settled(generation: Generation) -> tuple[Generation, list[float]]:
    """Submit, and each time a retry is scheduled, submit again at once; the waits asked for."""
    waits: list[float] = []
    step = pipeline.submit(Generation.objects.get(pk=generation.pk))
    while step is not None:
        if step.step == "submit":
            waits.append(step.delay)
            Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
            step = pipeline.submit(Generation.objects.get(pk=generation.pk))
        else:
            step = getattr(pipeline, step.step)(Generation.objects.get(pk=generation.pk))
    generation.refresh_from_db()
    return generation, waits


def test_a_provider_that_fails_with_500_three_times_then_answers_gives_the_image(alice, provider):
    provider["answers"] = [httpx.Response(500, json={"message": "oops"}) for _ in range(3)]
    generation, waits = submit_until_settled(make_generation(alice))
    assert generation.status == Status.SUCCEEDED, generation.error
    assert generation.attempts == 4 and generation.images.count() == 1
    assert len(waits) == 3


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_it_retries_what_the_sdks_retry(alice, provider, status):
    provider["answers"] = [httpx.Response(status, json={})]
    generation, waits = submit_until_settled(make_generation(alice))
    assert generation.status == Status.SUCCEEDED and generation.attempts == 2
    assert len(waits) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_it_does_not_retry_other_refusals(alice, provider, status):
    provider["answers"] = [httpx.Response(status, json={"message": "no"})]
    generation, waits = submit_until_settled(make_generation(alice))
    assert generation.status == Status.FAILED and waits == []
    assert len(provider["requests"]) == 1


def test_it_gives_up_after_the_last_attempt_and_says_what_happened(alice, provider, settings):
    settings.SUBMIT_ATTEMPTS = 4
    provider["answers"] = [httpx.Response(500, json={"message": "GPU fell over"})] * 9
    generation, waits = submit_until_settled(make_generation(alice))
    assert generation.status == Status.FAILED
    assert generation.error == (
        "The provider failed with an internal error (500). It said: GPU fell over. "
        "Gave up after 4 tries."
    )
    assert len(provider["requests"]) == 4 and len(waits) == 3


def test_the_waits_double_with_jitter(settings):
    settings.RETRY_INITIAL_DELAY = 0.5
    for attempt in range(1, 10):
        full = min(0.5 * 2 ** (attempt - 1), pipeline.MAX_RETRY_DELAY)
        waits = [pipeline.backoff(attempt) for _ in range(200)]
        assert all(0.75 * full <= wait <= full for wait in waits), attempt
        assert len(set(waits)) > 1  # jittered, so retries of many generations spread out


def test_it_waits_as_long_as_retry_after_ms_says(alice, provider):
    provider["answers"] = [httpx.Response(429, headers={"retry-after-ms": "2500"})]
    step = pipeline.submit(make_generation(alice))
    assert step.step == "submit" and 2.5 <= step.delay <= 3.5


def test_polls_retry_the_same_errors(alice, provider):
    generation = make_generation(
        alice, model_id="sandbox/relay-async", status=Status.RUNNING, provider_task_id="t1"
    )
    for status in (500, 408, 409, 429, 503):
        provider["answers"] = [httpx.Response(status, json={"message": "busy"})]
        step = pipeline.poll(Generation.objects.get(pk=generation.pk))
        assert step is not None and step.step == "poll", status
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING and generation.error == ""
    provider["answers"] = [httpx.Response(404, json={"message": "No such task."})]
    assert pipeline.poll(Generation.objects.get(pk=generation.pk)) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and "No such task." in generation.error


def test_a_retried_submit_is_never_sent_again_once_a_task_id_is_stored(alice, provider):
    provider["answers"] = [
        httpx.Response(500, json={}),
        httpx.Response(202, json={"task_id": "sandbox:t1", "status": "queued"}),
    ]
    generation = make_generation(alice, model_id="sandbox/relay-async", params={})
    assert pipeline.submit(generation).step == "submit"
    Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
    assert pipeline.submit(Generation.objects.get(pk=generation.pk)).step == "poll"
    # The sweeper's claim condition no longer holds, whatever the lease says.
    Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
    assert pipeline.submit(Generation.objects.get(pk=generation.pk)) is None
    submits = [r for r in provider["requests"] if r.method == "POST"]
    assert len(submits) == 2
    assert {r.headers["idempotency-key"] for r in submits} == {str(generation.uuid)}


def test_a_retry_after_of_up_to_two_minutes_is_obeyed(alice, provider):
    """openai-python honours a server's wait up to MAX_RETRY_AFTER_DELAY (two minutes)."""
    provider["answers"] = [httpx.Response(429, headers={"retry-after": "90"})]
    generation = make_generation(alice)
    assert pipeline.submit(generation) is None  # too long for a countdown: the lease holds it
    generation.refresh_from_db()
    waited = (generation.lease_until - timezone.now()).total_seconds()
    assert generation.status == Status.SUBMITTED and 88 <= waited <= 91


@pytest.mark.parametrize("header", [{"retry-after": "3600"}, {"retry-after-ms": "1e400"}])
def test_a_provider_asking_for_a_longer_wait_is_not_retried(alice, provider, header):
    """An hour's Retry-After held the generation an hour (past its deadline); the SDK does not
    retry a request whose server asks for more than two minutes."""
    provider["answers"] = [httpx.Response(429, headers=header)] * 3
    generation = make_generation(alice)
    assert pipeline.submit(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and generation.sent_at is None  # costs nothing
    assert "asked to wait" in generation.error and len(provider["requests"]) == 1


def test_backoff_ignores_a_wait_longer_than_the_sdk_obeys(settings):
    settings.RETRY_INITIAL_DELAY = 1.0
    assert pipeline.backoff(1, 3600.0) <= 1.0
    assert 120.0 <= pipeline.backoff(1, 120.0) <= 121.0


def test_a_poll_told_to_wait_long_asks_again_later(alice, provider):
    """A running task is paid for: a poll refused with a long wait does not end it."""
    generation = make_generation(
        alice, model_id="sandbox/relay-async", status=Status.RUNNING, provider_task_id="t1"
    )
    provider["answers"] = [httpx.Response(429, headers={"retry-after": "3600"})]
    step = pipeline.poll(Generation.objects.get(pk=generation.pk))
    assert step is not None and step.step == "poll" and step.delay <= pipeline.MAX_RETRY_DELAY
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING
