"""Two people in one team, two browsers: one generates, the other sees it arrive and comments,
and the first sees the comment, all without reloading."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def switch_to(page, team_name: str) -> None:
    page.get_by_label("Team").select_option(label=team_name)
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("heading", name=team_name)).to_be_visible()


def open_page(page) -> None:
    """A tile opens in the lightbox; its "Open page" link leads to the image page."""
    page.get_by_role("dialog", name="Image viewer").get_by_role("link", name="Open page").click()


def test_teammates_see_each_others_images_and_comments(e2e, live_server, studio, browser):
    alice_context, bob_context = browser.new_context(), browser.new_context()
    alice, bob = alice_context.new_page(), bob_context.new_page()
    try:
        for page, name in ((alice, "alice"), (bob, "bob")):
            log_in(page, live_server, name)
            switch_to(page, "Studio")
        bob.evaluate("window.notReloaded = true")

        alice.get_by_label("Model", exact=True).select_option("sandbox/flux-sync")
        alice.get_by_label("Prompt").fill("a shared lighthouse")
        alice.get_by_label("Size", exact=True).select_option("square")
        alice.get_by_role("button", name="Generate").click()

        arrived = bob.get_by_role("region", name="Gallery").get_by_role(
            "img", name="a shared lighthouse"
        )
        expect(arrived).to_be_visible(timeout=30_000)
        assert bob.evaluate("window.notReloaded") is True
        expect(bob.get_by_role("region", name="Gallery").get_by_text("alice ·")).to_be_visible()

        alice.get_by_role("region", name="Gallery").get_by_role(
            "img", name="a shared lighthouse"
        ).click()
        alice.get_by_role("dialog", name="Image viewer").get_by_role(
            "link", name="Open page"
        ).click()
        expect(alice.get_by_role("region", name="Comments")).to_be_visible()
        alice.evaluate("window.notReloaded = true")

        arrived.click()
        open_page(bob)
        bob.get_by_label("Add a comment").fill("@alice love the light")
        bob.get_by_role("button", name="Comment").click()
        expect(bob.get_by_role("region", name="Comments")).to_contain_text("love the light")

        expect(alice.get_by_role("region", name="Comments")).to_contain_text(
            "love the light", timeout=15_000
        )
        assert alice.evaluate("window.notReloaded") is True
        alice.goto(f"{live_server.url}/notifications/")
        expect(alice.get_by_role("main")).to_contain_text("bob mentioned you")
    finally:
        alice_context.close()
        bob_context.close()
