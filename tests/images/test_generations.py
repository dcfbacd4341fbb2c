"""Generating: the form and its model fields, the generation it makes, a card, cancel, retry."""

import re

import pytest

from gallery.models import Generation
from jobs import inputs
from tests.factories import default_input, make_generation, make_image, mpo_bytes

Status = Generation.Status


def test_it_shows_only_the_chosen_models_fields(alice_client):
    html = alice_client.get("/generate/fields", {"model": "sandbox/relay-async"}).content.decode()
    assert 'name="p_width"' in html and 'step="32"' in html and 'max="2048"' in html
    assert "p_num_images" not in html
    assert "<form" not in html  # just the fieldset, for htmx to swap in


def test_it_shows_a_models_fields_without_javascript(alice_client):
    html = alice_client.get("/", {"model": "sandbox/openai-sync"}).content.decode()
    assert re.search(r'<option value="sandbox/openai-sync"[^>]* selected>', html)
    assert 'name="p_response_format"' in html


def test_it_creates_a_generation_and_enqueues_it_after_commit(
    alice_client, alice, django_capture_on_commit_callbacks, monkeypatch
):
    from jobs import tasks

    sent = []
    monkeypatch.setattr(tasks.submit, "delay", lambda pk: sent.append(pk))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = alice_client.post(
            "/generate",
            {
                "model": "sandbox/flux-sync",
                "prompt": "a red fox",
                "p_image_size": "square",
                "p_num_images": "2",
                "p_seed": "11",
                "p_output_format": "png",
            },
        )
    assert response.status_code == 302
    generation = Generation.objects.get()
    assert generation.owner == alice
    assert generation.status == Status.QUEUED
    assert generation.params == {
        "image_size": "square",
        "num_images": 2,
        "seed": 11,
        "output_format": "png",
    }
    # The enqueue, and the news for the team's open tabs (webapp/live.py).
    assert len(callbacks) == 2 and sent == [generation.pk]


def test_it_sends_a_custom_size_as_width_and_height(alice_client, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    alice_client.post(
        "/generate",
        {
            "model": "sandbox/flux-sync",
            "prompt": "x",
            "p_image_size": "custom",
            "p_image_size_width": "640",
            "p_image_size_height": "384",
            "p_num_images": "1",
            "p_output_format": "png",
        },
    )
    assert Generation.objects.get().params["image_size"] == {"width": 640, "height": 384}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"prompt": ""}, "prompt", "This field is required."),
        ({"p_num_images": "5"}, "p_num_images", "less than or equal to 4"),
        (
            {"p_image_size": "custom", "p_image_size_width": "650", "p_image_size_height": "384"},
            "p_image_size_width",
            "multiple of 32",
        ),
        (
            {"p_image_size": "custom", "p_image_size_width": "640"},
            "p_image_size",
            "both a width and a height",
        ),
        ({"p_output_format": "gif"}, "p_output_format", "Select a valid choice"),
        ({"prompt": "x" * 2001}, "prompt", "at most 2000 characters"),
        ({"model": "nope/model"}, "model", "Choose one of the models in the list."),
    ],
)
def test_it_shows_each_error_beside_its_field(alice_client, data, field, message):
    base = {
        "model": "sandbox/flux-sync",
        "prompt": "a fox",
        "p_image_size": "square",
        "p_num_images": "1",
        "p_output_format": "png",
    }
    response = alice_client.post("/generate", {**base, **data})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert Generation.objects.count() == 0


def test_it_returns_the_form_with_errors_to_htmx(alice_client):
    response = alice_client.post(
        "/generate", {"model": "sandbox/flux-sync", "prompt": ""}, headers={"HX-Request": "true"}
    )
    assert response["HX-Retarget"] == "#generate-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert response.content.decode().lstrip().startswith('<form id="generate-form"')


def test_it_returns_the_new_card_to_htmx(alice_client, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    response = alice_client.post(
        "/generate",
        {
            "model": "sandbox/relay-async",
            "prompt": "<b>bold</b>",
            "p_width": "512",
            "p_height": "512",
            "p_output_format": "png",
        },
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    generation = Generation.objects.get()
    assert f'id="gen-{generation.uuid}"' in html
    assert 'hx-trigger="every 1s"' in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html


def test_the_card_stops_polling_once_done(alice_client, alice):
    generation = make_generation(alice, status=Status.SUCCEEDED)
    image = make_image(generation)
    html = alice_client.get(f"/generations/{generation.uuid}/card").content.decode()
    assert "hx-trigger" not in html
    assert f'src="/images/{image.uuid}/thumbnail"' in html
    assert f'alt="{generation.prompt}"' in html


def test_the_card_shows_a_failure_in_words(alice_client, alice):
    generation = make_generation(alice, status=Status.FAILED, error="The provider rejected it.")
    html = alice_client.get(f"/generations/{generation.uuid}/card").content.decode()
    assert "The provider rejected it." in html and "hx-trigger" not in html


def test_it_cancels_a_generation_in_flight(alice_client, alice):
    generation = make_generation(alice, status=Status.RUNNING, provider_task_id="t")
    response = alice_client.post(
        f"/generations/{generation.uuid}/cancel", headers={"HX-Request": "true"}
    )
    generation.refresh_from_db()
    assert generation.status == Status.CANCELLED and generation.finished_at is not None
    html = response.content.decode()
    assert "Cancelled" in html and "hx-trigger" not in html and "Retry" in html


def test_it_retries_a_failed_generation_as_a_new_attempt(
    alice_client, alice, django_capture_on_commit_callbacks, monkeypatch
):
    from jobs import tasks

    sent = []
    monkeypatch.setattr(tasks.submit, "delay", lambda pk: sent.append(pk))
    failed = make_generation(alice, status=Status.FAILED, error="boom", params={"seed": 4})
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/generations/{failed.uuid}/retry")
    assert response.status_code == 302
    retry = Generation.objects.exclude(pk=failed.pk).get()
    assert retry.retry_of == failed and retry.status == Status.QUEUED
    assert (retry.model_id, retry.prompt, retry.params) == (
        failed.model_id,
        failed.prompt,
        {"seed": 4},
    )
    assert sent == [retry.pk]


def test_it_does_not_retry_what_succeeded(alice_client, alice):
    done = make_generation(alice, status=Status.SUCCEEDED)
    alice_client.post(f"/generations/{done.uuid}/retry")
    assert Generation.objects.count() == 1


def test_strangers_cannot_cancel_or_retry(client, alice, dave):
    generation = make_generation(alice, status=Status.FAILED)
    client.force_login(dave)
    assert client.post(f"/generations/{generation.uuid}/cancel").status_code == 404
    assert client.post(f"/generations/{generation.uuid}/retry").status_code == 404
    assert client.get(f"/generations/{generation.uuid}/retry").status_code == 405


def test_it_takes_a_phone_cameras_mpo_upload_as_a_jpeg(alice_client, alice, settings, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gallery.models import InputImage
    from jobs import catalog, tasks

    settings.AIMLAPI_API_KEY = "aimlapi-key"
    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    data, _ = default_input(catalog.MODELS["flux/dev/image-to-image"])
    photo = mpo_bytes()
    picture = SimpleUploadedFile("IMG_0001.JPG", photo, "image/jpeg")
    response = alice_client.post("/generate", {**data, "p_image_url": picture})
    assert response.status_code == 302
    item = InputImage.objects.get(owner=alice)
    assert item.content_type == "image/jpeg" and item.file.name.endswith(".jpg")
    with item.file.open("rb") as f:
        assert f.read() == photo  # kept as it is
    sent = inputs.request_params(Generation.objects.get())["image_url"]
    assert (sent.content_type, sent.data) == ("image/jpeg", photo)
