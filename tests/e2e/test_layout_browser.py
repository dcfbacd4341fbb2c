"""The gallery's layout in real Chromium: justified rows that keep each picture's shape and fill
the width, the composer's Options remembered per person, in-flight cards that count the time,
tile actions reachable by keyboard, and all of it without JavaScript where it can be."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from gallery.models import Generation, Preferences, personal_team
from jobs import timing
from tests.e2e.conftest import until
from tests.factories import fresh, make_generation

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

Status = Generation.Status


@pytest.fixture
def seeded(transactional_db, live_server, alice):
    """24 images in four shapes: landscape, portrait, square and wide (seed_gallery)."""
    call_command("seed_gallery", images=24, owner="alice", verbosity=0)


def open_gallery(browser, live_server, username: str = "alice", **options) -> Page:
    page = browser.new_context(**options).new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("region", name="Gallery")).to_be_attached()
    return page


def rows_of_tiles(page: Page) -> list[list[dict]]:
    """Each picture's box and its shape as the server gave it (width / height), by row.
    Bounding boxes, not page scripts: this works in a page without JavaScript too."""
    rows: list[list[dict]] = []
    for tile in page.locator("#grid article.tile:has(img)").all():
        box = tile.locator("img").bounding_box()
        assert box is not None
        shape = int(tile.get_attribute("data-r") or 0) / 1000
        if rows and abs(rows[-1][0]["y"] - box["y"]) < 1:
            rows[-1].append(box | {"shape": shape})
        else:
            rows.append([box | {"shape": shape}])
    return rows


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_grid_fills_the_width_in_rows_that_keep_each_pictures_shape(
    javascript, seeded, live_server, browser
):
    per_row = {}
    for width in (1280, 1920):
        page = open_gallery(
            browser,
            live_server,
            viewport={"width": width, "height": 800},
            java_script_enabled=javascript,
        )
        try:
            grid = page.locator("#grid").bounding_box()
            # The composer and the filters leave the first row of pictures on the first screen.
            assert grid is not None and grid["y"] + 100 < 800
            assert grid is not None and grid["width"] > width * 0.9  # the whole width
            rows = rows_of_tiles(page)
            assert len(rows) >= 3
            shapes = {round(t["shape"], 2) for row in rows for t in row}
            assert shapes == {0.75, 1.0, 1.33, 1.75}  # thumbnails of 768x1024 to 1344x768
            for row in rows:
                for tile in row:  # each picture keeps its aspect ratio
                    assert tile["width"] / tile["height"] == pytest.approx(tile["shape"], rel=0.02)
                heights = [t["height"] for t in row]
                assert max(heights) - min(heights) < 1.5  # one height per row
            for row in rows[:-1]:  # every full row runs from edge to edge
                assert row[0]["x"] == pytest.approx(grid["x"], abs=2)
                right = row[-1]["x"] + row[-1]["width"]
                assert right == pytest.approx(grid["x"] + grid["width"], abs=3)
            last = rows[-1][0]["height"]
            assert last <= rows[0][0]["height"] * 1.6  # the last row is not blown up
            per_row[width] = len(rows[0]) + len(rows[1])
        finally:
            page.context.close()
    assert per_row[1920] > per_row[1280]  # denser on a wider screen


def options(page: Page):
    return page.locator("#generate-form details.more-options")


def test_the_options_disclosure_is_remembered_after_a_reload(
    transactional_db, live_server, browser, alice
):
    page = open_gallery(browser, live_server)
    try:
        expect(options(page)).not_to_have_attribute("open", "")
        # Seed is one of the model's less used options: folded away, there all the same.
        expect(page.get_by_label("Seed")).to_be_hidden()
        options(page).locator("summary").click()
        expect(page.get_by_label("Seed")).to_be_visible()
        until(lambda: Preferences.options_open_for(fresh(alice)), what="Options kept open")
        page.reload()
        expect(options(page)).to_have_attribute("open", "")
        expect(page.get_by_label("Seed")).to_be_visible()
        # Another model's fields, swapped in: still open.
        page.get_by_label("Model", exact=True).select_option("sandbox/relay-async")
        expect(page.get_by_label("Width")).to_have_value("1024")
        expect(options(page)).to_have_attribute("open", "")
        options(page).locator("summary").click()
        until(lambda: not Preferences.options_open_for(fresh(alice)), what="Options kept folded")
        page.reload()
        expect(options(page)).not_to_have_attribute("open", "")
    finally:
        page.context.close()


def test_without_javascript_a_button_keeps_the_options_open(
    transactional_db, live_server, browser, alice
):
    page = open_gallery(browser, live_server, java_script_enabled=False)
    try:
        options(page).locator("summary").click()  # a <details> opens without JavaScript
        page.get_by_role("button", name="Keep the options open next time").click()
        expect(options(page)).to_have_attribute("open", "")
        assert Preferences.options_open_for(fresh(alice))
        page.get_by_role("button", name="Keep the options folded next time").click()
        expect(options(page)).not_to_have_attribute("open", "")
        assert not Preferences.options_open_for(fresh(alice))
    finally:
        page.context.close()


@pytest.fixture
def learned(transactional_db, alice):
    """Five finished generations of sandbox/flux-sync, each ready 40 s after submission."""
    timing.forget()  # the live server shares this process and its memory
    now = timezone.now()
    for n in range(5):
        start = now - timedelta(hours=n + 1)
        make_generation(
            alice,
            status=Status.SUCCEEDED,
            submitted_at=start,
            result_at=start + timedelta(seconds=40.5),
            finished_at=start + timedelta(seconds=41),
        )
    yield
    timing.forget()


def test_an_in_flight_card_shows_its_time_and_a_bar_that_moves_without_asking(
    learned, live_server, browser, alice
):
    made = timezone.now() - timedelta(seconds=6)
    generation = make_generation(
        alice,
        prompt="a heron in the reeds",
        status=Status.RUNNING,
        submitted_at=made + timedelta(seconds=1),
    )
    generation.created_at = made
    generation.save(update_fields=["created_at"])
    page = open_gallery(browser, live_server)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/card" in r.url else None)
    try:
        card = page.locator(f"#gen-{generation.uuid}")
        expect(card).to_contain_text("Running")
        expect(card).to_contain_text("a heron in the reeds")
        expect(card).to_contain_text("sandbox/flux-sync")
        bar = card.get_by_role("progressbar", name="Progress")
        # 1 s queued, then the model's learned 40 s (less half a poll interval).
        assert int(bar.get_attribute("max") or 0) == 41
        first = float(bar.evaluate("b => b.value"))
        assert 5 <= first <= 9
        expect(card).to_contain_text("of about 41 s")
        elapsed = card.locator("[data-elapsed-text]")
        shown = int(elapsed.inner_text().split()[0])
        page.wait_for_function(
            "([el, s]) => parseInt(el.textContent, 10) >= s + 2",
            arg=[elapsed.element_handle(), shown],
        )
        assert float(bar.evaluate("b => b.value")) >= first + 2
        assert asked == []  # the card asked nothing: the bar is counted in the page
    finally:
        page.context.close()


def test_a_card_without_history_says_there_is_no_estimate_yet(
    transactional_db, live_server, browser, alice
):
    timing.forget()
    make_generation(alice, model_id="sandbox/relay-async", status=Status.QUEUED)
    page = open_gallery(browser, live_server)
    try:
        card = page.locator("#grid [aria-busy=true]")
        expect(card).to_contain_text("no estimate yet")
        expect(card.get_by_role("progressbar")).not_to_have_attribute("value", "")
    finally:
        page.context.close()


def test_a_pictures_actions_show_on_keyboard_focus_and_work(seeded, live_server, browser):
    page = open_gallery(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        tile = page.locator("#grid article.tile").first
        bar = tile.locator(".tile-bar")
        page.mouse.move(0, 0)
        expect(bar).to_have_css("opacity", "0")
        tile.locator("a.tile-open").focus()
        expect(bar).to_have_css("opacity", "1")
        names = []
        for _ in range(5):  # the checkbox, then the four actions, in order, by Tab
            page.keyboard.press("Tab")
            names.append(page.evaluate("() => document.activeElement.textContent.trim()"))
            assert tile.evaluate("t => t.contains(document.activeElement)")
        assert names[1:] == ["♡ Favorite", "Use these settings", "Download", "Open"]
        prompt = tile.locator("img").get_attribute("alt")
        page.keyboard.press("Shift+Tab")  # back from Open to Download
        with page.expect_download() as download:
            page.keyboard.press("Enter")
        assert download.value.suggested_filename.endswith(".png")
        page.keyboard.press("Shift+Tab")  # Use these settings: the composer, filled
        page.keyboard.press("Enter")
        expect(page.get_by_label("Prompt", exact=True)).to_have_value(prompt or "")
        assert "use=" in page.url
    finally:
        page.context.close()


def test_without_javascript_the_actions_are_links_and_a_form(seeded, live_server, browser, alice):
    page = open_gallery(browser, live_server, java_script_enabled=False)
    try:
        tile = page.locator("#grid article.tile").first
        tile.get_by_role("button", name="Favorite").click()  # a plain form: POST, then back
        tile = page.locator("#grid article.tile").first
        expect(tile.get_by_role("button", name="Unfavorite")).to_have_attribute(
            "aria-pressed", "true"
        )
        download = tile.get_by_role("link", name="Download")
        assert "download=1" in (download.get_attribute("href") or "")
        prompt = tile.locator("img").get_attribute("alt")
        tile.get_by_role("link", name="Use these settings").click()
        expect(page.get_by_label("Prompt", exact=True)).to_have_value(prompt or "")
        page.locator("#grid article.tile").first.get_by_role("link", name="Open").click()
        expect(page.get_by_role("link", name="Download original")).to_be_visible()
    finally:
        page.context.close()


def test_an_empty_gallery_and_an_empty_search_say_what_to_do_next(
    transactional_db, live_server, browser, alice
):
    make_generation(alice, status=Status.FAILED, error="The provider refused the prompt.")
    page = open_gallery(browser, live_server)
    try:
        failed = page.locator("#grid article.failed")
        expect(failed).to_contain_text("The provider refused the prompt.")
        expect(failed.get_by_role("button", name="Retry")).to_be_visible()
        expect(failed.get_by_role("link", name="Change and generate again")).to_be_visible()
        page.get_by_label("Search").fill("nothing like this")
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_text("Nothing matches these filters.")).to_be_visible()
        page.get_by_role("link", name="clear the filters").click()
        expect(failed).to_be_visible()
    finally:
        page.context.close()
    personal_team(alice).generations.all().delete()
    page = open_gallery(browser, live_server)
    try:
        expect(page.get_by_text("Your gallery is empty.")).to_be_visible()
        expect(page.get_by_role("link", name="Try one prompt on several")).to_be_visible()
    finally:
        page.context.close()
