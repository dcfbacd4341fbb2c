"""In real Chromium: log in, generate, and watch the thumbnail arrive without a reload."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_it_generates_and_shows_the_image_without_a_reload(e2e, live_server, alice, page):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_server, "alice")
    page.evaluate("window.notReloaded = true")

    page.get_by_label("Model", exact=True).select_option("sandbox/relay-async")
    expect(page.get_by_label("Width")).to_have_value("1024")  # the async model's own fields
    page.get_by_label("Width").fill("384")
    page.get_by_label("Height").fill("256")
    page.get_by_label("Prompt").fill("a paper boat on a quiet lake")
    page.get_by_role("button", name="Generate").click()

    gallery = page.get_by_role("region", name="Gallery")
    expect(gallery.locator("[aria-busy=true]")).to_have_count(1)  # the card appears at once
    image = gallery.get_by_role("img", name="a paper boat on a quiet lake")
    expect(image).to_be_visible(timeout=30_000)
    # Its box is laid out before the file arrives (the grid knows its shape): wait for the file.
    loaded = "img => img.complete && img.naturalWidth > 0"
    page.wait_for_function(loaded, arg=image.element_handle(), timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    assert errors == [], errors


def test_it_shows_a_mistake_beside_the_field(e2e, live_server, alice, page):
    log_in(page, live_server, "alice")
    page.get_by_label("Prompt").fill("a fox")
    page.get_by_label("Number of images").fill("9")
    page.get_by_label("Number of images").evaluate("el => el.removeAttribute('max')")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_contain_text("less than or equal to 4")
