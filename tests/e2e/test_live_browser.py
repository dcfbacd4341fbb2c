"""Live updates across web processes, in real Chromium: two tabs on two web processes see a new
image without a reload, one of them through a restart of its web process; without JavaScript a
reload shows it, and the "Older images" link pages on."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect

from gallery.models import Generation, Image
from tests.e2e import conftest
from tests.e2e.started import StartedApp, free_port, started_app
from tests.factories import make_generation, make_image

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Set down when each image first showed in the tab (the test only prints these delays;
# bench/live_updates.py measures them). Run by Playwright, not by the page: no inline script.
WATCH = """() => {
  window.shownAt = {};
  new MutationObserver(() => {
    document.querySelectorAll("#grid img[alt]").forEach(img => {
      if (!(img.alt in window.shownAt)) window.shownAt[img.alt] = Date.now();
    });
  }).observe(document.getElementById("grid"), {childList: true, subtree: true});
  window.notReloaded = true;
}"""


@pytest.fixture
def second_web(e2e, live_server, worker_bucket, tmp_path):
    """Start (and restart) a second web process as an operator would: gunicorn, the same
    database, cache, broker and bucket as the live server, the same SECRET_KEY."""
    env = {
        "SECRET_KEY": django_settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
        "SANDBOX_ENABLED": "1",
        "SANDBOX_BASE_URL": f"{live_server.url}/sandbox",
        # One machine shares the file cache and the broker folder under VAR_DIR; hosts, Redis.
        "VAR_DIR": str(django_settings.VAR_DIR),
        "BROKER_DIR": str(django_settings.BROKER_DIR),
        "REDIS_URL": django_settings.REDIS_URL,
        **worker_bucket.env,
    }
    port = free_port()

    @contextmanager
    def run() -> Iterator[StartedApp]:
        with started_app(conftest.test_database_url(), tmp_path / "web2", env, port=port) as app:
            yield app

    return run


def open_gallery(browser, base_url: str, username: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("region", name="Gallery")).to_be_attached()
    page.evaluate(WATCH)
    return page


def generate(page: Page, prompt: str) -> None:
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Generate").click()


def stored(prompt: str, timeout: float = 60) -> Image:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Image.objects.filter(generation__prompt=prompt).first()
        if found and found.generation.status == Generation.Status.SUCCEEDED:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{prompt!r} was not stored within {timeout}s")


def shown(page: Page, prompt: str, image: Image, where: str) -> None:
    """The image appears in the tab, without a reload; prints how long after it was stored."""
    tile = page.get_by_role("region", name="Gallery").get_by_role("img", name=prompt)
    expect(tile).to_be_visible(timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    finished = image.generation.finished_at.timestamp()  # when its card shows it
    delay = page.evaluate("p => window.shownAt[p]", prompt) / 1000 - finished
    print(f"{where}: {prompt!r} visible {delay:.2f}s after it was stored")


def test_a_new_image_reaches_tabs_on_two_web_processes_even_through_a_restart(
    live_server, second_web, browser, alice, settings
):
    # Hashed as the started process checks it (the test process hashes fast, with MD5).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    alice.set_password("password")
    alice.save()
    with second_web() as web2:
        here = open_gallery(browser, live_server.url, "alice")
        errors: list[str] = []  # web 1 never goes down: its tab must log no error at all
        here.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        here.on("pageerror", lambda e: errors.append(str(e)))  # an uncaught exception
        there = open_gallery(browser, web2.base_url, "alice")
        generate(here, "a lighthouse in the fog")
        first = stored("a lighthouse in the fog")
        shown(here, "a lighthouse in the fog", first, "web 1")
        shown(there, "a lighthouse in the fog", first, "web 2")

    # web 2 is down: its tab's polls fail. An image is made meanwhile...
    generate(here, "a kite over the dunes")
    missed = stored("a kite over the dunes")
    shown(here, "a kite over the dunes", missed, "web 1")
    with second_web():
        # ...and the tab catches up once its web process is back, then gets the next one.
        shown(there, "a kite over the dunes", missed, "web 2 (restarted)")
        generate(here, "a heron at dawn")
        after = stored("a heron at dawn")
        shown(there, "a heron at dawn", after, "web 2 (restarted)")
        tiles = there.get_by_role("region", name="Gallery").get_by_role("img")
        expect(tiles).to_have_count(3)  # each image once
    assert errors == [], errors


def test_without_javascript_a_reload_shows_new_images_and_older_ones_page_on(
    e2e, live_server, browser, alice
):
    # More than a page of older images, so the grid ends with an "Older images" link.
    for index in range(50):
        make_image(make_generation(alice, prompt=f"old {index}", status="succeeded"))
    page = browser.new_context(java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Prompt").fill("a snail on a leaf")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("link", name="Reload to see it")).to_be_visible()
    stored("a snail on a leaf")
    page.get_by_role("link", name="Reload to see it").click()
    gallery = page.get_by_role("region", name="Gallery")
    expect(gallery.get_by_role("img", name="a snail on a leaf")).to_be_attached()
    expect(gallery.get_by_role("img", name="old 49")).to_be_attached()
    expect(gallery.get_by_role("img", name="old 0")).not_to_be_attached()
    page.get_by_role("link", name="Older images").click()
    expect(
        page.get_by_role("region", name="Gallery").get_by_role("img", name="old 0")
    ).to_be_attached()
