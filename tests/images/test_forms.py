"""The generate form: one test per kind of documented limit, and how each kind of field renders."""

import json
from html.parser import HTMLParser

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


# --- rendering ----------------------------------------------------------------------------------


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each <option>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.options: list[tuple[str, dict[str, str], str]] = []  # (select name, attrs, text)
        self._select = ""
        self._option: dict[str, str] | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        values = {k: "" if v is None else v for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "select":
            self._select = values.get("name", "")
        elif tag == "option":
            self._option, self._text = values, ""

    def handle_data(self, data):
        if self._option is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            self.options.append((self._select, self._option, self._text.strip()))
            self._option = None

    def named(self, name: str, tag: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if a.get("name") == name and tag in (None, t)]

    def one(self, name: str, tag: str) -> dict[str, str]:
        found = self.named(name, tag)
        assert len(found) == 1, (name, tag, found)
        return found[0]

    def choices(self, select: str) -> list[tuple[str, str, bool]]:
        return [(a["value"], text, "selected" in a) for s, a, text in self.options if s == select]


def fields_html(client, model_id: str) -> Tags:
    response = client.get("/generate/fields", {"model": model_id})
    assert response.status_code == 200
    return Tags(response.content.decode())


def test_it_renders_an_integer_input_with_its_limits_and_step(alice_client):
    tags = fields_html(alice_client, "sandbox/relay-async")
    width = tags.one("p_width", "input")
    assert (width["type"], width["value"], width["min"], width["max"], width["step"]) == (
        "number",
        "1024",
        "64",
        "2048",
        "32",
    )
    seed = tags.one("p_seed", "input")
    assert (seed["type"], seed["min"], seed["max"]) == ("number", "0", str(2**32 - 1))
    assert "value" not in seed and "step" not in seed


def test_it_renders_an_integer_input_without_a_step_when_none_is_documented(alice_client):
    count = fields_html(alice_client, "sandbox/flux-sync").one("p_num_images", "input")
    assert (count["type"], count["value"], count["min"], count["max"]) == ("number", "1", "1", "4")
    assert "step" not in count


def test_it_renders_a_number_input_with_any_step(alice_client):
    tags = fields_html(alice_client, "flux/srpo/image-to-image")
    strength = tags.one("p_strength", "input")
    assert (strength["type"], strength["value"], strength["min"], strength["max"]) == (
        "number",
        "0.95",
        "0",
        "1",
    )
    assert strength["step"] == "any"
    assert tags.one("p_guidance_scale", "input")["step"] == "any"


def test_it_renders_an_enum_as_a_select_with_the_default_selected(alice_client):
    tags = fields_html(alice_client, "flux-pro")
    tags.one("p_output_format", "select")
    assert tags.choices("p_output_format") == [("jpeg", "jpeg", True), ("png", "png", False)]
    assert [v for v, _, selected in tags.choices("p_safety_tolerance") if selected] == ["2"]


def test_it_offers_the_provider_default_for_an_enum_without_one(alice_client):
    documented = catalog.MODELS["luma/uni-1"].param("aspect_ratio").enum
    choices = fields_html(alice_client, "luma/uni-1").choices("p_aspect_ratio")
    assert choices[0] == ("", "Provider default", True)
    assert [v for v, _, _ in choices[1:]] == list(documented)


def test_it_renders_a_boolean_as_a_checkbox_checked_by_its_default(alice_client):
    tags = fields_html(alice_client, "flux/srpo")
    checker = tags.one("p_enable_safety_checker", "input")
    assert checker["type"] == "checkbox" and "checked" in checker
    sync = tags.one("p_sync_mode", "input")
    assert sync["type"] == "checkbox" and "checked" not in sync


def test_it_renders_a_boolean_without_default_as_a_three_way_select(alice_client):
    tags = fields_html(alice_client, "stable-diffusion-v3-medium")
    tags.one("p_prompt_expansion", "select")
    assert tags.choices("p_prompt_expansion") == [
        ("unknown", "Provider default", True),
        ("true", "Yes", False),
        ("false", "No", False),
    ]


def test_it_renders_a_size_as_presets_plus_width_and_height(alice_client):
    tags = fields_html(alice_client, "sandbox/flux-sync")
    tags.one("p_image_size", "select")
    choices = tags.choices("p_image_size")
    assert [v for v, _, _ in choices] == [
        "square_hd",
        "square",
        "portrait_4_3",
        "portrait_16_9",
        "landscape_4_3",
        "landscape_16_9",
        "custom",
    ]
    assert choices[0] == ("square_hd", "square hd (1024×1024)", True)
    assert choices[-1] == ("custom", "Custom width × height", False)
    for side in ("width", "height"):
        attrs = tags.one(f"p_image_size_{side}", "input")
        assert (attrs["type"], attrs["min"], attrs["max"], attrs["step"]) == (
            "number",
            "64",
            "2048",
            "32",
        )


def test_it_renders_a_custom_size_without_documented_pixel_limits(alice_client):
    tags = fields_html(alice_client, "hunyuan/hunyuan-image-v3-text-to-image")
    assert "min" not in tags.one("p_image_size_width", "input")


def test_it_renders_a_file_input_with_multiple_for_a_list_of_images(alice_client):
    attrs = fields_html(alice_client, "flux/kontext-max/image-to-image").one("p_image_url", "input")
    assert attrs["type"] == "file" and "multiple" in attrs
    assert attrs["accept"] == "image/png,image/jpeg,image/webp"


def test_it_renders_a_single_file_input_for_one_image(alice_client):
    attrs = fields_html(alice_client, "flux/dev/image-to-image").one("p_image_url", "input")
    assert attrs["type"] == "file" and "multiple" not in attrs
    assert attrs["accept"] == "image/png,image/jpeg,image/webp"


def test_it_offers_ones_own_gallery_pictures_to_pick(alice_client, alice, dave):
    mine = make_image(make_generation(alice, prompt="my fox", status=Status.SUCCEEDED))
    theirs = make_image(make_generation(dave, prompt="their owl", status=Status.SUCCEEDED))
    response = alice_client.get("/generate/fields", {"model": "flux/dev/image-to-image"})
    html = response.content.decode()
    tags = Tags(html)
    picks = tags.named("p_image_url_pick", "input")
    assert [(a["type"], a["value"]) for a in picks] == [("checkbox", str(mine.uuid))]
    thumbnails = [a for t, a in tags.tags if t == "img"]
    assert [(a["src"], a["alt"]) for a in thumbnails] == [
        (f"/images/{mine.uuid}/thumbnail", "my fox")
    ]
    assert str(theirs.uuid) not in html and "their owl" not in html


def test_it_says_when_there_is_nothing_to_pick(alice_client):
    html = alice_client.get("/generate/fields", {"model": "flux/dev/image-to-image"}).content
    assert b"Nothing in your gallery yet." in html


def test_it_renders_a_json_param_as_a_textarea(alice_client):
    tags = fields_html(alice_client, "recraft-v3")
    tags.one("p_colors", "textarea")
    html = alice_client.get("/generate/fields", {"model": "recraft-v3"}).content.decode()
    assert "[]</textarea>" in html


def test_it_renders_a_negative_prompt_as_a_textarea(alice_client):
    tags = fields_html(alice_client, "alibaba/qwen-image-3")
    assert tags.one("p_negative_prompt", "textarea")["maxlength"] == "500"


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
