"""The comment box on the image page: the list polls and updates while a person types, and what
they have typed stays where it is."""

import time

import pytest
from playwright.sync_api import expect

from gallery.teams.activity import add_comment
from tests.e2e.conftest import log_in
from tests.factories import make_generation, make_image

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TYPED = "This light is lovely, could we try it at dusk as well? "
KEYSTROKE_SECONDS = 0.25
TYPING_SECONDS = 10


@pytest.mark.django_db(transaction=True)
def test_a_half_typed_comment_survives_the_list_updating(live_server, studio, alice, bob, browser):
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    context = browser.new_context()
    page = context.new_page()
    polls: list[float] = []  # when each poll of the list came back
    list_url = f"{live_server.url}/images/{image.uuid}/comments"
    page.on("response", lambda r: polls.append(time.monotonic()) if r.url == list_url else None)
    try:
        log_in(page, live_server, "alice")
        page.goto(f"{live_server.url}/images/{image.uuid}")
        comments = page.get_by_role("region", name="Comments")
        box = page.get_by_label("Add a comment")
        box.click()

        # Alice types slowly, one key at a time into whatever has the focus, as a person does,
        # for 10 s and until two polls have replaced the list; bob comments meanwhile.
        started, typed, teammate = time.monotonic(), "", 0
        while time.monotonic() - started < TYPING_SECONDS or sum(t > started for t in polls) < 2:
            assert time.monotonic() - started < 30, "the list was not polled twice in 30 s"
            if teammate < 2 and sum(t > started for t in polls) >= teammate:
                teammate += 1
                add_comment(image, bob, f"bob's note number {teammate}")
            key = TYPED[len(typed) % len(TYPED)]
            page.keyboard.type(key)
            typed += key
            time.sleep(KEYSTROKE_SECONDS)

        expect(comments).to_contain_text("bob's note number 1")
        expect(comments).to_contain_text("bob's note number 2")
        expect(box).to_be_focused()
        expect(box).to_have_value(typed)  # nothing typed was lost

        page.get_by_role("button", name="Comment").click()
        expect(comments.get_by_role("article").last).to_contain_text(typed.strip())
        expect(box).to_have_value("")  # the form is ready for the next comment
        assert [c.body for c in image.comments.order_by("created_at")] == [
            "bob's note number 1",
            "bob's note number 2",
            typed.strip(),
        ]
    finally:
        context.close()
