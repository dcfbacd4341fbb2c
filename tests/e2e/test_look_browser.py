"""In real Chromium: both themes pass axe-core on every page a person reaches, the theme holds
across a reload, and on a 390 px phone no page is wider than the screen."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from gallery.models import Comment, Generation, Notification, personal_team
from tests.factories import make_generation, make_image, png_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

Status = Generation.Status
PHONE = {"width": 390, "height": 844}
OPENAI_EDIT = "openai/gpt-image-1:edit"


@pytest.fixture
def world(transactional_db, live_server, studio, alice, bob, settings):
    """Alice's pages with something on them: images, an image in flight, a comment, a mention,
    and the staff usage dashboard. Bob's gallery is empty."""
    settings.AIMLAPI_API_KEY = "aimlapi-key"  # the edit models are offered
    alice.is_staff = True
    alice.save()
    alice.user_permissions.add(Permission.objects.get(codename="view_usage"))
    team = personal_team(alice)
    images = []
    for prompt in ("a red fox in the snow", "a lighthouse at dusk", "a paper crane"):
        generation = make_generation(alice, team=team, prompt=prompt, status=Status.SUCCEEDED)
        images.append(make_image(generation))
    make_generation(alice, team=team, prompt="a boat, being made", status=Status.RUNNING)
    make_generation(alice, team=team, prompt="refused", status=Status.FAILED, error="No key.")
    comment = Comment.objects.create(image=images[0], author=bob, body="@alice lovely")
    Notification.objects.create(user=alice, actor=bob, comment=comment, text="bob mentioned you")
    first, second = images[0].uuid, images[1].uuid
    return {
        "gallery (full)": "/",
        "gallery (filtered)": "/?q=fox",
        "gallery (nothing matches)": "/?q=nothing+like+this",
        "image page": f"/images/{first}",
        "try models": "/try",
        "compare": f"/compare?image={first}&image={second}",
        "teams": "/teams/",
        "team page": f"/teams/{studio.uuid}/",
        "notifications": "/notifications/",
        "usage dashboard": "/staff/usage/",
        "galleries": "/galleries/",
        "password": "/password/change/",
        "first": first,
    }


def open_mask_editor(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("Model", exact=True).select_option(OPENAI_EDIT)
    picture = page.get_by_label("Image", exact=True)
    picture.set_input_files(
        files=[{"name": "boat.png", "mimeType": "image/png", "buffer": png_bytes(320, 256)}]
    )
    expect(page.get_by_role("region", name="Mask editor")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Paint the area")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_in_both_themes(scheme, world, live_server, browser, sign_in, axe):
    found: dict[str, list] = {}
    errors: list[str] = []
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}/login/")
        found["login"] = axe(page)
        sign_in(page, "bob")
        found["gallery (empty)"] = axe(page)
        page.get_by_role("button", name="Log out").click()
        sign_in(page, "alice")
        assert page.evaluate("getComputedStyle(document.body).colorScheme") == scheme
        for name, path in world.items():
            if name == "first":
                continue
            page.goto(f"{live_server.url}{path}")
            found[name] = axe(page)
        page.goto(f"{live_server.url}/")
        search = page.get_by_role("combobox", name="Choose a model: type its name, id or provider")
        search.click()
        page.get_by_role("group", name="Only models for").get_by_role("button", name="Edit").click()
        models = page.get_by_role("listbox", name="Models")
        expect(models.get_by_role("option").first).to_be_visible()
        found["model picker, open"] = axe(page)
        page.keyboard.press("Escape")
        page.locator("h1").click()
        page.keyboard.press("?")
        expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
        found["keyboard shortcuts"] = axe(page)
        page.keyboard.press("Escape")
        page.locator(f'a[data-lightbox*="{world["first"]}"]').first.click()
        expect(page.get_by_role("dialog", name="Image viewer")).to_be_visible()
        found["lightbox"] = axe(page)
        page.keyboard.press("Escape")
        tile = page.locator("#grid article.tile:has(img)").first
        tile.locator("a.tile-open").focus()
        page.keyboard.press("Tab")  # a picture's actions, shown on keyboard focus
        expect(tile.locator(".tile-bar")).to_have_css("opacity", "1")
        found["gallery (a picture's actions)"] = axe(page)
        page.locator("#generate-form details.more-options > summary").click()
        found["gallery (the composer's options open)"] = axe(page)
        open_mask_editor(page, live_server)
        found["mask editor"] = axe(page)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
    assert errors == []


def test_the_theme_holds_across_a_reload_and_a_new_session(world, live_server, browser, sign_in):
    context = browser.new_context(color_scheme="light")
    try:
        page = context.new_page()
        sign_in(page, "alice")
        background = "getComputedStyle(document.body).backgroundColor"
        light = page.evaluate(background)
        page.get_by_role("button", name="Dark").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert page.evaluate(background) != light
        page.wait_for_load_state("networkidle")  # the choice has reached the server
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        dark = page.evaluate(background)
        assert dark != light
        expect(page.get_by_role("button", name="Dark")).to_have_attribute("aria-pressed", "true")
    finally:
        context.close()
    # Another device, whose system is light: still dark, from the first paint.
    context = browser.new_context(color_scheme="light")
    try:
        page = context.new_page()
        sign_in(page, "alice")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert page.evaluate(background) == dark
    finally:
        context.close()


WIDER_THAN_THE_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter(e => {
    const box = e.getBoundingClientRect();
    const hidden = e.closest("dialog:not([open]), details:not([open]) > :not(summary)");
    return box.width > 0 && box.right > width + 1 && !hidden;
  }).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (e.className ? "." + e.className : ""));
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""


def test_no_page_is_wider_than_a_phone(world, live_server, browser, sign_in):
    too_wide: dict[str, dict] = {}
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login/")
        pages = {"login": page.evaluate(WIDER_THAN_THE_SCREEN)}
        sign_in(page, "alice")
        for name, path in world.items():
            if name != "first":
                page.goto(f"{live_server.url}{path}")
                pages[name] = page.evaluate(WIDER_THAN_THE_SCREEN)
        # The gallery with everything folded opened, and a picture ticked (the bulk bar shows).
        page.goto(f"{live_server.url}/")
        page.locator("#generate-form details.more-options > summary").tap()
        page.locator("details.more-filters > summary").tap()
        page.locator("#grid input[name=image]").first.check()
        expect(page.get_by_role("button", name="Export zip")).to_be_visible()
        pages["gallery (all open)"] = page.evaluate(WIDER_THAN_THE_SCREEN)
        open_mask_editor(page, live_server)
        pages["mask editor"] = page.evaluate(WIDER_THAN_THE_SCREEN)
        too_wide = {n: p for n, p in pages.items() if p["scroll"] > p["width"] or p["wide"]}
    finally:
        context.close()
    assert too_wide == {}


def test_on_a_phone_the_navigation_is_a_menu(world, live_server, browser, sign_in):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, "alice")
        teams = page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams")
        expect(teams).to_be_hidden()
        menu = page.locator("summary", has_text="Menu")
        expect(menu).to_be_visible()
        menu.tap()
        expect(teams).to_be_visible()
        box = teams.bounding_box()
        assert box is not None and box["height"] >= 44  # a thumb's target
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        teams.tap()
        expect(page).to_have_url(f"{live_server.url}/teams/")
        generate = page.get_by_role("button", name="Generate")
        page.goto(f"{live_server.url}/")
        assert generate.bounding_box()["width"] > PHONE["width"] * 0.8  # one thumb reaches it
    finally:
        context.close()


def test_on_a_wide_screen_the_navigation_is_always_shown(world, live_server, browser, sign_in):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        sign_in(page, "alice")
        expect(page.locator("summary", has_text="Menu")).to_be_hidden()
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Teams")).to_be_visible()
    finally:
        context.close()
