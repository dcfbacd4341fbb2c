"""In real Chromium: paint a mask over an uploaded picture, generate with an edit model, and
check what the provider received: a PNG mask of the picture's exact size that marks the
painted area in that provider's convention (OpenAI: transparent; Relay: white)."""

import base64
import io

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from gallery.models import Generation
from tests.e2e.conftest import wait_for
from tests.factories import make_generation, make_image, png_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WIDTH, HEIGHT = 320, 256
BOAT = {"name": "boat.png", "mimeType": "image/png", "buffer": png_bytes(WIDTH, HEIGHT)}


def paint_top_left(page: Page) -> None:
    """One brush stroke across the top-left quarter of the picture."""
    canvas = page.get_by_role("img", name="Mask: the painted area will be changed")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.2, steps=8)
    page.mouse.up()


def decode_mask(sent, model_id: str) -> bytes:
    if model_id.startswith("openai/gpt-image-1:"):
        (part,) = sent.files("mask")
        assert part.content_type == "image/png"
        return part.data
    value = sent.json["mask"]
    return base64.b64decode(value.partition(",")[2] if value.startswith("data:") else value)


@pytest.mark.parametrize(
    ("model_id", "path", "edit", "keep"),
    [
        ("openai/gpt-image-1:edit", "/aimlapi/v1/images/edits", 0, 255),  # alpha
        ("openai/gpt-image-1.5-I2I", "/relay/v2/image/gpt-image/edit", 255, 0),  # luminance
    ],
    ids=["transparent-edits", "white-edits"],
)
def test_a_painted_mask_reaches_the_provider_in_its_convention(
    model_id, path, edit, keep, providers, live_server, alice, browser, sign_in
):
    prompt = f"a lighthouse where the sky was ({model_id})"
    errors: list[str] = []
    context = browser.new_context()
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(page, "alice")
        page.get_by_label("Model", exact=True).select_option(model_id)
        page.get_by_label("Image", exact=True).set_input_files(files=[BOAT])
        editor = page.get_by_role("region", name="Mask editor")
        expect(editor.get_by_role("status")).to_contain_text("Paint the area to change")
        paint_top_left(page)
        expect(editor.get_by_role("status")).to_contain_text(f"Mask ready: {WIDTH} × {HEIGHT} px")
        # Undo takes the stroke back, redo brings it again.
        editor.get_by_role("button", name="Undo").click()
        expect(editor.get_by_role("status")).to_contain_text("Nothing painted")
        editor.get_by_role("button", name="Redo").click()
        expect(editor.get_by_role("status")).to_contain_text("Mask ready")
        page.get_by_label("Prompt", exact=True).fill(prompt)
        page.get_by_role("button", name="Generate").click()
        expect(
            page.get_by_role("region", name="Gallery").get_by_role("img", name=prompt)
        ).to_be_visible(timeout=30_000)
    finally:
        context.close()
    assert errors == []
    assert wait_for(Generation.objects.get(prompt=prompt)).status == "succeeded"
    (sent,) = providers.find(prompt=prompt, path=path)
    mask = PILImage.open(io.BytesIO(decode_mask(sent, model_id)))
    assert mask.format == "PNG"
    assert mask.size == (WIDTH, HEIGHT)
    channel = mask.convert("RGBA").getchannel("A" if edit == 0 else "R")
    painted = channel.getpixel((int(WIDTH * 0.2), int(HEIGHT * 0.2)))
    untouched = [
        channel.getpixel(xy) for xy in ((WIDTH - 5, HEIGHT - 5), (WIDTH // 2, HEIGHT - 20))
    ]
    assert painted == edit
    assert untouched == [keep, keep]


def test_the_editor_erases_inverts_and_clears(e2e, live_server, alice, browser, sign_in, settings):
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, "alice")
        page.get_by_label("Model", exact=True).select_option("openai/gpt-image-1:edit")
        page.get_by_label("Image", exact=True).set_input_files(files=[BOAT])
        editor = page.get_by_role("region", name="Mask editor")
        status = editor.get_by_role("status")
        expect(status).to_contain_text("Paint the area to change")
        editor.get_by_role("button", name="Invert").click()
        expect(status).to_contain_text("100% of the picture will change")
        editor.get_by_role("button", name="Eraser").click()
        paint_top_left(page)
        expect(status).not_to_contain_text("100%")
        expect(status).to_contain_text("Mask ready")
        editor.get_by_label("Show the mask alone").check()
        expect(editor.locator(".mask-stage")).to_have_class("mask-stage mask-only")
        editor.get_by_role("button", name="Clear").click()
        expect(status).to_contain_text("Nothing painted")
        files = page.get_by_label("Mask", exact=True).evaluate("input => input.files.length")
        assert files == 0
    finally:
        context.close()


def test_a_picture_dropped_on_the_composer_becomes_the_source(
    e2e, live_server, alice, browser, sign_in, settings
):
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, "alice")
        page.get_by_label("Model", exact=True).select_option("openai/gpt-image-1:edit")
        image = page.get_by_label("Image", exact=True)
        expect(image).to_be_attached()  # the edit model's fields have been swapped in
        data = list(png_bytes(WIDTH, HEIGHT))
        drop = page.evaluate_handle(
            """bytes => {
              const transfer = new DataTransfer();
              const file = new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"});
              transfer.items.add(file);
              return transfer;
            }""",
            data,
        )
        page.get_by_label("Prompt", exact=True).dispatch_event("drop", {"dataTransfer": drop})
        assert image.evaluate("input => input.files[0].name") == "dropped.png"
        expect(page.get_by_role("region", name="Mask editor")).to_be_visible()
    finally:
        context.close()


def test_picking_a_gallery_picture_opens_the_editor_at_its_size(
    e2e, live_server, alice, browser, sign_in, settings
):
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    make_image(make_generation(alice, status=Generation.Status.SUCCEEDED))  # 64 x 48
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, "alice")
        page.get_by_label("Model", exact=True).select_option("openai/gpt-image-1:edit")
        page.locator('input[name="p_image_pick"]').first.check()
        editor = page.get_by_role("region", name="Mask editor")
        expect(editor.get_by_role("status")).to_contain_text("(64 × 48 px)")
        paint_top_left(page)
        expect(editor.get_by_role("status")).to_contain_text("Mask ready: 64 × 48 px")
        page.locator('input[name="p_image_pick"]').first.uncheck()
        expect(editor).to_have_count(0)
        assert page.get_by_label("Mask", exact=True).evaluate("input => input.files.length") == 0
    finally:
        context.close()
