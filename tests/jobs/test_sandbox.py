"""The sandbox provider over Django's test client: both protocols, its shapes and its refusals."""

import base64
import io
import json

import pytest
from PIL import Image as PILImage

from jobs.sandbox import auth, draw, views


@pytest.fixture(autouse=True)
def instant(settings, client):
    """No latency; the test client speaks as the worker, with the sandbox key."""
    settings.SANDBOX_LATENCY = 0
    settings.SANDBOX_ENABLED = True
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {auth.key()}"


def post(client, path: str, body) -> object:
    return client.post(path, json.dumps(body), content_type="application/json")


def picture(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image


def fetch(client, url: str) -> PILImage.Image:
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    return picture(response.content)


def test_it_draws_the_same_picture_for_the_same_inputs():
    assert draw.render("a fox", 1, 128, 96, "png") == draw.render("a fox", 1, 128, 96, "png")
    assert picture(draw.render("a fox", 1, 128, 96, "png")).size == (128, 96)


def test_it_draws_visibly_different_pictures_for_different_prompts():
    a = picture(draw.render("a fox", 1, 128, 128, "png")).convert("RGB")
    b = picture(draw.render("a whale", 1, 128, 128, "png")).convert("RGB")
    differing = sum(1 for pa, pb in zip(a.tobytes(), b.tobytes(), strict=True) if pa != pb)
    assert differing > 128 * 128 * 3 // 2


def test_it_encodes_png_and_jpeg():
    assert picture(draw.render("x", 1, 64, 64, "png")).format == "PNG"
    assert picture(draw.render("x", 1, 64, 64, "jpeg")).format == "JPEG"
    with pytest.raises(ValueError):
        draw.render("x", 1, 8, 64, "png")


def test_it_answers_fal_style_with_urls(client, db):
    response = post(
        client,
        "/sandbox/v1/images/generations",
        {
            "model": "sandbox/flux-sync",
            "prompt": "a fox",
            "image_size": "landscape_4_3",
            "num_images": 2,
            "seed": 9,
            "output_format": "jpeg",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["seed"] == 9 and body["prompt"] == "a fox"
    assert body["has_nsfw_concepts"] == [False, False]
    assert [(i["width"], i["height"], i["content_type"]) for i in body["images"]] == [
        (1024, 768, "image/jpeg")
    ] * 2
    first = fetch(client, body["images"][0]["url"])
    assert first.size == (1024, 768) and first.format == "JPEG"


def test_it_takes_a_custom_width_and_height(client, db):
    body = post(
        client,
        "/sandbox/v1/images/generations",
        {
            "model": "sandbox/flux-sync",
            "prompt": "a fox",
            "image_size": {"width": 320, "height": 192},
        },
    ).json()
    assert fetch(client, body["images"][0]["url"]).size == (320, 192)


def test_it_answers_openai_style_with_url_or_base64(client, db):
    body = post(
        client,
        "/sandbox/v1/images/generations",
        {
            "model": "sandbox/openai-sync",
            "prompt": "a teapot",
            "size": "256x256",
        },
    ).json()
    assert fetch(client, body["data"][0]["url"]).size == (256, 256)
    assert body["meta"]["usage"]["credits_used"] == 1000
    body = post(
        client,
        "/sandbox/v1/images/generations",
        {
            "model": "sandbox/openai-sync",
            "prompt": "a teapot",
            "size": "256x256",
            "n": 2,
            "response_format": "b64_json",
        },
    ).json()
    assert len(body["data"]) == 2
    assert picture(base64.b64decode(body["data"][1]["b64_json"])).size == (256, 256)
    assert body["data"][0]["revised_prompt"] == "a teapot (sandbox rendition)"


def test_it_answers_relay_sync_with_base64(client, db):
    body = post(
        client, "/sandbox/v2/image/generate", {"prompt": "a boat", "width": 128, "height": 64}
    ).json()
    assert picture(base64.b64decode(body["images"][0])).size == (128, 64)


def test_it_runs_a_relay_task_through_its_states(client, db, settings, monkeypatch):
    settings.SANDBOX_LATENCY = 3
    now = [1000.0]
    monkeypatch.setattr(views.time, "time", lambda: now[0])
    response = post(
        client,
        "/sandbox/v2/image/generate",
        {
            "prompt": "a boat",
            "width": 128,
            "height": 64,
            "async": True,
        },
    )
    assert response.status_code == 202
    task = response.json()
    assert task["status"] == "queued" and task["task_id"].startswith("sandbox:")
    assert task["poll_url"] == f"/v2/tasks/{task['task_id']}"
    url = "/sandbox" + task["poll_url"]
    assert client.get(url).json()["status"] == "queued"
    now[0] += 1.5
    assert client.get(url).json()["status"] == "running"
    now[0] += 2
    now[0] += 2
    done = client.get(url).json()
    # Asked 5.5 s after the submit; the task's own clock stopped when it finished.
    assert done["status"] == "completed" and done["elapsed_seconds"] == 3.0
    assert picture(base64.b64decode(done["result"]["images"][0])).size == (128, 64)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/sandbox/v1/images/generations", {"model": "nope", "prompt": "x"}, "Unknown model"),
        ("/sandbox/v1/images/generations", {"model": "sandbox/flux-sync"}, "prompt is required"),
        (
            "/sandbox/v1/images/generations",
            {"model": "sandbox/flux-sync", "prompt": "x", "num_images": 9},
            "between 1 and 4",
        ),
        (
            "/sandbox/v1/images/generations",
            {
                "model": "sandbox/flux-sync",
                "prompt": "x",
                "image_size": {"width": 100, "height": 64},
            },
            "multiple of 32",
        ),
        (
            "/sandbox/v1/images/generations",
            {"model": "sandbox/openai-sync", "prompt": "x", "size": "big"},
            "look like 1024x1024",
        ),
        ("/sandbox/v2/image/generate", {"prompt": "x", "output_format": "gif"}, "one of png"),
    ],
)
def test_it_refuses_bad_input_with_a_specific_reason(client, db, path, body, message):
    response = post(client, path, body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_it_refuses_a_body_that_is_not_json(client, db):
    response = client.post("/sandbox/v1/images/generations", "{", content_type="application/json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_it_refuses_tampered_task_ids_and_file_tokens(client, db):
    assert client.get("/sandbox/v2/tasks/sandbox:forged").status_code == 404
    assert client.get("/sandbox/files/forged").status_code == 404


def test_it_is_gone_when_turned_off(client, db, settings):
    settings.SANDBOX_ENABLED = False
    response = post(
        client, "/sandbox/v1/images/generations", {"model": "sandbox/flux-sync", "prompt": "x"}
    )
    assert response.status_code == 404
