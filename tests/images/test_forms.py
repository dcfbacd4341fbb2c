"""The generate form: one test per kind of documented limit, and the generate rate."""

import json

import pytest
from django.utils.datastructures import MultiValueDict

from gallery.images.forms import GenerateForm
from gallery.models import Generation, InputImage
from jobs import catalog
from jobs.providers import a1111
from tests.factories import default_input, make_generation, make_image, png_bytes, upload

Status = Generation.Status


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def keys(settings):
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    settings.RELAY_API_KEY = "relay-key"
    settings.A1111_BASE_URL = ""  # the A1111 models are not used here; never list checkpoints


def bound_form(model_id: str, user, changes: dict | None = None, files=None) -> GenerateForm:
    """The form for a model with its documented defaults, some values changed."""
    data, default_files = default_input(catalog.MODELS[model_id])
    data.update(changes or {})
    return GenerateForm(data, default_files if files is None else files, user=user)


def errors(form: GenerateForm, field: str) -> list[str]:
    assert not form.is_valid()
    return form.errors.get(field, [])


def pictures(name: str, count: int) -> MultiValueDict:
    return MultiValueDict({name: [upload(f"in{i}.png") for i in range(count)]})


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "changes", "field", "message"),
    [
        pytest.param(
            "sandbox/flux-sync",
            {"p_num_images": "0"},
            "p_num_images",
            "Ensure this value is greater than or equal to 1.",
            id="integer-below-min",
        ),
        pytest.param(
            "sandbox/flux-sync",
            {"p_num_images": "5"},
            "p_num_images",
            "Ensure this value is less than or equal to 4.",
            id="integer-above-max",
        ),
        pytest.param(
            "flux/dev",
            {"p_seed": "0"},
            "p_seed",
            "Ensure this value is greater than or equal to 1.",
            id="seed-below-min",
        ),
        pytest.param(
            "flux/srpo/image-to-image",
            {"p_strength": "1.5"},
            "p_strength",
            "Ensure this value is less than or equal to 1.",
            id="number-above-max",
        ),
        pytest.param(
            "flux/dev",
            {"p_guidance_scale": "0.5"},
            "p_guidance_scale",
            "Ensure this value is greater than or equal to 1.",
            id="number-below-min",
        ),
        pytest.param(
            "sandbox/flux-sync",
            {"p_image_size": "custom", "p_image_size_width": "650", "p_image_size_height": "384"},
            "p_image_size_width",
            "Must be a multiple of 32.",
            id="custom-width-not-multiple-of-32",
        ),
        pytest.param(
            "flux/dev",
            {"p_image_size": "custom", "p_image_size_width": "1024", "p_image_size_height": "1600"},
            "p_image_size_height",
            "Ensure this value is less than or equal to 1536.",
            id="custom-height-above-max",
        ),
        pytest.param(
            "black-forest-labs/FLUX-2-pro",
            {"p_width": "1000"},
            "p_width",
            "Must be a multiple of 32.",
            id="relay-flux-width-not-multiple-of-32",
        ),
        pytest.param(
            "black-forest-labs/FLUX-2-pro",
            {"p_width": "32"},
            "p_width",
            "Ensure this value is greater than or equal to 64.",
            id="relay-flux-width-below-min",
        ),
        pytest.param(
            "flux-pro",
            {"p_output_format": "gif"},
            "p_output_format",
            "Select a valid choice. gif is not one of the available choices.",
            id="enum-outside-list",
        ),
        pytest.param(
            "beeble/switchx-image-to-image",
            {"p_max_resolution": "480"},
            "p_max_resolution",
            "Select a valid choice. 480 is not one of the available choices.",
            id="integer-enum-outside-list",
        ),
        pytest.param(
            "flux/dev",
            {"p_image_size": "poster"},
            "p_image_size",
            "Select a valid choice. poster is not one of the available choices.",
            id="size-preset-outside-list",
        ),
        pytest.param(
            "google/imagen-4.0-generate-001",
            {"prompt": "x" * 401},
            "prompt",
            "Ensure this value has at most 400 characters (it has 401).",
            id="prompt-too-long",
        ),
        pytest.param(
            "alibaba/qwen-image-3",
            {"p_negative_prompt": "x" * 501},
            "p_negative_prompt",
            "Ensure this value has at most 500 characters (it has 501).",
            id="negative-prompt-too-long",
        ),
        pytest.param(
            "recraft-v3",
            {"p_colors": '[{"r": 255, "g": 0'},
            "p_colors",
            "Enter a valid JSON.",
            id="invalid-json",
        ),
    ],
)
def test_it_refuses_a_value_outside_the_documented_limits(
    model_id, changes, field, message, alice, keys
):
    form = bound_form(model_id, alice, changes)
    assert message in errors(form, field)
    assert set(form.errors) == {field}


def test_it_does_not_ask_for_a_width_that_was_given(alice, keys):
    changes = {"p_image_size": "custom", "p_image_size_width": "650", "p_image_size_height": "384"}
    form = bound_form("sandbox/flux-sync", alice, changes)
    assert set(form.errors) == {"p_image_size_width"}


def test_it_accepts_the_same_form_within_the_limits(alice, keys):
    form = bound_form(
        "sandbox/flux-sync",
        alice,
        {"p_image_size": "custom", "p_image_size_width": "640", "p_image_size_height": "384"},
    )
    assert form.errors == {}
    assert form.params()["image_size"] == {"width": 640, "height": 384}


@pytest.mark.parametrize(
    ("model_id", "field", "count", "message"),
    [
        ("alibaba/qwen-image-3-edit", "p_image_urls", 4, "Use at most 3 images."),
        ("reve/remix-edit-image", "p_image_urls", 5, "Use at most 4 images."),
        ("bytedance/seedream-v4-edit", "p_image_urls", 11, "Use at most 10 images."),
    ],
)
def test_it_refuses_too_many_images(model_id, field, count, message, alice, keys):
    form = bound_form(model_id, alice, files=pictures(field, count))
    assert errors(form, field) == [message]


def test_it_counts_gallery_picks_with_uploads(alice, keys):
    picks = [str(make_image(make_generation(alice)).uuid) for _ in range(2)]
    form = bound_form(
        "alibaba/qwen-image-3-edit",
        alice,
        {"p_image_urls_pick": picks},
        files=pictures("p_image_urls", 2),
    )
    assert errors(form, "p_image_urls") == ["Use at most 3 images."]


def test_it_refuses_a_second_image_for_a_single_image_model(alice, keys, settings, monkeypatch):
    settings.A1111_BASE_URL = "http://sd.example.test"
    monkeypatch.setattr(a1111, "checkpoints", lambda base_url: [])
    form = bound_form("a1111/img2img", alice, files=pictures("p_init_images", 2))
    assert errors(form, "p_init_images") == ["Use at most 1 image."]


@pytest.mark.parametrize(
    ("model_id", "field"),
    [
        ("flux/dev/image-to-image", "p_image_url"),  # one image
        ("flux/kontext-max/image-to-image", "p_image_url"),  # a list of images
        ("openai/gpt-image-1:edit", "p_image"),  # multipart files
    ],
)
def test_it_requires_a_required_image(model_id, field, alice, keys):
    form = bound_form(model_id, alice, files=MultiValueDict())
    assert errors(form, field) == ["Add at least 1 image."]


def test_it_refuses_an_upload_that_is_not_a_picture(alice, keys):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect/></svg>'
    files = MultiValueDict({"p_image_url": [upload("x.png", svg)]})
    form = bound_form("flux/dev/image-to-image", alice, files=files)
    # The count check then adds "Add at least 1 image." after it, as nothing valid is left.
    assert errors(form, "p_image_url")[0] == "x.png is not a PNG, JPEG or WebP picture."
    assert InputImage.objects.count() == 0


def test_it_refuses_an_upload_over_the_size_limit(alice, keys, settings):
    settings.UPLOAD_MAX_BYTES = len(png_bytes()) - 1
    form = bound_form("flux/dev/image-to-image", alice)
    message = errors(form, "p_image_url")[0]
    assert message.startswith("in.png is larger than ")
    assert message.endswith("bytes; use a smaller picture.")  # the limit, in plain words


def test_it_accepts_an_upload_at_the_size_limit(alice, keys, settings):
    settings.UPLOAD_MAX_BYTES = len(png_bytes())
    form = bound_form("flux/dev/image-to-image", alice)
    assert form.errors == {}


def test_it_refuses_a_pick_from_someone_elses_gallery(alice, dave, keys):
    theirs = make_image(make_generation(dave, status=Status.SUCCEEDED))
    form = bound_form(
        "flux/dev/image-to-image",
        alice,
        {"p_image_url_pick": [str(theirs.uuid)]},
        files=MultiValueDict(),
    )
    assert errors(form, "p_image_url_pick") == [
        f"Select a valid choice. {theirs.uuid} is not one of the available choices."
    ]


def test_it_takes_a_pick_from_ones_own_gallery(alice, keys):
    mine = make_image(make_generation(alice, status=Status.SUCCEEDED))
    form = bound_form(
        "flux/dev/image-to-image",
        alice,
        {"p_image_url_pick": [str(mine.uuid)]},
        files=MultiValueDict(),
    )
    assert form.errors == {}
    assert form.params()["image_url"] == {"image": str(mine.uuid)}


def test_it_refuses_more_json_items_than_documented(alice, keys):
    loras = [{"path": f"https://example.test/{i}.safetensors", "scale": 1} for i in range(4)]
    form = bound_form("blackforestlabs/flux-2-lora", alice, {"p_loras": json.dumps(loras)})
    assert errors(form, "p_loras")


@pytest.mark.parametrize(
    ("model_id", "field", "value"),
    [
        ("blackforestlabs/flux-2-lora", "p_loras", [{"path": {"image": "{uuid}"}, "scale": 1}]),
        ("blackforestlabs/flux-2-lora-edit", "p_loras", [{"a": [[{"upload": "{uuid}"}]]}]),
        ("recraft-v3", "p_colors", [{"rgb": [1, 2, 3]}, {"image": "{uuid}"}]),
    ],
)
def test_it_refuses_a_picture_named_in_a_json_field(alice, keys, model_id, field, value):
    mine = make_image(make_generation(alice, status=Status.SUCCEEDED))
    text = json.dumps(value).replace("{uuid}", str(mine.uuid))
    form = bound_form(model_id, alice, {field: text})
    assert errors(form, field) == [
        'A picture cannot be named here ({"image": …} or {"upload": …}); use the picture fields.'
    ]


def test_it_refuses_json_nested_too_deeply_without_a_server_error(alice_client, keys):
    deep = "[" * 100_000 + "]" * 100_000
    data = {"model": "recraft-v3", "prompt": "x", "p_image_size": "square_hd", "p_colors": deep}
    response = alice_client.post("/generate", data)
    assert response.status_code == 400
    assert response.context["form"].errors["p_colors"] == ["Enter a valid JSON."]


def test_it_offers_and_takes_pictures_of_the_generating_team_only(studio, alice, keys):
    """Alice sees the Studio's pictures, but generating in her own team, she may not use them."""
    studios = make_image(make_generation(alice, team=studio, status=Status.SUCCEEDED))
    mine = make_image(make_generation(alice, status=Status.SUCCEEDED))
    form = bound_form(
        "flux/dev/image-to-image",
        alice,
        {"p_image_url_pick": [str(studios.uuid)]},
        files=MultiValueDict(),
    )
    assert errors(form, "p_image_url_pick") == [
        f"Select a valid choice. {studios.uuid} is not one of the available choices."
    ]
    in_studio = GenerateForm(model_id="flux/dev/image-to-image", user=alice, team=studio)
    offered = [value for value, _ in in_studio.fields["p_image_url_pick"].choices]
    assert offered == [str(studios.uuid)] and str(mine.uuid) not in offered


def test_texts_are_limited_to_4000_characters_when_the_catalog_gives_no_limit(
    alice_client, settings
):
    """Without a documented limit a prompt could be as long as the request (10 MB)."""
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    model = catalog.get("imagen4/preview")
    assert model.prompt is not None and model.prompt.max_length is None
    response = alice_client.post("/generate", {"model": model.id, "prompt": "a" * 4001})
    assert response.status_code == 400
    assert "at most 4000 characters (it has 4001)" in response.content.decode()
    negative = catalog.get("a1111/txt2img").param("negative_prompt")
    assert negative.max_length is None
    field = GenerateForm(user=None, model_id="a1111/txt2img").fields["p_negative_prompt"]
    assert field.max_length == 4000
    assert not Generation.objects.exists()


def test_a_form_that_makes_a_generation_is_held_to_the_generate_rate(alice, settings):
    settings.GENERATE_RATE = (1, 60)
    data, files = default_input(catalog.MODELS["sandbox/flux-sync"])
    # Looking at a form, or checking one that makes nothing (try-models counts its own), is free.
    assert all(GenerateForm(data, files, user=alice).is_valid() for _ in range(3))
    assert GenerateForm(data, files, user=alice, rate_limited=True).is_valid()
    form = GenerateForm(data, files, user=alice, rate_limited=True)
    assert not form.is_valid() and form.has_error("__all__", "throttled")
    assert "more than 1 generations in a minute" in form.non_field_errors()[0]


def test_a_form_with_mistakes_is_not_counted_against_the_rate(alice, settings):
    settings.GENERATE_RATE = (1, 60)
    data, files = default_input(catalog.MODELS["sandbox/flux-sync"])
    wrong = GenerateForm({**data, "p_num_images": "40"}, files, user=alice, rate_limited=True)
    assert not wrong.is_valid() and not wrong.has_error("__all__")
    assert GenerateForm(data, files, user=alice, rate_limited=True).is_valid()
