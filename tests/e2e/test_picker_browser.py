"""In real Chromium: the searchable model picker over the Model select, and the keyboard
shortcuts (/ for the prompt, Ctrl+Enter to generate, ? for the list)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from gallery.models import Generation, Preferences, Price
from jobs import timing
from tests.factories import fresh, make_generation

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

Status = Generation.Status
SEARCH = "Choose a model: type its name, id or provider"


@pytest.fixture
def tab(browser, transactional_db, live_server, sign_in, alice):
    """Alice's gallery in a fresh tab; the test fails on any error the page logs."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, "alice")
    yield page
    context.close()
    assert errors == []


def options(page: Page):
    return page.get_by_role("listbox", name="Models").get_by_role("option")


def picker(page: Page):
    return page.get_by_role("combobox", name=SEARCH)


def entry(page: Page, name: str):
    return (
        page.get_by_role("listbox", name="Models")
        .get_by_role("option")
        .filter(has=page.locator(".picker-name", has_text=name))
    )


def model_select(page: Page):
    return page.get_by_label("Model", exact=True)


def test_typing_filters_and_a_click_chooses_as_the_select_does(tab):
    picker(tab).click()
    expect(picker(tab)).to_have_attribute("aria-expanded", "true")
    picker(tab).fill("relay async")
    options = tab.get_by_role("listbox", name="Models").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options).to_contain_text("Sandbox Relay (async)")
    expect(options).to_contain_text("Sandbox (offline) · text to image · free")
    expect(tab.get_by_role("status").filter(has_text="1 model")).to_be_visible()
    # By provider and by id too.
    picker(tab).fill("sandbox/flux")
    expect(options).to_have_count(1)
    picker(tab).fill("relay async")
    options.click()
    expect(model_select(tab)).to_have_value("sandbox/relay-async")
    expect(picker(tab)).to_have_attribute("aria-expanded", "false")
    expect(picker(tab)).to_have_value("Sandbox Relay (async)")
    # The select's change swapped in the model's own fields.
    expect(tab.locator("#model-fields .model-note")).to_contain_text("Sandbox Relay (async) · ")
    expect(tab.get_by_label("Width")).to_have_value("1024")


def test_it_is_usable_by_keyboard_alone(tab):
    tab.keyboard.press("/")
    expect(tab.get_by_label("Prompt", exact=True)).to_be_focused()
    for _ in range(8):  # on from the prompt, through the composer's line, to the picker
        tab.keyboard.press("Tab")
        if picker(tab).evaluate("el => el === document.activeElement"):
            break
    expect(picker(tab)).to_be_focused()
    tab.keyboard.press("ArrowDown")
    expect(picker(tab)).to_have_attribute("aria-expanded", "true")
    tab.keyboard.type("sandbox")
    expect(tab.get_by_role("listbox", name="Models").get_by_role("option")).to_have_count(3)
    # The entry the keys are on is the combobox's active descendant.
    first = tab.evaluate("document.activeElement.getAttribute('aria-activedescendant')")
    tab.keyboard.press("ArrowDown")
    second = tab.evaluate("document.activeElement.getAttribute('aria-activedescendant')")
    assert first and second and first != second
    chosen = tab.locator(f"#{second} .picker-name").inner_text().lstrip("☆★ ").strip()
    tab.keyboard.press("Enter")
    expect(picker(tab)).to_have_value(chosen)
    expect(tab.locator("#model-fields .model-note")).to_contain_text(f"{chosen} · ")
    # Escape closes without choosing and puts the chosen model's name back.
    tab.keyboard.type("dall")
    expect(picker(tab)).to_have_attribute("aria-expanded", "true")
    tab.keyboard.press("Escape")
    expect(picker(tab)).to_have_attribute("aria-expanded", "false")
    expect(picker(tab)).to_have_value(chosen)


def test_entries_show_price_typical_time_and_why_disabled(tab, alice, settings):
    settings.AIMLAPI_API_KEY = ""
    Price.objects.update_or_create(
        model_id="flux/schnell", defaults={"usd_per_image": Decimal("0.003")}
    )
    now = timezone.now()
    for seconds in (6, 8, 10):
        started = now - timedelta(minutes=5)
        make_generation(
            alice,
            status=Status.SUCCEEDED,
            submitted_at=started,
            result_at=started + timedelta(seconds=seconds),
            finished_at=started + timedelta(seconds=seconds + 1),
            provider_meta={"timings": {"elapsed_seconds": seconds}},
        )
    timing.forget()  # the first page load found no history, remembered a while
    tab.reload()
    picker(tab).click()
    expect(entry(tab, "Sandbox Flux")).to_contain_text("typically 8 s")  # the median
    picker(tab).fill("flux/schnell")
    schnell = options(tab).filter(has_text="flux/schnell").first
    expect(schnell).to_contain_text("about $0.003 per image")
    expect(schnell).to_contain_text("set AIMLAPI_API_KEY to use")
    expect(schnell).to_have_attribute("aria-disabled", "true")
    # A disabled model cannot be chosen, by pointer or by Enter.
    schnell.click(force=True)
    tab.keyboard.press("Enter")
    expect(picker(tab)).to_have_attribute("aria-expanded", "true")
    assert model_select(tab).input_value() == "sandbox/flux-sync"


def test_a_favorite_comes_first_and_stays_after_a_reload(tab, alice):
    picker(tab).click()
    picker(tab).fill("relay async")
    options(tab).click()
    star = tab.get_by_role("button", name="Favorite model")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    tab.wait_for_load_state("networkidle")
    assert Preferences.favorites_of(fresh(alice)) == ["sandbox/relay-async"]
    tab.reload()
    picker(tab).click()
    favorites = tab.get_by_role("group", name="Favorites")
    expect(favorites.get_by_role("option")).to_have_count(1)
    expect(favorites.get_by_role("option")).to_contain_text("Sandbox Relay (async), favorite")
    first = tab.get_by_role("listbox", name="Models").get_by_role("option").first
    expect(first).to_contain_text("Sandbox Relay (async)")


def test_recently_used_models_come_next(tab, alice):
    make_generation(alice, model_id="sandbox/openai-sync")
    make_generation(alice, model_id="sandbox/relay-async")  # the latest
    tab.reload()
    picker(tab).click()
    recent = tab.get_by_role("group", name="Recently used").get_by_role("option")
    expect(recent).to_have_count(2)
    expect(recent.first).to_contain_text("Sandbox Relay (async)")
    expect(recent.nth(1)).to_contain_text("Sandbox DALL·E-style")


def test_a_filter_chip_keeps_models_that_do_that(tab, settings):
    picker(tab).click()
    chip = tab.get_by_role("group", name="Only models for").get_by_role("button", name="Mask")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    options = tab.get_by_role("listbox", name="Models").get_by_role("option")
    expect(options.first).to_be_visible()
    for text in options.all_inner_texts():
        assert "mask" in text, text
    chip.click()
    expect(options.filter(has_text="Sandbox Flux")).to_have_count(1)


def test_slash_goes_to_the_prompt_and_question_mark_lists_the_shortcuts(tab):
    tab.locator("h1").click()
    tab.keyboard.press("/")
    prompt = tab.get_by_label("Prompt", exact=True)
    expect(prompt).to_be_focused()
    expect(prompt).to_have_attribute("aria-keyshortcuts", "/")
    tab.keyboard.type("a/b?")  # typed into a field, the keys are text
    expect(prompt).to_have_value("a/b?")
    expect(tab.get_by_role("dialog")).to_have_count(0)
    tab.locator("h1").click()
    tab.keyboard.press("?")
    dialog = tab.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Generate")
    expect(dialog).to_contain_text("Favorite")  # the lightbox's keys, from app.js
    tab.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_ctrl_enter_generates(e2e, tab):
    prompt = "a kite over the dunes, by keyboard"
    tab.get_by_label("Prompt", exact=True).fill(prompt)
    tab.keyboard.press("Control+Enter")
    gallery = tab.get_by_role("region", name="Gallery")
    expect(gallery.get_by_role("img", name=prompt)).to_be_visible(timeout=30_000)
    assert Generation.objects.filter(prompt=prompt).count() == 1


def test_the_picker_comes_back_once_with_a_form_that_has_a_mistake(tab):
    picker(tab).fill("relay async")
    options(tab).click()
    expect(tab.get_by_label("Width")).to_be_visible()
    picker(tab).fill("sandbox flux")
    options(tab).click()
    many = tab.get_by_label("Number of images")
    many.evaluate("el => el.removeAttribute('max')")
    many.fill("9")
    tab.get_by_label("Prompt", exact=True).fill("a fox")
    tab.get_by_role("button", name="Generate").click()
    expect(tab.get_by_role("alert")).to_contain_text("less than or equal to 4")
    expect(picker(tab)).to_have_count(1)
    expect(picker(tab)).to_have_value("Sandbox Flux")
    expect(model_select(tab)).to_have_value("sandbox/flux-sync")
