"""What a generation that ends without a result costs: the estimate when the provider may have
done the work (it was sent the request and did not refuse it), nothing when it refused it or
never got it. Provider HTTP is faked at the one client seam; the rule is `Usage.settle`'s."""

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from gallery.models import Generation, Price, Usage, personal_team
from jobs import http, inputs, pipeline, tasks
from jobs.sandbox import failures
from jobs.start import start_generation

Status = Generation.Status
D = Decimal
ESTIMATE = D("0.06")  # two images at $0.03, or one Relay image at $0.06


@pytest.fixture
def provider(monkeypatch):
    """Answer provider requests with the handler a test sets; record what was asked."""
    state = {"handler": None, "requests": []}

    def handle(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        return state["handler"](request)

    monkeypatch.setattr(
        http,
        "client",
        lambda read_timeout=None: httpx.Client(transport=httpx.MockTransport(handle)),
    )
    return state


@pytest.fixture(autouse=True)
def priced(db):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.03"))
    Price.objects.create(model_id="sandbox/relay-async", usd_per_image=D("0.06"))


def start(user, model_id="sandbox/flux-sync", **params) -> Generation:
    team = personal_team(user)
    params = params or ({"num_images": 2} if model_id == "sandbox/flux-sync" else {})
    return start_generation(
        owner=user,
        team=team,
        gallery=team.default_gallery(),
        model_id=model_id,
        provider="sandbox",
        prompt="a red fox",
        params=params,
    )


def cost(generation: Generation) -> tuple[str, Decimal]:
    entry = Usage.objects.get(generation=generation)
    assert entry.estimated_usd == ESTIMATE and entry.settled_at is not None
    return entry.outcome, entry.cost_usd


def submit_until_settled(generation: Generation) -> Generation:
    """Submit, and each time a retry is due at once (its wait is over), submit again."""
    step = pipeline.submit(Generation.objects.get(pk=generation.pk))
    while step is not None and step.step == "submit":
        Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
        step = pipeline.submit(Generation.objects.get(pk=generation.pk))
    generation.refresh_from_db()
    return generation


def raises(error: type[httpx.TransportError]):
    def handler(request):
        raise error("cut", request=request)

    return handler


# --- Charged: the provider may have done the work ----------------------------------------------


def test_a_cancel_while_the_request_is_out_keeps_the_estimate_without_a_task_id(alice, provider):
    generation = start(alice)

    def cancelled_meanwhile(request):
        assert Generation.objects.get(pk=generation.pk).sent_at is not None  # marked before
        assert Generation.objects.get(pk=generation.pk).cancel()  # the person, from the web
        return httpx.Response(200, json={"images": [{"url": "http://127.0.0.1/f.png"}]})

    provider["handler"] = cancelled_meanwhile
    assert pipeline.submit(generation) is None
    assert cost(generation) == (Status.CANCELLED, ESTIMATE)
    generation.refresh_from_db()
    assert generation.provider_task_id == "" and generation.status == Status.CANCELLED


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError]
)
def test_a_submit_cut_short_after_sending_keeps_the_estimate(alice, provider, error):
    provider["handler"] = raises(error)
    generation = submit_until_settled(start(alice))
    assert generation.status == Status.FAILED and "not sent again" in generation.error
    assert cost(generation) == (Status.FAILED, ESTIMATE)
    assert len(provider["requests"]) == 1


def test_an_idempotent_submit_that_kept_timing_out_keeps_the_estimate(alice, provider, settings):
    settings.SUBMIT_ATTEMPTS = 2
    provider["handler"] = raises(httpx.ReadTimeout)
    generation = submit_until_settled(start(alice, "sandbox/relay-async", width=64, height=64))
    assert generation.error == "The provider did not answer in time. Gave up after 2 tries."
    assert cost(generation) == (Status.FAILED, ESTIMATE)


def accepted(alice, provider) -> Generation:
    provider["handler"] = lambda r: httpx.Response(
        202, json={"task_id": "sandbox:t1", "status": "queued"}
    )
    generation = start(alice, "sandbox/relay-async", width=64, height=64)
    assert pipeline.submit(generation).step == "poll"
    generation.refresh_from_db()
    assert generation.provider_task_id == "sandbox:t1"
    Generation.objects.filter(pk=generation.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1)
    )
    return Generation.objects.get(pk=generation.pk)


def test_a_deadline_passed_while_the_task_ran_keeps_the_estimate(alice, provider):
    generation = accepted(alice, provider)
    assert pipeline.poll(generation) is None
    assert cost(generation) == (Status.FAILED, ESTIMATE)


def test_the_sweeper_stopping_an_accepted_task_keeps_the_estimate(alice, provider):
    generation = accepted(alice, provider)
    tasks.sweep()
    assert cost(generation) == (Status.FAILED, ESTIMATE)


def test_an_answer_without_images_keeps_the_estimate(alice, provider):
    """A 200 is no refusal: the provider did the work, and filtered or lost the pictures."""
    provider["handler"] = lambda r: httpx.Response(200, json={"images": []})
    generation = submit_until_settled(start(alice))
    assert "without any image" in generation.error
    assert cost(generation) == (Status.FAILED, ESTIMATE)


# --- Free: refused, or never sent --------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 422])
def test_a_request_the_provider_refused_costs_nothing(alice, provider, status):
    provider["handler"] = lambda r: httpx.Response(status, json={"message": "no"})
    generation = submit_until_settled(start(alice))
    assert generation.sent_at is None
    assert cost(generation) == (Status.FAILED, D(0))


def test_a_provider_that_kept_failing_with_500_costs_nothing(alice, provider, settings):
    settings.SUBMIT_ATTEMPTS = 3
    provider["handler"] = lambda r: httpx.Response(500, json={"message": failures.BROKEN})
    generation = submit_until_settled(start(alice))
    assert generation.error == (
        f"The provider failed with an internal error (500). It said: {failures.BROKEN} "
        "Gave up after 3 tries."
    )
    assert cost(generation) == (Status.FAILED, D(0))
    assert len(provider["requests"]) == 3


def test_a_provider_that_could_not_be_reached_costs_nothing(alice, provider, settings):
    settings.SUBMIT_ATTEMPTS = 2
    provider["handler"] = raises(httpx.ConnectError)
    generation = submit_until_settled(start(alice))
    assert generation.error == "Could not reach the provider. Gave up after 2 tries."
    assert cost(generation) == (Status.FAILED, D(0))


def test_a_cancel_while_waiting_to_retry_a_refusal_costs_nothing(alice, provider):
    provider["handler"] = lambda r: httpx.Response(503, json={})
    generation = start(alice)
    assert pipeline.submit(generation).step == "submit"
    generation.refresh_from_db()
    assert generation.sent_at is None  # answered 503: no work was started
    assert generation.cancel()
    assert cost(generation) == (Status.CANCELLED, D(0))


def test_a_task_the_provider_reports_failed_costs_nothing(alice, provider):
    generation = accepted(alice, provider)
    Generation.objects.filter(pk=generation.pk).update(deadline_at=None)
    provider["handler"] = lambda r: httpx.Response(
        200, json={"task_id": "sandbox:t1", "status": "failed", "error_detail": "flagged"}
    )
    assert pipeline.poll(Generation.objects.get(pk=generation.pk)) is None
    assert cost(generation) == (Status.FAILED, D(0))


def test_nothing_is_sent_for_a_generation_cancelled_after_its_claim(alice, provider, monkeypatch):
    generation = start(alice)
    resolve = inputs.request_params

    def cancelled_while_preparing(g):
        Generation.objects.get(pk=g.pk).cancel()
        return resolve(g)

    monkeypatch.setattr(pipeline, "request_params", cancelled_while_preparing)
    provider["handler"] = lambda r: httpx.Response(200, json={"images": []})
    assert pipeline.submit(generation) is None
    assert provider["requests"] == []
    assert cost(generation) == (Status.CANCELLED, D(0))


def test_a_cancel_while_queued_costs_nothing(alice):
    generation = start(alice)
    assert generation.cancel()
    assert cost(generation) == (Status.CANCELLED, D(0))


def sent_then_abandoned(generation: Generation) -> Generation:
    """As a worker killed mid-request leaves it: claimed, marked sent, its claim lapsed."""
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUBMITTED,
        attempts=1,
        sent_at=timezone.now() - timedelta(minutes=4),
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    return Generation.objects.get(pk=generation.pk)


def test_a_synchronous_submit_whose_worker_went_silent_is_not_sent_again(alice, provider):
    """The sweeper handed the lapsed claim to another worker, which sent the request again:
    with no idempotency key, the provider did (and billed) the work twice."""
    provider["handler"] = lambda r: httpx.Response(200, json={"images": []})
    generation = sent_then_abandoned(start(alice))
    assert pipeline.submit(generation) is None  # as the sweeper's wake-up runs it
    generation.refresh_from_db()
    assert provider["requests"] == []
    assert generation.status == Status.FAILED and "was not sent again" in generation.error
    assert cost(generation) == (Status.FAILED, ESTIMATE)  # the first request may have been done


def test_a_relay_submit_whose_worker_went_silent_is_sent_again_with_its_key(alice, provider):
    provider["handler"] = lambda r: httpx.Response(
        202, json={"task_id": "sandbox:t1", "status": "queued"}
    )
    generation = sent_then_abandoned(start(alice, "sandbox/relay-async"))
    assert pipeline.submit(generation).step == "poll"
    [request] = provider["requests"]
    assert request.headers["idempotency-key"] == str(generation.uuid)
