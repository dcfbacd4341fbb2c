"""The gallery in Chromium: infinite scroll, filters, keyboard browsing, bulk export."""

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from gallery.images import browse
from gallery.models import Favorite
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def seeded(e2e, alice, monkeypatch):
    monkeypatch.setattr(browse, "PAGE_SIZE", 12)
    call_command("seed_gallery", images=30, owner="alice", verbosity=0)


def scroll_to_end_until(page, count: int) -> None:
    """Scroll to the end until at least `count` tiles are shown (the next page may follow at
    once: reaching the end again while the check runs loads it)."""
    for _ in range(40):
        if tiles(page).count() >= count:
            return
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(250)
    raise AssertionError(f"{tiles(page).count()} tiles shown, expected at least {count}")


def tiles(page):
    return page.get_by_role("region", name="Gallery").locator("article.tile")


def test_it_scrolls_for_more_and_filters_by_url(live_server, seeded, page):
    log_in(page, live_server, "alice")
    expect(tiles(page)).to_have_count(12)
    scroll_to_end_until(page, 24)  # reaching the end of the page loads the next one
    scroll_to_end_until(page, 30)
    expect(tiles(page)).to_have_count(30)  # all of them, each once
    expect(page.get_by_role("link", name="Older images")).to_have_count(0)

    page.get_by_label("Search").fill("#7")
    page.get_by_role("button", name="Apply").click()
    expect(tiles(page)).to_have_count(1)
    assert "q=%237" in page.url
    page.reload()  # the filter lives in the URL
    expect(tiles(page)).to_have_count(1)


def test_it_browses_images_with_the_keyboard(live_server, seeded, alice, page):
    log_in(page, live_server, "alice")
    href = tiles(page).first.get_by_role("link").first.get_attribute("href")
    page.goto(live_server.url + href)
    start = page.url
    page.wait_for_load_state()
    page.keyboard.press("ArrowRight")
    expect(page).not_to_have_url(start)
    page.wait_for_load_state()  # the next page's shortcuts are ready
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(start)
    page.wait_for_load_state()
    page.keyboard.press("f")
    expect(page.locator("[data-shortcut=f]")).to_have_attribute("aria-pressed", "true")
    assert Favorite.objects.filter(user=alice).count() == 1
    with page.expect_download() as download:
        page.keyboard.press("d")
    assert download.value.suggested_filename.endswith(".png")
    page.keyboard.press("Escape")
    expect(page.get_by_role("region", name="Gallery")).to_be_visible()


def test_it_selects_several_and_exports_a_zip(live_server, seeded, page):
    log_in(page, live_server, "alice")
    boxes = page.get_by_role("region", name="Gallery").get_by_role("checkbox")
    boxes.nth(0).check()
    boxes.nth(3).click(modifiers=["Shift"])  # a range: the 1st to the 4th
    expect(boxes.nth(2)).to_be_checked()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export zip").click()
    archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    rows = json.loads(archive.read("metadata.json"))
    assert len(rows) == 4 and len(archive.namelist()) == 6


def test_the_lightbox_opens_browses_with_arrows_and_closes_with_escape(live_server, seeded, page):
    log_in(page, live_server, "alice")
    tiles(page).first.get_by_role("link").first.click()
    lightbox = page.get_by_role("dialog", name="Image viewer")
    expect(lightbox).to_be_visible()
    image = lightbox.get_by_role("img")
    first = image.get_attribute("src")
    page.keyboard.press("ArrowRight")
    expect(image).not_to_have_attribute("src", first)
    page.keyboard.press("ArrowLeft")
    expect(image).to_have_attribute("src", first)
    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()
    assert page.url.rstrip("/") == live_server.url  # never left the gallery


def test_a_long_scroll_keeps_the_page_light(live_server, seeded, page, monkeypatch):
    monkeypatch.setattr(browse, "MAX_TILES", 12)
    page.set_viewport_size({"width": 1280, "height": 500})
    log_in(page, live_server, "alice")
    for _ in range(40):  # to the very end, 30 images in pages of 12
        if page.get_by_role("link", name="Older images").count() == 0:
            break
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(250)
    # Rows out of sight above were dropped, once the last page has settled (on a busy machine
    # that can come after the "Older images" link is gone).
    expect(page.get_by_role("link", name="back to the newest")).to_be_attached()
    # A function, not an expression: the CSP forbids the eval Playwright polls an expression with.
    page.wait_for_function("() => document.querySelectorAll('#grid article.tile').length < 30")
    assert tiles(page).count() < 30
