"""Comments on an image: the list polls on its own, the form keeps what is typed."""

import re

from gallery.models import Generation
from tests.factories import make_generation, make_image

Status = Generation.Status


NAMES = ("comments", "comment-list", "comment-form")  # the section, its list, its form


def test_the_comment_list_polls_on_its_own_without_the_form(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    page = client.get(f"/images/{image.uuid}").content.decode()
    opening = {name: re.search(rf'<\w+ id="{name}"[^>]*>', page)[0] for name in NAMES}
    assert 'hx-trigger="every 5s"' in opening["comment-list"]
    assert f'hx-get="/images/{image.uuid}/comments"' in opening["comment-list"]
    assert "hx-trigger" not in opening["comments"] + opening["comment-form"]
    polled = client.get(f"/images/{image.uuid}/comments").content.decode()
    assert 'id="comment-list"' in polled and "No comments yet." in polled
    assert "<form" not in polled and "<textarea" not in polled


def test_a_comment_posted_with_htmx_clears_its_form_and_updates_the_list(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    url = f"/images/{image.uuid}/comment"
    response = client.post(url, {"body": "warmer, please"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<form id="comment-form"')
    assert '<textarea id="comment-body"' in html and "warmer, please</textarea>" not in html
    listed = html[html.index('id="comment-list"') :]
    assert 'hx-swap-oob="true"' in listed and "warmer, please" in listed


def test_a_comment_posted_without_javascript_goes_back_to_the_page(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    response = client.post(f"/images/{image.uuid}/comment", {"body": "warmer, please"})
    assert response.status_code == 302 and response["Location"] == f"/images/{image.uuid}"
    page = client.get(response["Location"]).content.decode()
    assert "warmer, please" in page and 'id="comment-form"' in page
