"""The mask a person sends with an edit model: a PNG of exactly its picture's size, in the
provider's convention, or a form error that says what to fix."""

import io
import re

import pytest
from django.utils.datastructures import MultiValueDict
from PIL import Image as PILImage

from gallery.images.forms import GenerateForm
from gallery.models import Generation
from tests.factories import make_generation, make_image, png_bytes, upload

OPENAI_EDIT = "openai/gpt-image-1:edit"  # transparent marks the area to edit
RELAY_EDIT = "openai/gpt-image-1.5-I2I"  # white marks the area to edit


@pytest.fixture
def keys(settings):
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    settings.RELAY_API_KEY = "relay-key"


def mask_png(width: int, height: int, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, (width, height), 0).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), "white").save(out, "JPEG")
    return out.getvalue()


def form(model_id: str, user, picture: bytes, mask: bytes | None, **data) -> GenerateForm:
    files = MultiValueDict({"p_image": [upload("boat.png", picture)]})
    if mask is not None:
        files["p_mask"] = upload("mask.png", mask)
    return GenerateForm({"model": model_id, "prompt": "a lighthouse", **data}, files, user=user)


@pytest.mark.parametrize("model_id", [OPENAI_EDIT, RELAY_EDIT])
def test_it_accepts_a_png_mask_of_the_pictures_size(model_id, alice, keys):
    made = form(model_id, alice, png_bytes(320, 256), mask_png(320, 256))
    assert made.errors == {}
    assert "upload" in made.params()["mask"]


@pytest.mark.parametrize("model_id", [OPENAI_EDIT, RELAY_EDIT])
def test_it_refuses_a_mask_of_another_size(model_id, alice, keys):
    made = form(model_id, alice, png_bytes(320, 256), mask_png(256, 256))
    assert made.errors == {
        "p_mask": [
            "The mask is 256 × 256 pixels but the picture it goes with is 320 × 256; a mask "
            "must be exactly the picture's size."
        ]
    }


def test_it_refuses_a_mask_that_is_not_a_png(alice, keys):
    made = form(RELAY_EDIT, alice, png_bytes(320, 256), jpeg(320, 256))
    assert made.errors == {"p_mask": ["The mask must be a PNG picture; mask.png is not one."]}


def test_it_refuses_an_opaque_mask_where_transparency_marks_the_edit(alice, keys):
    made = form(OPENAI_EDIT, alice, png_bytes(320, 256), mask_png(320, 256, mode="RGB"))
    assert made.errors == {
        "p_mask": [
            "GPT Image 1 Edit edits where the mask is transparent, and this mask has no "
            "transparency. Paint it in the mask editor, or save it as a PNG with transparency."
        ]
    }


def test_it_takes_an_opaque_mask_where_white_marks_the_edit(alice, keys):
    assert form(RELAY_EDIT, alice, png_bytes(320, 256), mask_png(320, 256, mode="L")).errors == {}


def test_it_checks_a_mask_against_a_picture_picked_from_the_gallery(alice, keys):
    picked = make_image(make_generation(alice, status=Generation.Status.SUCCEEDED))  # 64 x 48
    files = MultiValueDict({"p_mask": [upload("mask.png", mask_png(320, 256))]})
    data = {"model": RELAY_EDIT, "prompt": "a lighthouse", "p_image_pick": [str(picked.uuid)]}
    made = GenerateForm(data, files, user=alice)
    assert made.errors["p_mask"][0].startswith("The mask is 320 × 256 pixels but the picture")
    files = MultiValueDict({"p_mask": [upload("mask.png", mask_png(64, 48))]})
    assert GenerateForm(data, files, user=alice).errors == {}


def test_it_leaves_the_mask_out_when_there_is_none(alice, keys):
    made = form(OPENAI_EDIT, alice, png_bytes(320, 256), None)
    assert made.errors == {}
    assert "mask" not in made.params()


def test_the_mask_input_carries_its_picture_and_the_providers_colours(alice_client, keys):
    page = alice_client.get("/generate/fields", {"model": OPENAI_EDIT}).content.decode()
    assert 'data-mask-of="id_p_image"' in page
    assert 'data-mask-convention="transparent-edits"' in page
    assert 'data-mask-edit="0,0,0,0"' in page and 'data-mask-keep="0,0,0,255"' in page
    assert re.search(r'<input type="file" name="p_image"[^>]* data-source-image=""', page)
    assert not re.search(r'<input type="file" name="p_mask"[^>]* data-source-image', page)
    page = alice_client.get("/generate/fields", {"model": RELAY_EDIT}).content.decode()
    assert 'data-mask-edit="255,255,255,255"' in page
