"""How each kind of documented parameter renders in the generate form (gallery/images/fields.py)."""

from html.parser import HTMLParser

from gallery.models import Generation
from jobs import catalog
from tests.factories import make_generation, make_image

Status = Generation.Status


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


def test_the_quick_select_writes_what_djangos_templates_write():
    from django import forms
    from django.test.html import parse_html

    from gallery.images.fields import ModelSelect, QuickSelect, model_choices

    choices = model_choices()  # grouped by provider, as the generate form has them
    attrs = {"id": "id_model", "hx-get": "/x?a=1&b=<2>", "required": True, "data-off": False}
    chosen = choices[1][1][0][0]
    quick = QuickSelect(choices=choices).render("model", chosen, attrs)
    django = forms.Select(choices=choices).render("model", chosen, attrs)
    assert parse_html(quick) == parse_html(django)
    assert quick.count("<option") == sum(len(models) for _, models in choices)
    assert f'<option value="{chosen}" selected>' in quick and "&lt;2&gt;" in quick

    first = choices[0][1][0][0]
    disabled = ModelSelect(choices=choices, disabled={first: "set X_KEY to use"})
    html = disabled.render("model", "", {})
    assert f'<option value="{first}" disabled>' in html and "(set X_KEY to use)</option>" in html
