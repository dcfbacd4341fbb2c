"""Pipeline steps over a Generation row, with provider HTTP faked at the one client seam."""

import base64
import json
import logging

import httpx
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Generation, Image, InputImage, personal_team
from jobs import http, images, inputs, pipeline, timing
from jobs.pipeline import Next
from tests.factories import bad_exif_jpeg, make_generation, make_image, mpo_bytes, png_bytes

Status = Generation.Status


@pytest.fixture
def provider(monkeypatch):
    """Answer provider requests with the handler a test sets; record what was asked."""
    state = {"handler": None, "requests": []}

    def handler(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        return state["handler"](request)

    def client(read_timeout=None):
        return httpx.Client(transport=httpx.MockTransport(handler))

    monkeypatch.setattr(http, "client", client)
    return state


def b64png(width=64, height=48) -> str:
    return base64.b64encode(png_bytes(width, height)).decode()


def test_it_moves_only_forward(alice):
    generation = make_generation(alice)
    assert generation.advance(Status.QUEUED, Status.SUBMITTED)
    with pytest.raises(AssertionError):
        generation.advance(Status.SUBMITTED, Status.QUEUED)
    with pytest.raises(AssertionError):
        generation.advance(Status.SUCCEEDED, Status.FETCHING)


def test_it_loses_a_compare_and_set_to_another_worker(alice):
    generation = make_generation(alice)
    other = Generation.objects.get(pk=generation.pk)
    assert other.advance(Status.QUEUED, Status.SUBMITTED)
    assert not generation.advance(Status.QUEUED, Status.SUBMITTED)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED


def test_it_does_not_fail_what_has_ended(alice):
    generation = make_generation(alice, status=Status.SUCCEEDED)
    assert not generation.mark_failed("late")
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.error == ""


def test_it_submits_a_sync_model_and_keeps_the_outputs(alice, provider):
    provider["handler"] = lambda r: httpx.Response(
        200, json={"images": [{"url": "http://127.0.0.1:8000/sandbox/files/a"}], "seed": 5}
    )
    generation = make_generation(alice)
    assert pipeline.submit(generation) == Next("fetch")
    generation.refresh_from_db()
    assert generation.status == Status.FETCHING
    assert generation.outputs == [{"url": "http://127.0.0.1:8000/sandbox/files/a", "seed": 5}]
    assert generation.provider_meta == {"seed": 5}
    assert generation.submitted_at is not None
    sent = provider["requests"][0]
    assert sent.url.path == "/sandbox/v1/images/generations"


def test_a_claim_loses_to_one_made_after_the_row_was_loaded(alice):
    generation = make_generation(alice)
    stale = Generation.objects.get(pk=generation.pk)
    assert pipeline.claim(generation)
    # The first claim lapses before reaching the provider; the stale copy must not take it.
    Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
    assert not pipeline.claim(stale)
    assert pipeline.claim(Generation.objects.get(pk=generation.pk))
    generation.refresh_from_db()
    assert generation.attempts == 2


def test_it_never_submits_twice(alice, provider):
    provider["handler"] = lambda r: httpx.Response(200, json={"images": [{"url": "http://x/a"}]})
    generation = make_generation(alice)
    pipeline.submit(generation)
    assert pipeline.submit(Generation.objects.get(pk=generation.pk)) is None
    assert len(provider["requests"]) == 1


def test_it_stores_the_task_id_of_an_async_submit(alice, provider):
    provider["handler"] = lambda r: httpx.Response(
        202, json={"task_id": "sandbox:t1", "status": "queued", "poll_url": "/v2/tasks/sandbox:t1"}
    )
    generation = make_generation(alice, model_id="sandbox/relay-async", params={})
    assert pipeline.submit(generation) == Next("poll", 1.0)
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING
    assert generation.provider_task_id == "sandbox:t1"
    assert provider["requests"][0].headers["idempotency-key"] == str(generation.uuid)


def test_it_polls_until_the_task_completes(alice, provider):
    generation = make_generation(
        alice,
        model_id="sandbox/relay-async",
        status=Status.RUNNING,
        provider_task_id="sandbox:t1",
        poll_url="/v2/tasks/sandbox:t1",
    )
    provider["handler"] = lambda r: httpx.Response(200, json={"task_id": "t", "status": "running"})
    assert pipeline.poll(generation).step == "poll"
    provider["handler"] = lambda r: httpx.Response(
        200,
        json={
            "task_id": "t",
            "status": "completed",
            "result": {"images": [b64png()]},
        },
    )
    # A small result is stored by the poll that got it, without a trip through the broker.
    assert pipeline.poll(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.images.count() == 1
    assert provider["requests"][-1].url.path == "/sandbox/v2/tasks/sandbox:t1"


def test_it_hands_a_big_result_to_the_fetch_step(alice, provider, settings):
    settings.INLINE_FETCH_MAX = 10
    generation = make_generation(
        alice, model_id="sandbox/relay-async", status=Status.RUNNING, provider_task_id="t"
    )
    provider["handler"] = lambda r: httpx.Response(
        200, json={"task_id": "t", "status": "completed", "result": {"images": [b64png()]}}
    )
    assert pipeline.poll(generation) == Next("fetch")
    generation.refresh_from_db()
    assert generation.status == Status.FETCHING
    assert generation.images.count() == 0


def test_it_stores_small_url_outputs_of_a_known_size_at_once(alice, provider):
    data = png_bytes(64, 64)
    url = "http://127.0.0.1:8000/sandbox/files/a"

    def handler(request):
        if request.method == "POST":
            return httpx.Response(200, json={"images": [{"url": url, "width": 64, "height": 64}]})
        return httpx.Response(200, content=data)

    provider["handler"] = handler
    generation = make_generation(alice)
    assert pipeline.submit(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.images.get().byte_size == len(data)


def finished_earlier(alice, seconds: float, count: int = 3) -> None:
    """Generations of the async sandbox model that took `seconds` from submission to the end."""
    now = timezone.now()
    for _ in range(count):
        make_generation(
            alice,
            model_id="sandbox/relay-async",
            status=Status.SUCCEEDED,
            submitted_at=now - timezone.timedelta(seconds=seconds + 5),
            finished_at=now - timezone.timedelta(seconds=5),
        )


def test_the_first_poll_waits_about_as_long_as_the_model_usually_takes(alice, provider):
    finished_earlier(alice, 20)
    provider["handler"] = lambda r: httpx.Response(
        202, json={"task_id": "sandbox:t1", "status": "queued", "poll_url": "/v2/tasks/sandbox:t1"}
    )
    generation = make_generation(alice, model_id="sandbox/relay-async", params={})
    next_step = pipeline.submit(generation)
    assert next_step.step == "poll" and 19.0 < next_step.delay <= 19.5  # a bit early


def test_the_first_poll_aims_just_after_the_time_the_provider_reports(alice, provider):
    """Relay says how long a finished task took: that figure does not include how late our
    poll came, so the first poll can aim just after it and find the task done."""
    finished_earlier(alice, 30)  # our polls saw them late...
    Generation.objects.filter(status=Status.SUCCEEDED).update(
        provider_meta={"timings": {"elapsed_seconds": 20.0}}  # ...the provider took 20 s
    )
    provider["handler"] = lambda r: httpx.Response(
        202, json={"task_id": "sandbox:t1", "status": "queued", "poll_url": "/v2/tasks/sandbox:t1"}
    )
    generation = make_generation(alice, model_id="sandbox/relay-async", params={})
    next_step = pipeline.submit(generation)
    assert next_step.step == "poll"
    assert 20.0 < next_step.delay <= 20.0 + timing.READY_MARGIN


def test_polls_are_brisk_once_the_expected_time_has_passed(alice):
    finished_earlier(alice, 20)
    generation = make_generation(
        alice,
        model_id="sandbox/relay-async",
        status=Status.RUNNING,
        submitted_at=timezone.now() - timezone.timedelta(seconds=21),
    )
    assert timing.poll_interval(generation) == 1.0


def test_a_long_expected_time_stays_a_short_countdown(alice, settings):
    finished_earlier(alice, 600)
    generation = make_generation(
        alice, model_id="sandbox/relay-async", status=Status.RUNNING, submitted_at=timezone.now()
    )
    assert timing.poll_interval(generation) == settings.MAX_COUNTDOWN / 2


def test_without_history_polls_start_briskly(alice):
    generation = make_generation(
        alice, model_id="sandbox/relay-async", status=Status.RUNNING, submitted_at=timezone.now()
    )
    assert timing.poll_interval(generation) == 1.0


def test_it_fails_a_task_the_provider_failed(alice, provider):
    generation = make_generation(
        alice, model_id="sandbox/relay-async", status=Status.RUNNING, provider_task_id="t"
    )
    provider["handler"] = lambda r: httpx.Response(
        200, json={"task_id": "t", "status": "failed", "error": "NSFW content detected"}
    )
    assert pipeline.poll(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error == "The provider could not make the image: NSFW content detected"


def test_it_stops_polling_past_the_deadline(alice, provider):
    generation = make_generation(
        alice,
        model_id="sandbox/relay-async",
        status=Status.RUNNING,
        provider_task_id="t",
        deadline_at=timezone.now() - timezone.timedelta(seconds=1),
    )
    assert pipeline.poll(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "took too long" in generation.error
    assert provider["requests"] == []


def test_it_fails_with_a_readable_message_on_a_rejected_key(alice, provider):
    provider["handler"] = lambda r: httpx.Response(401, json={"message": "bad key"})
    generation = make_generation(alice)
    pipeline.submit(generation)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "rejected the API key (401)" in generation.error


def expire_lease(generation):
    Generation.objects.filter(pk=generation.pk).update(
        lease_until=timezone.now() - timezone.timedelta(seconds=1)
    )


def test_it_retries_an_unreachable_provider_then_gives_up(alice, provider, settings):
    settings.SUBMIT_ATTEMPTS = 3

    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    provider["handler"] = refuse
    generation = make_generation(alice)
    for attempt in (1, 2):
        next_step = pipeline.submit(Generation.objects.get(pk=generation.pk))
        assert next_step.step == "submit" and 0 < next_step.delay <= 2.0**attempt
        # Until the wait is over, nobody else may claim it.
        assert pipeline.submit(Generation.objects.get(pk=generation.pk)) is None
        expire_lease(generation)
    assert pipeline.submit(Generation.objects.get(pk=generation.pk)) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error == "Could not reach the provider. Gave up after 3 tries."
    assert len(provider["requests"]) == 3


def test_it_honours_retry_after_on_429(alice, provider):
    provider["handler"] = lambda r: httpx.Response(429, headers={"Retry-After": "7"})
    generation = make_generation(alice)
    next_step = pipeline.submit(generation)
    assert next_step.step == "submit" and 7 <= next_step.delay <= 8
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED and generation.attempts == 1


def test_it_leaves_a_long_retry_after_to_the_sweeper(alice, provider):
    # Longer than a countdown (MAX_COUNTDOWN), within what the SDKs obey (MAX_RETRY_AFTER).
    provider["handler"] = lambda r: httpx.Response(503, headers={"Retry-After": "110"})
    generation = make_generation(alice)
    assert pipeline.submit(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert generation.lease_until > timezone.now() + timezone.timedelta(seconds=105)


def test_it_does_not_resend_a_non_idempotent_submit_that_timed_out(alice, provider):
    def slow(request):
        raise httpx.ReadTimeout("slow", request=request)

    provider["handler"] = slow
    generation = make_generation(alice)
    assert pipeline.submit(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "was not sent again" in generation.error


def test_it_retries_a_timed_out_relay_submit_with_the_same_idempotency_key(alice, provider):
    def slow(request):
        raise httpx.ReadTimeout("slow", request=request)

    provider["handler"] = slow
    generation = make_generation(alice, model_id="sandbox/relay-async", params={})
    assert pipeline.submit(generation).step == "submit"
    expire_lease(generation)
    provider["handler"] = lambda r: httpx.Response(
        202, json={"task_id": "sandbox:t1", "status": "queued"}
    )
    assert pipeline.submit(Generation.objects.get(pk=generation.pk)).step == "poll"
    keys = {r.headers["idempotency-key"] for r in provider["requests"]}
    assert keys == {str(generation.uuid)}


def test_it_fails_a_permanent_4xx_at_once(alice, provider):
    provider["handler"] = lambda r: httpx.Response(422, json={"detail": "width too large"})
    generation = make_generation(alice)
    assert pipeline.submit(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error == "The provider refused the request (422): width too large"
    assert len(provider["requests"]) == 1


def test_it_never_resubmits_once_a_task_id_is_stored(alice, provider):
    generation = make_generation(
        alice,
        model_id="sandbox/relay-async",
        status=Status.SUBMITTED,
        provider_task_id="t1",
        lease_until=timezone.now() - timezone.timedelta(hours=1),
    )
    assert pipeline.submit(generation) is None
    assert provider["requests"] == []


def test_it_waits_when_the_provider_is_at_its_concurrency_cap(alice, provider, settings):
    settings.PROVIDER_CONCURRENCY = 1
    make_generation(
        alice, status=Status.SUBMITTED, lease_until=timezone.now() + timezone.timedelta(minutes=1)
    )
    generation = make_generation(alice)
    next_step = pipeline.submit(generation)
    assert next_step.step == "submit" and next_step.delay >= 1
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert provider["requests"] == []


def test_it_discards_results_that_arrive_after_a_cancel(alice, provider):
    provider["handler"] = lambda r: httpx.Response(
        200, json={"task_id": "t", "status": "completed", "result": {"images": [b64png()]}}
    )
    generation = make_generation(
        alice, model_id="sandbox/relay-async", status=Status.RUNNING, provider_task_id="t"
    )
    assert Generation.objects.get(pk=generation.pk).cancel()
    assert pipeline.poll(generation) is None  # it still holds the old status in memory
    generation.refresh_from_db()
    assert generation.status == Status.CANCELLED


def test_it_removes_images_stored_by_a_fetch_that_lost_to_a_cancel(alice, provider):
    generation = make_generation(alice, status=Status.FETCHING, outputs=[{"b64": b64png()}])
    original = Generation.objects.get(pk=generation.pk)
    generation.cancel()
    original.status = Status.FETCHING  # a worker that loaded the row before the cancel
    pipeline.fetch(original)
    assert generation.images.count() == 0


def test_it_fetches_base64_outputs_and_thumbnails_them(alice, provider):
    generation = make_generation(
        alice,
        status=Status.FETCHING,
        outputs=[{"b64": b64png(900, 600)}, {"b64": b64png()}],
        params={"seed": 3},
    )
    assert pipeline.fetch(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.finished_at is not None
    assert generation.outputs == [{}, {}]
    first, second = generation.images.order_by("index")
    assert (first.width, first.height, first.thumb_width, first.thumb_height) == (
        900,
        600,
        768,
        512,
    )
    assert first.thumbnail_small.name == f"thumbnails/{generation.uuid}/0-256.webp"
    assert first.original.name == f"originals/{generation.uuid}/0.png"
    assert first.thumbnail.name == f"thumbnails/{generation.uuid}/0.webp"
    assert first.seed == 3 and first.content_type == "image/png"
    assert second.index == 1


def test_it_downloads_url_outputs_from_the_providers_host(alice, provider):
    data = png_bytes(300, 200)
    provider["handler"] = lambda r: httpx.Response(200, content=data)
    generation = make_generation(
        alice, status=Status.FETCHING, outputs=[{"url": "http://127.0.0.1:8000/sandbox/files/a"}]
    )
    pipeline.fetch(generation)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    image = generation.images.get()
    assert image.byte_size == len(data)
    with image.original.open("rb") as f:
        assert f.read() == data  # kept byte for byte


def test_it_makes_only_the_missing_images_when_fetch_runs_again(alice, provider):
    generation = make_generation(
        alice, status=Status.FETCHING, outputs=[{"b64": b64png()}, {"b64": b64png()}]
    )
    from tests.factories import make_image

    make_image(generation, 0)
    pipeline.fetch(generation)
    assert generation.images.count() == 2


def test_it_fails_on_an_output_that_is_not_an_image(alice, provider):
    junk = base64.b64encode(b"<html>not an image</html>").decode()
    generation = make_generation(alice, status=Status.FETCHING, outputs=[{"b64": junk}])
    pipeline.fetch(generation)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "not a PNG, JPEG or WebP" in generation.error
    assert generation.images.count() == 0


def test_it_refuses_outputs_on_a_private_address(alice, provider):
    provider["handler"] = lambda r: httpx.Response(200, content=png_bytes())
    generation = make_generation(
        alice, status=Status.FETCHING, outputs=[{"url": "http://10.1.2.3/x.png"}]
    )
    pipeline.fetch(generation)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "private network" in generation.error
    assert provider["requests"] == []


def completed(images: list[str], **extra) -> httpx.Response:
    body = {"task_id": "t", "status": "completed", "result": {"images": images, **extra}}
    return httpx.Response(200, json=body)


def polled(alice, **fields) -> Generation:
    return make_generation(
        alice,
        model_id="sandbox/relay-async",
        status=Status.RUNNING,
        provider_task_id="t",
        poll_url="/v2/tasks/sandbox:t",
        **fields,
    )


def test_a_small_polled_result_goes_from_running_to_succeeded_in_one_write(alice, provider):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    generation = polled(alice)
    provider["handler"] = lambda r: completed([b64png()], seed=7)
    with CaptureQueriesContext(connection) as queries:
        assert pipeline.poll(generation) is None
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len([sql for sql in updates if "gallery_generation" in sql]) == 1
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.result_at is not None and generation.finished_at >= generation.result_at
    assert generation.provider_meta["seed"] == 7
    assert generation.outputs == [{}]  # the base64 is in the stored file, not the row
    assert generation.images.count() == 1


def test_a_broken_small_polled_result_fails_and_keeps_the_providers_answer(alice, provider):
    generation = polled(alice)
    junk = base64.b64encode(b"<html>not an image</html>").decode()
    provider["handler"] = lambda r: completed([junk])
    assert pipeline.poll(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "not a PNG, JPEG or WebP" in generation.error
    assert generation.result_at is not None  # the provider did the work: it counts as charged


def test_a_small_polled_result_that_lost_to_a_cancel_is_thrown_away(alice, provider):
    generation = polled(alice)
    stale = Generation.objects.get(pk=generation.pk)  # loaded before the cancel
    generation.cancel()
    provider["handler"] = lambda r: completed([b64png()])
    assert pipeline.poll(stale) is None
    generation.refresh_from_db()
    assert generation.status == Status.CANCELLED
    assert generation.images.count() == 0


@pytest.mark.django_db(transaction=True)  # the second INSERT fails, as in autocommit
def test_a_polled_result_stored_twice_keeps_one_set(alice, provider):
    """A poll cut short after storing (its message delivered again) stores nothing twice."""
    generation = polled(alice)
    twin = Generation.objects.get(pk=generation.pk)
    provider["handler"] = lambda r: completed([b64png()])
    assert pipeline.poll(generation) is None
    assert pipeline.poll(twin) is None  # still loaded as running: stores, then loses the CAS
    assert generation.images.count() == 1
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


def test_a_picture_hidden_or_deleted_since_is_not_sent(alice, provider):
    """A retry re-sends the old parameters; a source picture gone since fails it, unsent."""
    source = make_image(make_generation(alice, status=Status.SUCCEEDED))
    Image.objects.filter(pk=source.pk).update(hidden_at=timezone.now())
    provider["handler"] = lambda r: pytest.fail("nothing may be sent")
    generation = make_generation(
        alice, model_id="flux/dev/image-to-image", provider="aimlapi",
        params={"image_url": {"image": str(source.uuid)}},
    )  # fmt: skip
    assert pipeline.submit(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and generation.error == inputs.INPUT_GONE


# --- which pictures a generation may send ------------------------------------------------------


EDIT = {"model_id": "flux/dev/image-to-image", "provider": "aimlapi"}


def upload_by(owner) -> InputImage:
    data = png_bytes()
    item = InputImage(
        owner=owner, content_type="image/png", width=64, height=48, byte_size=len(data)
    )
    item.file.save(f"inputs/{item.uuid}.png", ContentFile(data), save=False)
    item.save()
    return item


def picture_in(team, owner) -> Image:
    return make_image(make_generation(owner, team=team, status=Status.SUCCEEDED))


def refused(generation: Generation, provider, message: str) -> None:
    """It fails with the message, and nothing at all reaches the provider."""
    provider["handler"] = lambda r: pytest.fail("nothing may be sent")
    assert pipeline.submit(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error == message
    assert provider["requests"] == []


def test_it_does_not_send_a_picture_of_another_team(alice, dave, provider):
    theirs = picture_in(personal_team(dave), dave)
    generation = make_generation(alice, **EDIT, params={"image_url": {"image": str(theirs.uuid)}})
    refused(generation, provider, inputs.INPUT_NOT_ALLOWED)


def test_it_does_not_send_someone_elses_upload_even_a_teammates(studio, alice, bob, provider):
    bobs = upload_by(bob)
    generation = make_generation(
        alice, **EDIT, team=studio, params={"image_url": {"upload": str(bobs.uuid)}}
    )
    refused(generation, provider, inputs.INPUT_NOT_ALLOWED)


@pytest.mark.parametrize(
    ("model_id", "params"),
    [
        ("blackforestlabs/flux-2-lora", lambda ref: {"loras": [{"path": ref, "scale": 1}]}),
        ("recraft-v3", lambda ref: {"colors": [{"rgb": [1, 2, 3]}, ref]}),
    ],
    ids=["loras", "colors"],
)
def test_it_does_not_send_a_picture_named_inside_a_json_field(alice, provider, model_id, params):
    mine = upload_by(alice)  # even one's own: only a picture field may name a picture
    generation = make_generation(
        alice, model_id=model_id, provider="aimlapi", params=params({"upload": str(mine.uuid)})
    )
    name = next(iter(params(None)))
    refused(generation, provider, inputs.MISPLACED_PICTURE.format(name=name))


@pytest.mark.parametrize(
    "value",
    [
        {"image": "../../etc/passwd"},
        {"upload": 7},
        {"image": {"upload": "x"}},
        "http://169.254.169.254/latest/meta-data",
        [{"image": "not-a-list-field"}],
    ],
    ids=["path", "number", "nested", "plain-url", "list-for-one"],
)
def test_a_picture_field_holding_anything_but_a_reference_fails_cleanly(alice, provider, value):
    generation = make_generation(alice, **EDIT, params={"image_url": value})
    refused(generation, provider, inputs.INPUT_NOT_ALLOWED)


def test_it_sends_a_teammates_picture_and_ones_own_upload(studio, alice, bob, provider):
    provider["handler"] = lambda r: httpx.Response(200, json={"images": [{"url": "http://x/a"}]})
    alices = picture_in(studio, alice)
    bobs = upload_by(bob)
    for ref in ({"image": str(alices.uuid)}, {"upload": str(bobs.uuid)}):
        generation = make_generation(bob, **EDIT, team=studio, params={"image_url": ref})
        assert pipeline.submit(generation) == Next("fetch")
        sent = json.loads(provider["requests"][-1].content)
        assert (
            sent["image_url"] == "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
        )


# --- what comes back: MPO, and decoder errors of any kind --------------------------------------


def test_it_stores_an_mpo_from_a_provider_as_a_jpeg_with_thumbnails(alice, provider):
    data = mpo_bytes(900, 600)
    provider["handler"] = lambda r: httpx.Response(200, content=data)
    generation = make_generation(
        alice, status=Status.FETCHING, outputs=[{"url": "http://127.0.0.1:8000/sandbox/files/a"}]
    )
    pipeline.fetch(generation)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.error
    image = generation.images.get()
    assert image.content_type == "image/jpeg"
    assert image.original.name == f"originals/{generation.uuid}/0.jpg"
    assert (image.width, image.height, image.thumb_width, image.thumb_height) == (
        900,
        600,
        768,
        512,
    )
    with image.original.open("rb") as f:
        assert f.read() == data  # kept as it is, both pictures
    with image.thumbnail.open("rb") as f:
        assert PILImage.open(f).format == "WEBP"


def test_an_unexpected_decoder_error_fails_the_generation_and_is_logged(alice, provider, caplog):
    encoded = base64.b64encode(bad_exif_jpeg()).decode()
    generation = make_generation(alice, status=Status.FETCHING, outputs=[{"b64": encoded}])
    with caplog.at_level(logging.ERROR, logger="jobs.pipeline"):
        assert pipeline.fetch(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED  # not left fetching, to be downloaded again
    assert generation.error == images.DAMAGED
    assert generation.images.count() == 0
    [record] = caplog.records
    assert str(generation.uuid) in record.getMessage()
    assert isinstance(record.exc_info[1].__cause__, AttributeError)


def test_an_unexpected_decoder_error_in_a_polled_result_fails_too(alice, provider):
    generation = polled(alice)
    provider["handler"] = lambda r: completed([base64.b64encode(bad_exif_jpeg()).decode()])
    assert pipeline.poll(generation) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and generation.error == images.DAMAGED


# --- where outputs may come from ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379/x.png", "private network"),  # the provider's host, another port
        ("http://127.0.0.1:99999/x.png", "port out of range"),
        ("http://user:pw@127.0.0.1:8000/sandbox/files/a", "user name or password"),
    ],
)
def test_it_fails_an_output_address_it_may_not_fetch(alice, provider, settings, url, message):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:8000/sandbox"
    provider["handler"] = lambda r: httpx.Response(200, content=png_bytes())
    generation = make_generation(alice, status=Status.FETCHING, outputs=[{"url": url}])
    pipeline.fetch(generation)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert message in generation.error
    assert provider["requests"] == []


def test_it_fetches_from_a_configured_download_origin_only(alice, provider, settings):
    settings.PROVIDER_DOWNLOAD_HOSTS = ["http://10.1.2.3:9000"]
    provider["handler"] = lambda r: httpx.Response(200, content=png_bytes())
    generation = make_generation(
        alice, status=Status.FETCHING, outputs=[{"url": "http://10.1.2.3:9000/bucket/a.png"}]
    )
    pipeline.fetch(generation)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    other_port = make_generation(
        alice, status=Status.FETCHING, outputs=[{"url": "http://10.1.2.3:22/a.png"}]
    )
    pipeline.fetch(other_port)
    other_port.refresh_from_db()
    assert other_port.status == Status.FAILED and "private network" in other_port.error
    assert len(provider["requests"]) == 1
