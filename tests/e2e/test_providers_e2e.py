"""The real providers' protocols, end to end: the form posts, a real Celery worker calls the fake
AI/ML API, Relay or A1111 server over HTTP, and the stored originals decode at the right sizes.

What the fake received is checked too, so each adapter is seen to send what its provider expects.
"""

import base64
import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from gallery.models import Generation, Usage
from jobs.providers import KEY_MASK
from jobs.sandbox import failures
from tests.e2e import fakes
from tests.e2e.conftest import (
    FAKE_AIMLAPI_KEY,
    FAKE_RELAY_KEY,
    assert_stored,
    generate,
    wait_for,
)
from tests.factories import mpo_bytes

pytestmark = [pytest.mark.e2e]


def png(width: int, height: int, mode: str = "RGB", name: str = "input.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    colour = (0, 0, 0, 0) if mode == "RGBA" else (30, 120, 200)
    PILImage.new(mode, (width, height), colour).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def only(requests: list[fakes.Recorded]) -> fakes.Recorded:
    assert len(requests) == 1, requests
    return requests[0]


def b64(upload: SimpleUploadedFile) -> str:
    upload.seek(0)
    return base64.b64encode(upload.read()).decode()


# AI/ML API


def test_it_downloads_fal_style_url_outputs_from_the_ai_ml_api(providers, client, alice):
    client.force_login(alice)
    prompt = "fal-style: a red kite over dunes"
    generation = generate(
        client,
        model="flux/schnell",
        prompt=prompt,
        p_image_size="custom",
        p_image_size_width="320",
        p_image_size_height="192",
        p_num_images="2",
        p_seed="11",
    )
    generation = wait_for(generation)
    images = assert_stored(generation, 2, (320, 192))

    sent = only(providers.find(prompt=prompt, path="/aimlapi/v1/images/generations"))
    assert sent.headers["authorization"] == f"Bearer {FAKE_AIMLAPI_KEY}"
    assert sent.json["model"] == "flux/schnell"
    assert sent.json["image_size"] == {"width": 320, "height": 192}
    assert sent.json["num_images"] == 2 and sent.json["seed"] == 11
    # Both outputs were URLs on the fake, and the worker downloaded each of them.
    urls = [o["url"] for o in generation.outputs]
    assert len(urls) == 2 and all(u.startswith(providers.aimlapi_url + "/files/") for u in urls)
    downloaded = {r.path for r in providers.requests if r.method == "GET" and r.status == 200}
    assert {u.removeprefix(providers.url) for u in urls} <= downloaded
    assert generation.provider_meta["seed"] == 11
    assert generation.provider_meta["timings"] == {"inference": 0.123}
    assert [i.seed for i in images] == [11, 11]


def test_it_decodes_openai_style_base64_and_keeps_the_usage(providers, client, alice):
    client.force_login(alice)
    prompt = "openai-style: a brass teapot"
    generation = generate(
        client,
        model="openai/gpt-image-1",
        prompt=prompt,
        p_size="1536x1024",
        p_quality="low",
        p_output_format="png",
        p_n="1",
        p_response_format="b64_json",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (1536, 1024))

    sent = only(providers.find(prompt=prompt))
    assert sent.json["model"] == "openai/gpt-image-1"
    assert sent.json["response_format"] == "b64_json" and sent.json["size"] == "1536x1024"
    assert generation.provider_meta["usage"] == fakes.USAGE
    assert "b64" not in generation.outputs[0]  # the payload is a file now, not in the row


def test_it_keeps_the_enhanced_prompt_of_a_google_style_answer(providers, client, alice):
    client.force_login(alice)
    prompt = "google-style: a fox in the snow"
    generation = generate(
        client,
        model="google/imagen-4.0-generate-001",
        prompt=prompt,
        p_aspect_ratio="16:9",
        p_num_images="1",
        p_convert_base64_to_url="on",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (512, 288))

    sent = only(providers.find(prompt=prompt))
    assert sent.json["model"] == "google/imagen-4.0-generate-001"
    assert sent.json["convert_base64_to_url"] is True
    assert generation.outputs[0]["url"].startswith(providers.aimlapi_url + "/files/")
    assert generation.provider_meta["enhanced_prompt"] == fakes.ENHANCED_PREFIX + prompt


def test_it_sends_gpt_image_edits_as_multipart_files_with_a_mask(providers, client, alice):
    client.force_login(alice)
    prompt = "multipart edit: paint the door blue"
    picture, mask = png(300, 200), png(300, 200, "RGBA", "mask.png")
    generation = generate(
        client,
        model="openai/gpt-image-1:edit",
        prompt=prompt,
        p_image=[picture],
        p_mask=mask,
        p_size="1024x1024",
        p_n="1",
        p_response_format="url",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (1024, 1024))

    sent = only(providers.find(prompt=prompt, path="/aimlapi/v1/images/edits"))
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert sent.headers["authorization"] == f"Bearer {FAKE_AIMLAPI_KEY}"
    # The upstream model id, not the catalog's ":edit" id.
    assert sent.fields["model"] == "openai/gpt-image-1"
    assert sent.fields["size"] == "1024x1024" and sent.fields["prompt"] == prompt
    image = only(sent.files("image"))
    assert image.content_type == "image/png" and image.size == picture.size
    assert fakes.image_size(image.data) == (300, 200)
    sent_mask = only(sent.files("mask"))
    assert sent_mask.content_type == "image/png" and sent_mask.size == mask.size
    assert sent.json is None  # nothing went as JSON


def test_it_sends_several_gpt_image_edit_inputs_as_image_array_parts(providers, client, alice):
    client.force_login(alice)
    prompt = "multipart edit: combine the two"
    generation = generate(
        client,
        model="openai/gpt-image-1:edit",
        prompt=prompt,
        p_image=[png(128, 128, name="one.png"), png(160, 96, name="two.png")],
        p_size="1024x1536",
        p_n="1",
        p_response_format="b64_json",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (1024, 1536))

    sent = only(providers.find(prompt=prompt, path="/aimlapi/v1/images/edits"))
    assert sent.files("image") == []
    parts = sent.files("image[]")
    assert [fakes.image_size(p.data) for p in parts] == [(128, 128), (160, 96)]
    assert sent.files("mask") == []


def test_it_sends_an_upload_as_a_data_url_to_a_json_edit_model(providers, client, alice):
    client.force_login(alice)
    prompt = "json edit: make it night"
    picture = png(320, 256)
    generation = generate(
        client,
        model="flux/dev/image-to-image",
        prompt=prompt,
        p_image_url=picture,
        p_num_images="1",
        p_strength="0.6",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (320, 256))  # the fake answers at the input's size

    sent = only(providers.find(prompt=prompt))
    assert sent.json["model"] == "flux/dev/image-to-image"
    assert sent.json["image_url"] == "data:image/png;base64," + b64(picture)
    assert sent.json["strength"] == 0.6


def test_it_sends_a_phone_cameras_mpo_upload_as_a_jpeg(providers, client, alice):
    client.force_login(alice)
    prompt = "json edit: a phone photo at dusk"
    photo = mpo_bytes(288, 192)
    generation = generate(
        client,
        model="flux/dev/image-to-image",
        prompt=prompt,
        p_image_url=SimpleUploadedFile("IMG_0001.JPG", photo, content_type="image/jpeg"),
        p_num_images="1",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (288, 192))

    sent = only(providers.find(prompt=prompt))
    assert sent.json["image_url"] == "data:image/jpeg;base64," + base64.b64encode(photo).decode()


# Relay


def test_it_polls_a_relay_task_through_queued_and_running(providers, client, alice):
    client.force_login(alice)
    prompt = "relay async: a glass city at noon"
    generation = generate(
        client,
        model="black-forest-labs/FLUX-2-pro",
        prompt=prompt,
        p_width="384",
        p_height="256",
        p_seed="5",
        p_output_format="png",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (384, 256))

    sent = only(providers.find(prompt=prompt, method="POST"))
    assert sent.path == "/relay/v2/image/flux/generate"
    assert sent.headers["x-api-key"] == FAKE_RELAY_KEY
    assert "authorization" not in sent.headers
    assert sent.headers["idempotency-key"] == str(generation.uuid)
    assert sent.json["async"] is True
    assert sent.json["model"] == "black-forest-labs/FLUX-2-pro"
    assert (sent.json["width"], sent.json["height"], sent.json["seed"]) == (384, 256, 5)
    task_id = generation.provider_task_id
    assert task_id.startswith("task-") and generation.poll_url == f"/v2/tasks/{task_id}"
    polls = providers.polls(task_id)
    assert len(polls) >= 3  # queued, running, then completed
    assert all(p.headers["x-api-key"] == FAKE_RELAY_KEY for p in polls)
    assert generation.provider_meta["seed"] == 5
    assert generation.provider_meta["timings"] == {"elapsed_seconds": 1.5}


def test_it_downloads_the_urls_of_a_qwen_relay_task(providers, client, alice):
    client.force_login(alice)
    prompt = "relay qwen: a tea house in the rain"
    generation = generate(
        client, model="Qwen/qwen-image", prompt=prompt, p_size="320x224", p_seed="9"
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (320, 224))

    sent = only(providers.find(prompt=prompt, method="POST"))
    assert sent.path == "/relay/v2/image/qwen/generate"
    assert sent.json["model"] == "Qwen/qwen-image" and sent.json["size"] == "320x224"
    url = generation.outputs[0]["url"]
    assert url.startswith(providers.relay_url + "/files/")
    assert any(
        r.method == "GET" and r.path == url.removeprefix(providers.url) for r in providers.requests
    )
    assert generation.provider_meta["model"] == "Qwen/qwen-image"


def test_it_sends_bare_base64_to_a_relay_gpt_image_edit(providers, client, alice):
    client.force_login(alice)
    prompt = "relay edit: add a rainbow"
    picture = png(200, 200)
    generation = generate(
        client,
        model="openai/gpt-image-1.5-I2I",
        prompt=prompt,
        p_image=picture,
        p_size="1024x1024",
        p_n="1",
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (1024, 1024))

    sent = only(providers.find(prompt=prompt, method="POST"))
    assert sent.path == "/relay/v2/image/gpt-image/edit"
    assert sent.json["image"] == b64(picture)  # bare base64, no data: prefix
    assert "model" not in sent.json  # this route takes none
    assert "mask" not in sent.json


def test_it_shows_why_a_relay_task_failed(providers, client, alice):
    client.force_login(alice)
    generation = generate(
        client, model="black-forest-labs/FLUX-2-pro", prompt="relay fail [sandbox:task-failed]"
    )
    generation = wait_for(generation)
    assert generation.status == "failed"
    assert failures.TASK_FAILED_REASON in generation.error
    assert not generation.images.exists()


# A1111


def test_it_runs_a1111_txt2img_with_a_checkpoint_from_the_servers_list(providers, client, alice):
    client.force_login(alice)
    checkpoint = fakes.CHECKPOINTS[1]["title"]
    page = client.get("/", {"model": "a1111/txt2img"}).content.decode()
    assert f'value="{checkpoint}"' in page  # the web process listed the server's checkpoints

    prompt = "a1111 txt2img: a lighthouse"
    generation = generate(
        client,
        model="a1111/txt2img",
        prompt=prompt,
        p_sd_model_checkpoint=checkpoint,
        p_width="320",
        p_height="256",
        p_seed="-1",
        p_batch_size="2",
        p_steps="12",
        p_cfg_scale="6.5",
    )
    generation = wait_for(generation)
    images = assert_stored(generation, 2, (320, 256))

    sent = only(providers.find(prompt=prompt))
    assert sent.path == "/a1111/sdapi/v1/txt2img"
    assert sent.json["override_settings"] == {"sd_model_checkpoint": checkpoint}
    assert "sd_model_checkpoint" not in sent.json
    assert (sent.json["seed"], sent.json["batch_size"], sent.json["steps"]) == (-1, 2, 12)
    assert "authorization" not in sent.headers and "x-api-key" not in sent.headers
    # The seeds the server reported in `info`, not the -1 that was asked for.
    assert [i.seed for i in images] == [1_234_567, 1_234_568]
    assert generation.provider_meta["seed"] == 1_234_567


def test_it_runs_a1111_img2img_with_an_uploaded_init_image(providers, client, alice):
    client.force_login(alice)
    prompt = "a1111 img2img: as a watercolour"
    picture = png(256, 192)
    generation = generate(
        client,
        model="a1111/img2img",
        prompt=prompt,
        p_init_images=[picture],
        p_denoising_strength="0.4",
        p_width="256",
        p_height="192",
        p_seed="99",
    )
    generation = wait_for(generation)
    images = assert_stored(generation, 1, (256, 192))

    sent = only(providers.find(prompt=prompt))
    assert sent.path == "/a1111/sdapi/v1/img2img"
    assert sent.json["init_images"] == [b64(picture)]
    assert sent.json["denoising_strength"] == 0.4
    assert "override_settings" not in sent.json  # no checkpoint chosen: keep the loaded one
    assert images[0].seed == 99
    assert generation.provider_meta == {"seed": 99}


# Failures


def test_it_fails_with_a_clear_message_when_the_key_is_rejected(providers, client, alice):
    client.force_login(alice)
    prompt = "a cat [sandbox:401]"
    generation = wait_for(generate(client, model="flux/schnell", prompt=prompt))
    assert generation.status == "failed"
    assert "rejected the API key (401)" in generation.error
    assert "Invalid API key" in generation.error
    assert only(providers.find(prompt=prompt)).status == 401
    card = client.get(f"/generations/{generation.uuid}/card").content.decode()
    assert "rejected the API key" in card and "hx-trigger" not in card


def test_it_shows_the_providers_reason_for_a_refused_request(providers, client, alice):
    client.force_login(alice)
    prompt = "a dog [sandbox:400-policy]"
    generation = wait_for(generate(client, model="openai/gpt-image-1", prompt=prompt))
    assert generation.status == "failed"
    assert "refused the request (400)" in generation.error
    assert failures.POLICY_REASON in generation.error
    assert not generation.images.exists()


@pytest.mark.parametrize(
    ("model", "header", "key"),
    [
        ("flux/schnell", "authorization", FAKE_AIMLAPI_KEY),
        ("Qwen/qwen-image", "x-api-key", FAKE_RELAY_KEY),
    ],
)
def test_a_reason_that_quotes_the_key_is_shown_and_kept_without_it(
    providers, client, alice, model, header, key
):
    client.force_login(alice)
    prompt = f"a lark [sandbox:echo-key] {model}"
    generation = wait_for(generate(client, model=model, prompt=prompt))
    assert key in only(providers.find(prompt=prompt)).headers[header]  # the provider had it
    assert generation.status == "failed"
    assert "Unknown parameter for the key" in generation.error
    assert key not in generation.error and KEY_MASK in generation.error
    entry = Usage.objects.get(generation=generation)
    assert key not in entry.error and KEY_MASK in entry.error
    card = client.get(f"/generations/{generation.uuid}/card").content.decode()
    assert "Unknown parameter" in card and key not in card


# Transient failures: retried within bounds, and never sent twice where that could duplicate work


def test_it_retries_a_rate_limited_submit_and_succeeds(providers, client, alice):
    client.force_login(alice)
    prompt = "a heron, rate limited once [sandbox:429:1]"
    generation = wait_for(generate(client, model="flux/schnell", prompt=prompt))
    assert_stored(generation, 1, (256, 256))
    sent = providers.find(prompt=prompt, method="POST")
    assert [r.status for r in sent] == [429, 200]
    assert generation.attempts == 2


def test_it_gives_up_when_the_provider_stays_unavailable(providers, client, alice, settings):
    client.force_login(alice)
    tries = settings.SUBMIT_ATTEMPTS  # the worker runs with the same default
    prompt = f"a heron, provider down [sandbox:5xx-then-ok:{tries}]"  # for every try
    generation = wait_for(generate(client, model="flux/schnell", prompt=prompt))
    assert generation.status == "failed"
    assert "temporarily unavailable (503)" in generation.error
    assert f"Gave up after {tries} tries" in generation.error
    assert [r.status for r in providers.find(prompt=prompt, method="POST")] == [503] * tries


def test_it_resends_a_timed_out_relay_submit_with_the_same_idempotency_key(
    providers, client, alice
):
    client.force_login(alice)
    prompt = "relay slow: a lantern [sandbox:slow:1]"  # the first answer only
    generation = generate(
        client, model="black-forest-labs/FLUX-2-pro", prompt=prompt, p_width="256", p_height="256"
    )
    generation = wait_for(generation)
    assert_stored(generation, 1, (256, 256))
    sent = providers.find(prompt=prompt, method="POST")
    assert len(sent) == 2  # the first answer came too late; the second was a replay
    assert {r.headers["idempotency-key"] for r in sent} == {str(generation.uuid)}
    assert generation.attempts == 2
    assert len(providers.polls(generation.provider_task_id)) >= 3


def test_it_does_not_resend_a_timed_out_ai_ml_api_submit(providers, client, alice):
    client.force_login(alice)
    prompt = "aimlapi slow: a lantern [sandbox:slow:1]"
    generation = wait_for(generate(client, model="flux/schnell", prompt=prompt))
    assert generation.status == "failed"
    assert "did not answer in time" in generation.error and "not sent again" in generation.error
    assert len(providers.find(prompt=prompt, method="POST")) == 1  # it may have been paid for


# Cancel and retry


def wait_until(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_it_stops_polling_a_relay_task_once_cancelled(providers, client, alice):
    client.force_login(alice)
    prompt = "relay endless: a slow sunrise [sandbox:task-stuck]"
    generation = generate(client, model="black-forest-labs/FLUX-2-pro", prompt=prompt)

    def polled_twice() -> bool:
        generation.refresh_from_db()
        return (
            bool(generation.provider_task_id)
            and len(providers.polls(generation.provider_task_id)) >= 2
        )

    wait_until(polled_twice)
    response = client.post(f"/generations/{generation.uuid}/cancel")
    assert response.status_code == 302
    generation.refresh_from_db()
    assert generation.status == "cancelled"
    time.sleep(0.6)  # a poll already on its way may still arrive
    settled = len(providers.polls(generation.provider_task_id))
    time.sleep(2.0)  # several poll intervals (0.3 s)
    assert len(providers.polls(generation.provider_task_id)) == settled
    generation.refresh_from_db()
    assert generation.status == "cancelled" and not generation.images.exists()


def test_it_retries_a_failed_edit_with_the_same_uploaded_picture(providers, client, alice):
    client.force_login(alice)
    prompt = "json edit refused once: make it autumn [sandbox:400-policy:1]"
    picture = png(192, 128)
    failed = wait_for(
        generate(client, model="flux/dev/image-to-image", prompt=prompt, p_image_url=picture)
    )
    assert failed.status == "failed" and failures.POLICY_REASON in failed.error

    response = client.post(f"/generations/{failed.uuid}/retry")
    assert response.status_code == 302
    retry = Generation.objects.get(retry_of=failed)
    retry = wait_for(retry)
    assert_stored(retry, 1, (192, 128))
    sent = providers.find(prompt=prompt, method="POST")
    assert [r.status for r in sent] == [400, 200]
    assert sent[0].json["image_url"] == sent[1].json["image_url"]
    assert sent[1].json["image_url"] == "data:image/png;base64," + b64(picture)


# Downloads: only from the provider's own host, redirects included


def file_gets(providers, url: str) -> list[fakes.Recorded]:
    name = url.rsplit("/", 1)[-1]
    return [r for r in providers.requests if r.method == "GET" and r.path.endswith(f"/{name}")]


def test_it_follows_a_redirect_that_stays_on_the_providers_host(providers, client, alice):
    client.force_login(alice)
    prompt = "a redirected heron [sandbox:redirect-chain:1]"
    generation = wait_for(generate(client, model="flux/schnell", prompt=prompt))
    assert_stored(generation, 1, (256, 256))
    url = generation.outputs[0]["url"]
    assert url.startswith(providers.aimlapi_url + "/files/")
    assert [(r.query, r.status) for r in file_gets(providers, url)] == [("", 302), ("hop=1", 200)]


def test_it_refuses_an_output_on_another_private_host(providers, client, alice):
    client.force_login(alice)
    prompt = "a heron kept elsewhere [sandbox:elsewhere-url]"
    generation = wait_for(generate(client, model="flux/schnell", prompt=prompt))
    assert generation.status == "failed"
    assert "private network (localhost)" in generation.error
    assert generation.outputs[0]["url"].startswith(providers.elsewhere_url)
    assert file_gets(providers, generation.outputs[0]["url"]) == []  # never fetched
    assert not generation.images.exists()


def test_it_refuses_a_redirect_to_another_private_host(providers, client, alice):
    client.force_login(alice)
    prompt = "a heron redirected elsewhere [sandbox:redirect-elsewhere]"
    generation = wait_for(generate(client, model="flux/schnell", prompt=prompt))
    assert generation.status == "failed"
    assert "private network (localhost)" in generation.error
    gets = file_gets(providers, generation.outputs[0]["url"])
    assert [(r.query, r.status) for r in gets] == [("", 302)]  # the redirect, never its target
