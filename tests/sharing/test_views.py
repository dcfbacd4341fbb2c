"""Making, seeing and revoking share links (gallery/sharing/views.py) and the team page's list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Activity, ShareLink
from tests.factories import make_share_link


def make(client, user, query: str, **data):
    client.force_login(user)
    return client.post(f"/share/new?{query}", {"expiry": "7", **data})


def test_it_lets_an_editor_share_a_gallery(client, bob, main, images):
    response = make(client, bob, f"gallery={main.uuid}", allow_download="on")
    link = ShareLink.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/share/{link.uuid}"
    assert (link.gallery, link.image, link.team, link.created_by) == (main, None, main.team, bob)
    assert link.allow_download and not link.show_prompts and not link.allow_indexing
    assert abs(link.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    feed = Activity.objects.get(team=main.team)
    assert (feed.verb, feed.actor, feed.summary) == ("shared", bob, "gallery Main, for 7 days")


@pytest.mark.parametrize(("choice", "days"), [("never", None), ("1", 1), ("30", 30)])
def test_it_sets_the_expiry_chosen(client, alice, main, choice, days):
    make(client, alice, f"gallery={main.uuid}", expiry=choice)
    link = ShareLink.objects.get()
    if days is None:
        assert link.expires_at is None
    else:
        expected = timezone.now() + timedelta(days=days)
        assert abs(link.expires_at - expected) < timedelta(minutes=1)


def test_it_shares_one_image(client, alice, images):
    response = make(client, alice, f"image={images[0].uuid}", show_prompts="on")
    link = ShareLink.objects.get()
    assert response.status_code == 302
    assert (link.image, link.gallery, link.show_prompts) == (images[0], None, True)
    assert Activity.objects.get(verb="shared").image == images[0]


def test_it_shows_the_form_with_safe_defaults(client, alice, main):
    client.force_login(alice)
    response = client.get(f"/share/new?gallery={main.uuid}")
    assert response.status_code == 200
    form = response.context["form"]
    assert form["expiry"].value() == "7"
    assert not any(form[name].value() for name in ("allow_download", "show_prompts"))


def test_it_refuses_a_viewer(client, carol, main):
    assert make(client, carol, f"gallery={main.uuid}").status_code == 403
    assert not ShareLink.objects.exists()


def test_it_hides_the_gallery_from_a_stranger(client, dave, main, images):
    assert make(client, dave, f"gallery={main.uuid}").status_code == 404
    assert make(client, dave, f"image={images[0].uuid}").status_code == 404
    assert make(client, dave, "gallery=not-a-uuid").status_code == 404
    assert make(client, dave, "").status_code == 404
    assert not ShareLink.objects.exists()


def test_it_says_what_is_wrong_with_the_expiry(client, alice, main):
    response = make(client, alice, f"gallery={main.uuid}", expiry="365")
    assert response.status_code == 400
    assert "Choose when the link expires: after 1, 7 or 30 days, or never." in response.text
    assert not ShareLink.objects.exists()


def test_it_limits_how_many_links_a_person_makes(client, settings, alice, main):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "share": (2, 3600)}
    for _ in range(2):
        assert make(client, alice, f"gallery={main.uuid}").status_code == 302
    response = make(client, alice, f"gallery={main.uuid}")
    assert response.status_code == 429
    assert "That is more than 2 share links in an hour." in response.text
    assert ShareLink.objects.count() == 2


def test_it_shows_the_address_to_copy(client, bob, link):
    client.force_login(bob)
    response = client.get(f"/share/{link.uuid}")
    assert response.status_code == 200
    assert f"http://testserver/s/{link.token}" in response.text


def test_it_shows_no_address_to_a_viewer(client, carol, link):
    client.force_login(carol)
    assert client.get(f"/share/{link.uuid}").status_code == 403


def test_it_revokes_a_link(client, bob, link):
    client.force_login(bob)
    response = client.post(f"/share/{link.uuid}/revoke")
    assert response.status_code == 302
    assert response["Location"] == f"/teams/{link.team.uuid}/"
    link.refresh_from_db()
    assert link.revoked_at is not None and link.revoked_by == bob
    assert Activity.objects.get(verb="unshared").summary == "gallery Main"
    client.logout()
    assert client.get(f"/s/{link.token}").status_code == 404


def test_it_revokes_once(client, alice, link):
    client.force_login(alice)
    client.post(f"/share/{link.uuid}/revoke")
    first = ShareLink.objects.get().revoked_at
    client.post(f"/share/{link.uuid}/revoke")
    assert ShareLink.objects.get().revoked_at == first
    assert Activity.objects.filter(verb="unshared").count() == 1


def test_it_refuses_revoking_to_a_viewer_and_a_stranger(client, carol, dave, link):
    client.force_login(carol)
    assert client.post(f"/share/{link.uuid}/revoke").status_code == 403
    client.force_login(dave)
    assert client.post(f"/share/{link.uuid}/revoke").status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_the_team_page_lists_the_links(client, alice, bob, main, images):
    seen = make_share_link(bob, gallery=main, views=3, last_viewed_at=timezone.now())
    make_share_link(alice, image=images[0], revoked_at=timezone.now())
    client.force_login(alice)
    response = client.get(f"/teams/{main.team.uuid}/")
    assert response.status_code == 200
    rows = [(link.created_by.username, link.views) for link in response.context["share_links"]]
    assert rows == [("alice", 0), ("bob", 3)]
    text = response.text
    assert f'action="/share/{seen.uuid}/revoke"' in text
    assert "revoked" in text and "one image" in text and "gallery Main" in text


def test_the_team_page_lists_links_to_a_viewer_without_their_addresses(client, carol, link):
    client.force_login(carol)
    response = client.get(f"/teams/{link.team.uuid}/")
    assert "gallery Main" in response.text
    assert link.token not in response.text
    assert f"/share/{link.uuid}" not in response.text
    assert "Share a gallery" not in response.text


def test_the_team_page_lists_only_its_own_teams_links(client, dave, link):
    client.force_login(dave)
    mine = dave.memberships.get(team__name="Dave's team").team
    response = client.get(f"/teams/{mine.uuid}/")
    assert "gallery Main" not in response.text
