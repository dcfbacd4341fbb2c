"""Share links in real Chromium: alice shares a gallery, a stranger without an account scrolls it
and opens the lightbox, alice revokes it, and the page and its file URLs are gone."""

import pytest
from playwright.sync_api import expect

from gallery.models import Generation, ShareLink
from gallery.sharing import public
from tests.factories import make_generation, make_image

pytestmark = [pytest.mark.browser]


@pytest.fixture
def shared_gallery(transactional_db, studio, alice, monkeypatch):
    """30 images in the studio's Main gallery, 12 to a page of the share page."""
    monkeypatch.setattr(public, "PAGE_SIZE", 12)
    main = studio.galleries.get(name="Main")
    for n in range(30):
        generation = make_generation(
            alice, team=studio, gallery=main, prompt=f"fox #{n}", status=Generation.Status.SUCCEEDED
        )
        make_image(generation)
    return main


@pytest.fixture
def owner(browser, live_server):
    """alice, logged in, in her own browser."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("region", name="Gallery")).to_be_attached()
    yield page
    context.close()


@pytest.fixture
def stranger(browser):
    """Someone with no account, in a browser of their own."""
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def tiles(page):
    return page.get_by_role("region", name="Gallery").locator("article.tile")


def all_loaded(page) -> bool:
    return page.evaluate(
        "Array.from(document.querySelectorAll('#grid img'))"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )


def test_a_stranger_browses_a_shared_gallery_until_it_is_revoked(
    live_server, shared_gallery, studio, owner, stranger
):
    owner.goto(f"{live_server.url}/teams/{studio.uuid}/")
    owner.get_by_label("Share a gallery").select_option(label="Main")
    owner.get_by_role("button", name="Share…").click()
    owner.get_by_label("Link expires").select_option(label="After 7 days")
    owner.get_by_role("button", name="Make share link").click()
    address = owner.locator("#share-address").inner_text().strip()
    assert address.startswith(f"{live_server.url}/s/")

    errors: list[str] = []
    stranger.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pages: list[str] = []
    stranger.on("request", lambda r: pages.append(r.url) if "after=" in r.url else None)
    first = stranger.goto(address)
    assert first is not None and first.text().count('<article class="tile"') == 12
    expect(stranger.get_by_role("heading", name="Main")).to_be_visible()
    for _ in range(40):  # scrolling to the end loads the next page, until there is none
        if tiles(stranger).count() >= 30:
            break
        stranger.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        stranger.wait_for_timeout(250)
    expect(tiles(stranger)).to_have_count(30)  # each once, in two more pages
    assert len(pages) == 2
    stranger.wait_for_function(
        "() => Array.from(document.querySelectorAll('#grid img')).every(i => i.complete)"
    )
    assert all_loaded(stranger)
    assert stranger.get_by_role("link", name="Log in").count() == 0
    assert stranger.locator("a[href^='/teams'], a[href^='/images'], a[href='/']").count() == 0

    tiles(stranger).first.get_by_role("link").click()
    lightbox = stranger.get_by_role("dialog", name="Image viewer")
    expect(lightbox).to_be_visible()
    shown = lightbox.locator("figure img")
    expect(shown).to_have_js_property("complete", True)
    assert shown.evaluate("img => img.naturalWidth") > 0
    stranger.keyboard.press("ArrowRight")  # the next older image of the shared gallery
    expect(lightbox.get_by_role("link", name="‹ Newer")).to_be_visible()
    served = lightbox.locator("figure img").get_attribute("src")
    assert served and served.startswith("/share/files/")
    assert stranger.request.get(live_server.url + served).status == 200
    assert errors == []

    owner.goto(f"{live_server.url}/teams/{studio.uuid}/")
    owner.get_by_role("button", name="Revoke the link to gallery Main").click()
    expect(owner.get_by_role("status")).to_contain_text("The share link no longer works.")
    assert ShareLink.objects.get().revoked_at is not None

    assert stranger.goto(address).status == 404
    assert stranger.request.get(live_server.url + served).status == 404
