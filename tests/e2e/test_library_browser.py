"""The prompt library in a real browser: applying a preset fills the generate form in place,
and "Save as preset" adds the form to the team's presets in one click."""

import pytest
from playwright.sync_api import expect

from gallery.models import Preset

pytestmark = [pytest.mark.browser]


@pytest.fixture
def bob_page(live_server, studio, bob, portrait_preset, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Team").select_option(label="Studio")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("heading", name="Studio")).to_be_visible()
    yield page
    context.close()


@pytest.fixture
def portrait_preset(studio, alice):
    return Preset.objects.create(
        team=studio, name="Watercolor portrait", model_id="sandbox/openai-sync",
        prompt="a watercolor portrait of {subject}, soft light",
        params={"size": "512x512", "n": 2}, created_by=alice,
    )  # fmt: skip


def test_applying_a_preset_fills_the_form(bob_page, transactional_db):
    page = bob_page
    page.evaluate("window.notReloaded = true")
    bar = page.get_by_role("group", name="Presets and styles")
    bar.get_by_label("Preset", exact=True).select_option(label="Watercolor portrait")
    bar.get_by_label("Subject").fill("an old sailor")
    bar.get_by_role("button", name="Apply preset").click()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(
        "a watercolor portrait of an old sailor, soft light"
    )
    expect(page.get_by_label("Model", exact=True)).to_have_value("sandbox/openai-sync")
    expect(page.get_by_label("Size", exact=True)).to_have_value("512x512")
    expect(page.get_by_label("Number of images")).to_have_value("2")
    assert page.evaluate("window.notReloaded") is True


def test_save_as_preset_is_one_click(bob_page, transactional_db):
    page = bob_page
    page.get_by_label("Model", exact=True).select_option("sandbox/flux-sync")
    page.get_by_label("Prompt", exact=True).fill("a lighthouse at {subject}")
    page.get_by_role("button", name="Save as preset").click()
    bar = page.get_by_role("group", name="Presets and styles")
    expect(bar).to_contain_text("Saved as the preset “a lighthouse at {subject}”")
    preset = Preset.objects.get(name="a lighthouse at {subject}")
    assert preset.model_id == "sandbox/flux-sync" and preset.created_by.username == "bob"
