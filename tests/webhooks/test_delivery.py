"""Deliveries over real HTTP to a loopback receiver that verifies them with `standardwebhooks`."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Attempt, Budget, Delivery, Event, Generation
from jobs import tasks
from jobs import webhooks as sending
from jobs.start import start_generation
from tests.factories import make_generation, make_image
from webapp import counters

pytestmark = pytest.mark.django_db


def finish(generation: Generation, django_capture_on_commit_callbacks) -> Delivery:
    """End a generation with a picture, as the pipeline does; its delivery, not yet sent."""
    make_image(generation)
    with django_capture_on_commit_callbacks(execute=False):
        assert generation.advance(Generation.Status.FETCHING, Generation.Status.SUCCEEDED)
    return Delivery.objects.select_related("event", "endpoint").get()


def again(found: Delivery) -> Delivery:
    """The row as the next task run loads it, its wait over."""
    Delivery.objects.filter(pk=found.pk).update(next_attempt_at=timezone.now())
    return Delivery.objects.select_related("event", "endpoint").get(pk=found.pk)


@pytest.fixture
def fetching(alice, studio):
    return make_generation(alice, team=studio, status=Generation.Status.FETCHING)


def test_it_delivers_a_signed_generation_succeeded(
    hook, receiver, fetching, settings, client, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = "http://testserver"
    found = finish(fetching, django_capture_on_commit_callbacks)
    assert sending.deliver(found) is None
    found.refresh_from_db()
    assert found.status == Delivery.Status.SUCCEEDED and found.delivered_at is not None
    assert receiver.unverified == 0
    [event] = receiver.events
    assert event["type"] == "generation.succeeded"
    assert event["data"]["generation"] == str(fetching.uuid)
    [picture] = event["data"]["images"]
    image = fetching.images.get()
    assert (picture["id"], picture["width"], picture["height"]) == (str(image.uuid), 64, 48)
    # The signed link serves the picture to whoever holds it, without logging in.
    response = client.get(picture["url"].removeprefix("http://testserver"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image.original.open("rb").read()
    assert receiver.requests[0]["webhook-id"] == found.event.msg_id


def test_each_delivery_is_enqueued_only_once_the_transaction_commits(
    hook, fetching, monkeypatch, django_capture_on_commit_callbacks
):
    # gallery sends `deliveries_recorded` on commit; jobs' receiver (JobsConfig.ready) enqueues.
    sent: list[int] = []
    monkeypatch.setattr(tasks.deliver_webhook, "delay", sent.append)
    make_image(fetching)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert fetching.advance(Generation.Status.FETCHING, Generation.Status.SUCCEEDED)
    assert sent == []  # not before the commit: the worker could find no row
    for callback in callbacks:
        callback()
    assert sent == [Delivery.objects.get().pk]


def test_it_retries_a_receiver_that_fails_twice_and_then_sends_no_more(
    hook, receiver, fetching, settings, django_capture_on_commit_callbacks
):
    receiver.fail_first = 2
    before = counters.read(counters.WEBHOOK_REFUSALS)
    found = finish(fetching, django_capture_on_commit_callbacks)
    assert sending.deliver(found) == pytest.approx(settings.WEBHOOK_RETRY_DELAYS[0], rel=0.11)
    # Not due yet: the retry waits its turn.
    assert sending.deliver(Delivery.objects.get(pk=found.pk)) is None
    assert len(receiver.requests) == 1
    assert sending.deliver(again(found)) is not None
    assert sending.deliver(again(found)) is None
    found.refresh_from_db()
    assert found.status == Delivery.Status.SUCCEEDED and found.attempts == 3
    log = list(found.log.order_by("number").values_list("number", "status_code"))
    assert log == [(1, 500), (2, 500), (3, 200)]
    assert counters.read(counters.WEBHOOK_REFUSALS) == before + 2
    # A task run twice, or a sweep, after the 2xx sends nothing.
    assert sending.deliver(again(found)) is None
    assert len(receiver.requests) == 3
    assert receiver.accepted == {found.event.msg_id: 1}
    # Every try of one event carries the same webhook-id.
    assert {r["webhook-id"] for r in receiver.requests} == {found.event.msg_id}


def test_it_gives_up_after_the_last_retry(
    hook, receiver, fetching, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_DELAYS = [1.0, 1.0]
    receiver.fail_first = 10
    found = finish(fetching, django_capture_on_commit_callbacks)
    for _ in range(3):
        sending.deliver(again(found))
    found.refresh_from_db()
    assert found.status == Delivery.Status.FAILED and found.attempts == 3
    assert sending.deliver(again(found)) is None
    assert len(receiver.requests) == 3


def test_a_lapsed_claim_is_taken_again_and_a_live_one_is_not(
    hook, receiver, fetching, django_capture_on_commit_callbacks
):
    found = finish(fetching, django_capture_on_commit_callbacks)
    later = timezone.now() + timedelta(seconds=60)
    Delivery.objects.filter(pk=found.pk).update(
        status=Delivery.Status.SENDING, attempts=1, claimed_until=later
    )
    assert sending.deliver(Delivery.objects.get(pk=found.pk)) is None
    assert receiver.requests == []
    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(pk=found.pk).update(claimed_until=past)
    sending.deliver(Delivery.objects.select_related("event", "endpoint").get(pk=found.pk))
    assert len(receiver.requests) == 1
    assert Delivery.objects.get(pk=found.pk).status == Delivery.Status.SUCCEEDED


def test_it_refuses_a_private_address_not_allowed(
    hook, receiver, fetching, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    found = finish(fetching, django_capture_on_commit_callbacks)
    sending.deliver(found)
    assert receiver.requests == []
    attempt = Attempt.objects.get()
    assert attempt.status_code is None
    assert "webhook address points to a private network (127.0.0.1)" in attempt.excerpt


def test_it_tells_a_failure_with_its_reason_and_a_cancel_not_at_all(
    hook, receiver, alice, studio, django_capture_on_commit_callbacks
):
    failed = make_generation(alice, team=studio, status=Generation.Status.RUNNING)
    cancelled = make_generation(alice, team=studio, status=Generation.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=False):
        failed.mark_failed("The provider said no.")
        cancelled.cancel()
    [found] = Delivery.objects.select_related("event", "endpoint")
    sending.deliver(found)
    [event] = receiver.events
    assert event["type"] == "generation.failed"
    assert event["data"]["reason"] == "The provider said no."
    assert event["data"]["generation"] == str(failed.uuid)


def test_a_team_without_endpoints_records_nothing(
    alice, studio, django_capture_on_commit_callbacks
):
    generation = make_generation(alice, team=studio, status=Generation.Status.RUNNING)
    generation.mark_failed("no")
    assert not Event.objects.exists()


def test_an_inactive_or_unsubscribed_endpoint_gets_nothing(hook, alice, studio):
    hook.events = ["generation.succeeded"]
    hook.save()
    make_generation(alice, team=studio, status=Generation.Status.RUNNING).mark_failed("no")
    hook.active, hook.events = False, ["generation.failed"]
    hook.save()
    make_generation(alice, team=studio, status=Generation.Status.RUNNING).mark_failed("no")
    assert not Delivery.objects.exists()


def test_no_secret_or_address_in_the_payload_or_the_logs(
    hook, receiver, fetching, caplog, django_capture_on_commit_callbacks
):
    found = finish(fetching, django_capture_on_commit_callbacks)
    with caplog.at_level(logging.DEBUG):
        sending.deliver(found)
    [secret] = hook.signing_secrets()
    body = sending.payload(found.event)
    for text in (body, caplog.text, str(found.event.data)):
        assert secret not in text and secret.removeprefix("whsec_") not in text
    assert receiver.url not in caplog.text
    assert str(hook.uuid) in caplog.text


def test_budget_events_are_told_once_each_per_period(hook, receiver, alice, studio):
    Budget.objects.create(team=studio, images_per_day=5)
    fields = {
        "owner": alice,
        "team": studio,
        "model_id": "sandbox/flux-sync",
        "provider": "sandbox",
        "prompt": "a fox",
        "params": {"image_size": "square", "num_images": 1},
    }
    told = []
    for _ in range(5):
        start_generation(**fields)
        told.append(list(Event.objects.order_by("id").values_list("type", flat=True)))
    assert told[2] == []  # 3 of 5
    assert told[3] == ["budget.near_limit"]  # 4 of 5
    assert told[4] == ["budget.near_limit", "budget.exceeded"]  # 5 of 5
    exceeded = Event.objects.get(type="budget.exceeded")
    assert exceeded.data["kind"] == "images" and exceeded.data["used"] == "5"
    assert exceeded.data["limit"] == "5"
