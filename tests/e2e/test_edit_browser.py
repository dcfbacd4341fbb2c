"""In real Chromium: edit an uploaded picture with a model served by the fake AI/ML API, and watch
the result arrive in the gallery without a reload."""

import io

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from gallery.models import Generation
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def png_bytes(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def test_it_edits_an_uploaded_picture_and_shows_the_result_without_a_reload(
    providers, live_server, alice, browser
):
    prompt = "the same boat, at night under the stars"
    errors: list[str] = []
    shown: list[PILImage.Image] = []

    def scenario(page: Page) -> None:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        log_in(page, live_server, "alice")
        page.evaluate("window.notReloaded = true")

        page.get_by_label("Model", exact=True).select_option("flux/dev/image-to-image")
        upload = page.get_by_label("Image", exact=True)  # the edit model's own file input
        expect(upload).to_have_attribute("type", "file")
        upload.set_input_files(
            files=[{"name": "boat.png", "mimeType": "image/png", "buffer": png_bytes(320, 256)}]
        )
        page.get_by_label("Prompt", exact=True).fill(prompt)
        page.get_by_role("button", name="Generate").click()

        gallery = page.get_by_role("region", name="Gallery")
        image = gallery.get_by_role("img", name=prompt)
        expect(image).to_be_visible(timeout=30_000)
        # Its box is laid out before the file arrives (the grid knows its shape): wait for the file.
        loaded = "img => img.complete && img.naturalWidth > 0"
        page.wait_for_function(loaded, arg=image.element_handle(), timeout=10_000)
        source = image.evaluate("img => img.currentSrc")
        shown.append(PILImage.open(io.BytesIO(page.request.get(source).body())))
        assert page.evaluate("window.notReloaded") is True

    context = browser.new_context()
    try:
        scenario(context.new_page())
    finally:
        context.close()
    assert errors == [], errors
    # What the browser shows is the fake's answer, made at the input's size: 320 x 256.
    assert shown[0].format == "WEBP" and abs(shown[0].width / shown[0].height - 320 / 256) < 0.02
    stored = Generation.objects.get(prompt=prompt).images.get()
    assert (stored.width, stored.height) == (320, 256)
    sent = providers.find(prompt=prompt, path="/aimlapi/v1/images/generations")
    assert len(sent) == 1
    assert sent[0].json["image_url"].startswith("data:image/png;base64,")
