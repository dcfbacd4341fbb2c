"""The whole path for real: the view enqueues, a Celery worker calls the sandbox over HTTP,
downloads or decodes the result and thumbnails it; the stored files decode at the right sizes."""

import time
import uuid
from decimal import Decimal

import pytest

from gallery.models import Price, Usage
from jobs.sandbox import failures
from tests.e2e.conftest import assert_stored, generate, wait_for

pytestmark = [pytest.mark.e2e]


def test_it_generates_with_a_sync_fal_style_model(e2e, client, alice):
    client.force_login(alice)
    generation = generate(
        client,
        model="sandbox/flux-sync",
        prompt="a lighthouse at dusk",
        p_image_size="custom",
        p_image_size_width="640",
        p_image_size_height="384",
        p_num_images="2",
        p_seed="7",
        p_output_format="jpeg",
    )
    generation = wait_for(generation)
    assert_stored(generation, 2, (640, 384), "JPEG")
    assert generation.provider_meta["seed"] == 7
    assert [i.seed for i in generation.images.order_by("index")] == [7, 7]
    assert generation.submitted_at and generation.finished_at


def test_it_generates_with_openai_style_base64(e2e, client, alice):
    client.force_login(alice)
    generation = generate(
        client,
        model="sandbox/openai-sync",
        prompt="a teapot, studio light",
        p_size="512x512",
        p_n="1",
        p_response_format="b64_json",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (512, 512), "PNG")
    assert "b64" not in generation.outputs[0]  # the row does not keep the payload
    assert generation.provider_meta["revised_prompt"]


def test_it_generates_with_an_async_relay_task(e2e, client, alice):
    client.force_login(alice)
    generation = generate(
        client,
        model="sandbox/relay-async",
        prompt="a city of glass",
        p_width="320",
        p_height="256",
        p_output_format="png",
    )
    generation = wait_for(generation)
    assert generation.provider_task_id.startswith("sandbox:")
    assert_stored(generation, 1, (320, 256), "PNG")


def test_it_shows_a_provider_failure_on_the_card(e2e, client, alice):
    client.force_login(alice)
    generation = generate(client, model="sandbox/flux-sync", prompt="[sandbox:400-policy] x")
    generation = wait_for(generation)
    assert generation.status == "failed"
    assert "refused the request (400)" in generation.error
    card = client.get(f"/generations/{generation.uuid}/card")
    assert "refused the request (400)" in card.content.decode()
    assert "hx-trigger" not in card.content.decode()


def test_a_cancel_while_the_request_is_out_keeps_the_estimate(e2e, client, alice):
    """The sandbox holds the request (`slow`); the person cancels before any answer or task
    id: the provider may bill the work, so the ledger keeps the estimate."""
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=Decimal("0.02"))
    client.force_login(alice)
    prompt = f"a slow heron {uuid.uuid4().hex[:8]} [sandbox:slow]"
    generation = generate(client, model="sandbox/flux-sync", prompt=prompt, p_num_images="2")
    deadline = time.monotonic() + 30
    while failures.submissions[prompt] == 0:  # the sandbox has it, and answers in 5 s
        assert time.monotonic() < deadline, "the sandbox never got the request"
        time.sleep(0.05)
    generation.refresh_from_db()
    assert generation.status == "submitted" and generation.sent_at is not None
    assert not generation.provider_task_id
    response = client.post(f"/generations/{generation.uuid}/cancel")
    assert response.status_code in (200, 302)
    generation.refresh_from_db()
    assert generation.status == "cancelled"
    entry = Usage.objects.get(generation=generation)
    assert (entry.outcome, entry.cost_usd, entry.images) == ("cancelled", Decimal("0.04"), 0)


def test_the_ledger_records_what_the_worker_did(e2e, client, alice):
    """Through the real worker: the reported cost when the provider gives one, else the
    estimate; the times of each stage; a failure costs nothing."""
    Price.objects.create(model_id="sandbox/openai-sync", usd_per_image=Decimal("0.05"))
    Price.objects.create(model_id="sandbox/relay-async", usd_per_image=Decimal("0.03"))
    client.force_login(alice)
    reported = generate(
        client, model="sandbox/openai-sync", prompt="a kite", p_size="512x512", p_n="2"
    )
    estimated = generate(
        client, model="sandbox/relay-async", prompt="a bridge", p_width="128", p_height="128"
    )
    failed = generate(client, model="sandbox/openai-sync", prompt="[sandbox:400-policy] a kite")
    for generation in (reported, estimated, failed):
        wait_for(generation)
    entry = Usage.objects.get(generation=reported)
    # The sandbox reports 1000 credits per image, at the AI/ML API's 2,000,000 per dollar.
    assert (entry.outcome, entry.images, entry.reported_credits) == ("succeeded", 2, 2000)
    assert (entry.cost_usd, entry.cost_source) == (Decimal("0.001"), "reported")
    assert entry.estimated_usd == Decimal("0.1")
    assert None not in (entry.queue_seconds, entry.provider_seconds, entry.download_seconds)
    entry = Usage.objects.get(generation=estimated)
    assert (entry.outcome, entry.images, entry.cost_usd, entry.cost_source) == (
        "succeeded",
        1,
        Decimal("0.03"),
        "estimated",
    )
    assert entry.provider_seconds > 0  # the async task was polled until it completed
    entry = Usage.objects.get(generation=failed)
    assert (entry.outcome, entry.images, entry.cost_usd) == ("failed", 0, Decimal(0))
    assert entry.error
