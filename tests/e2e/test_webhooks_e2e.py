"""Webhooks through real workers: the session's worker makes the generation, a worker of this
module's own (on the `webhooks` queue) delivers it to a loopback receiver that verifies every
request with `standardwebhooks` and de-duplicates on `webhook-id`, as the spec tells receivers.

Beat is not running here: after a kill the test calls the sweeper itself, once the claim lapsed.
"""

import time

import httpx
import pytest
from django.utils import timezone

from gallery.models import Delivery, Generation
from jobs import tasks
from jobs.start import start_generation
from tests.e2e.conftest import until, wait_for
from tests.factories import make_generation

pytestmark = [pytest.mark.e2e]


def delivered() -> Delivery:
    return Delivery.objects.select_related("event").get()


def test_a_finished_generation_reaches_the_receiver_once_signed(
    webhook_worker, receiver, hook, alice, studio
):
    generation = start_generation(
        owner=alice,
        team=studio,
        gallery=studio.default_gallery(),
        model_id="sandbox/flux-sync",
        provider="sandbox",
        prompt="a heron at dawn",
        params={"image_size": "square", "num_images": 2},
    )
    wait_for(generation)
    assert generation.status == "succeeded", generation.error
    until(lambda: receiver.events, what="the delivery")
    [event] = receiver.events
    assert receiver.unverified == 0
    assert event["type"] == "generation.succeeded"
    pictures = {p["id"]: p for p in event["data"]["images"]}
    for image in generation.images.all():
        picture = pictures[str(image.uuid)]
        assert (picture["width"], picture["height"]) == (image.width, image.height)
        # The signed link works for anyone who holds it, over real HTTP (from the bucket the
        # session's worker stores in, through the short signed link it redirects to).
        response = httpx.get(picture["url"], follow_redirects=True)
        assert response.status_code == 200
        assert response.content == image.original.open("rb").read()
    assert len(pictures) == 2
    assert delivered().status == "succeeded"
    assert receiver.accepted == {delivered().event.msg_id: 1} and receiver.repeats == 0


def test_a_receiver_that_fails_twice_then_accepts_gets_the_event_once(
    webhook_worker, receiver, hook, alice, studio
):
    receiver.fail_first = 2
    make_generation(alice, team=studio, status=Generation.Status.RUNNING).mark_failed("No.")
    until(lambda: delivered().status == "succeeded", what="the third try")
    found = delivered()
    assert found.attempts == 3
    assert list(found.log.order_by("number").values_list("status_code", flat=True)) == [
        500,
        500,
        200,
    ]
    assert receiver.accepted == {found.event.msg_id: 1}
    assert [r["webhook-id"] for r in receiver.requests] == [found.event.msg_id] * 3
    assert receiver.events[0]["data"]["reason"] == "No."


def test_a_worker_killed_mid_delivery_delivers_each_event_once(
    webhook_worker, receiver, hook, alice, studio
):
    receiver.hold_first = True
    make_generation(alice, team=studio, status=Generation.Status.RUNNING).mark_failed("Gone.")
    until(receiver.holding.is_set, what="the first request")
    webhook_worker.kill()
    receiver.release.set()  # the receiver takes the event; the worker never hears it
    webhook_worker.start()
    found = delivered()
    assert found.status == "sending"
    until(lambda: delivered().claimed_until < timezone.now(), 15, "the claim to lapse")
    tasks.sweep_webhooks()
    until(lambda: delivered().status == "succeeded", what="the second try")
    found = delivered()
    assert found.attempts == 2
    first, second = found.log.order_by("number")
    assert first.seconds is None and first.status_code is None  # cut short
    assert second.status_code == 200
    assert receiver.accepted == {found.event.msg_id: 1} and receiver.repeats == 1
    # Recorded as delivered: a later sweep sends nothing more.
    tasks.sweep_webhooks()
    time.sleep(1)
    assert len(receiver.requests) == 2
