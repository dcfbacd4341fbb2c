"""What anyone holding a share link sees (gallery/sharing/public.py): read-only, scoped to the
link, and gone once it is revoked or expired."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Gallery, Generation
from gallery.sharing import public
from tests.factories import make_generation, make_image, make_share_link, share_file_urls


def hrefs(html: str) -> list[str]:
    return re.findall(r'(?:href|hx-get|action|src|srcset)="([^"]*)"', html)


def test_anyone_holding_the_link_sees_the_gallery(client, link, images):
    response = client.get(f"/s/{link.token}")
    assert response.status_code == 200
    grid = response.context["tiles"]
    assert [image.uuid for image in grid] == [image.uuid for image in reversed(images)]
    assert len(share_file_urls(response.text)) == 6  # a thumbnail and a small one each
    assert '<section id="grid" class="grid" aria-label="Gallery"' in response.text
    assert "<h1>Main</h1>" in response.text


def test_the_page_shows_nothing_else_of_the_team(client, alice, link):
    client.force_login(alice)  # even to a member, the page is the outsider's page
    text = client.get(f"/s/{link.token}").text
    for private in ("Studio", "alice", "a secret", "Log out", "csrf", '"/images/', '"/teams/'):
        assert private not in text, private
    for href in hrefs(text):
        assert href.startswith((f"/s/{link.token}", "/share/files/", "/static/", "?after=")), href


def test_it_shows_prompts_and_parameters_only_when_asked(client, link, images):
    link.show_prompts = True
    link.save()
    text = client.get(f"/s/{link.token}").text
    assert 'alt="a secret fox"' in text and "sandbox/flux-sync" in text
    lightbox = client.get(
        f"/s/{link.token}/images/{images[0].uuid}?lightbox=1", headers={"HX-Request": "true"}
    )
    assert "a secret fox" in lightbox.text and "image_size" in lightbox.text


def test_it_asks_not_to_be_indexed_unless_the_owner_chose_it(client, link):
    response = client.get(f"/s/{link.token}")
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in response.text
    link.allow_indexing = True
    link.save()
    response = client.get(f"/s/{link.token}")
    assert "X-Robots-Tag" not in response
    assert '<meta name="robots" content="index, follow">' in response.text


def test_it_unfurls_with_open_graph_and_twitter_tags(client, link, images):
    text = client.get(f"/s/{link.token}").text
    card = f"http://testserver/s/{link.token}/card"
    assert '<meta property="og:title" content="Main">' in text
    assert f'<meta property="og:url" content="http://testserver/s/{link.token}">' in text
    assert f'<meta property="og:image" content="{card}">' in text
    assert '<meta name="twitter:card" content="summary_large_image">' in text
    assert f'<meta name="twitter:image" content="{card}">' in text
    response = client.get(f"/s/{link.token}/card")
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    newest = images[-1]
    with newest.thumbnail.open("rb") as f:
        assert b"".join(response.streaming_content) == f.read()


def test_a_shared_image_is_titled_by_its_prompt_only_when_prompts_are_shown(client, alice, images):
    hidden = make_share_link(alice, image=images[0])
    assert "<title>A shared image · Atelier</title>" in client.get(f"/s/{hidden.token}").text
    shown = make_share_link(alice, image=images[0], show_prompts=True)
    assert "<title>a secret fox · Atelier</title>" in client.get(f"/s/{shown.token}").text


def test_it_is_never_kept_by_a_browser_nor_sends_the_token_on(client, link):
    response = client.get(f"/s/{link.token}")
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


def test_it_counts_page_views_not_scrolling(client, link, monkeypatch):
    monkeypatch.setattr(public, "PAGE_SIZE", 2)
    client.get(f"/s/{link.token}")
    response = client.get(f"/s/{link.token}")
    cursor = response.context["cursor"]
    client.get(f"/s/{link.token}", {"after": cursor}, headers={"HX-Request": "true"})
    link.refresh_from_db()
    assert link.views == 2
    assert timezone.now() - link.last_viewed_at < timedelta(minutes=1)


def test_it_scrolls_page_by_page(client, link, images, monkeypatch):
    monkeypatch.setattr(public, "PAGE_SIZE", 2)
    first = client.get(f"/s/{link.token}")
    assert len(first.context["tiles"]) == 2
    more = re.search(r'hx-get="([^"]+)" hx-trigger="intersect once"', first.text)
    assert more is not None
    rest = client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert [tile.uuid for tile in rest.context["tiles"]] == [images[0].uuid]
    assert "<html" not in rest.text and "intersect once" not in rest.text
    assert len(share_file_urls(rest.text)) == 2


def test_the_lightbox_browses_within_the_link(client, link, images):
    middle = images[1]
    response = client.get(
        f"/s/{link.token}/images/{middle.uuid}?lightbox=1", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.context["newer"] == images[2] and response.context["older"] == images[0]
    assert "<html" not in response.text and "Download" not in response.text
    page = client.get(f"/s/{link.token}/images/{middle.uuid}")  # without JavaScript
    assert page.status_code == 200 and f'href="/s/{link.token}"' in page.text


def test_it_serves_nothing_outside_the_link(client, studio, alice, link, images):
    second = Gallery.objects.create(team=studio, name="Second", created_by=alice)
    elsewhere = make_image(
        make_generation(alice, team=studio, gallery=second, status=Generation.Status.SUCCEEDED)
    )
    assert client.get(f"/s/{link.token}/images/{elsewhere.uuid}").status_code == 404
    assert elsewhere.uuid not in [t.uuid for t in client.get(f"/s/{link.token}").context["tiles"]]
    one = make_share_link(alice, image=images[0])
    assert client.get(f"/s/{one.token}/images/{images[0].uuid}").status_code == 200
    assert client.get(f"/s/{one.token}/images/{images[1].uuid}").status_code == 404


def test_it_stops_showing_images_that_were_deleted_hidden_or_moved_away(client, alice, images):
    links = [make_share_link(alice, image=image) for image in images]
    images[0].deleted_at = timezone.now()
    images[0].save()
    images[1].hidden_at = timezone.now()
    images[1].save()
    elsewhere = Gallery.objects.get(team__name="Dave's team")
    images[2].move_to(elsewhere)
    for link in links:
        assert client.get(f"/s/{link.token}").status_code == 404


def test_a_shared_image_page_shows_the_image_alone(client, alice, images):
    link = make_share_link(alice, image=images[1], allow_download=True)
    response = client.get(f"/s/{link.token}")
    assert response.status_code == 200
    assert [tile.uuid for tile in response.context["tiles"]] == [images[1].uuid]
    assert 'aria-label="Gallery"' not in response.text
    assert f'href="/s/{link.token}/images/{images[1].uuid}/download"' in response.text


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_link_that_ended_answers_404_everywhere(client, alice, link, images, how):
    page = client.get(f"/s/{link.token}")
    served = share_file_urls(page.text)
    if how == "revoked":
        link.revoke(alice)
    else:
        link.expires_at = timezone.now() - timedelta(seconds=1)
        link.save()
    response = client.get(f"/s/{link.token}")
    assert response.status_code == 404
    assert "It was revoked, it expired, or the address is not complete." in response.text
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert client.get(f"/s/{link.token}/images/{images[0].uuid}").status_code == 404
    assert client.get(f"/s/{link.token}/card").status_code == 404
    assert served and all(client.get(url).status_code == 404 for url in served)


def test_an_unknown_token_is_not_found(client, link):
    assert client.get("/s/not-a-token").status_code == 404
    assert client.get(f"/s/{link.token[:-1]}").status_code == 404
