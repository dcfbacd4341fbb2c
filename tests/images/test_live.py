"""Live updates in the gallery: the one cheap poll (gallery/images/live.py), the fetch of what
changed (views.new_cards), and the changes that bump a team's version."""

import re

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.models import Gallery, Generation, Image, personal_team
from jobs import pipeline
from tests.factories import make_generation, make_image
from webapp import live

Status = Generation.Status


def poller_of(html: str) -> tuple[str, str]:
    """The poll URL and the token a gallery page (or a changes answer) holds."""
    url = re.search(r'hx-get="(/live\?v=\d+)"', html)
    token = re.search(r'"X-Live-Token": "([^"]+)"', html)
    assert url and token, html
    return url.group(1), token.group(1)


def test_an_idle_poll_makes_no_database_query(alice_client, alice):
    url, token = poller_of(alice_client.get("/").content.decode())
    with CaptureQueriesContext(connection) as queries:  # logged in: the session is not read
        response = alice_client.get(url, headers={"X-Live-Token": token})
    assert response.status_code == 204
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_an_idle_poll_through_the_live_server_makes_no_database_query(
    live_server, alice, alice_client, queries_anywhere
):
    url, token = poller_of(alice_client.get("/").content.decode())
    cookies = {"sessionid": alice_client.cookies["sessionid"].value}
    with httpx.Client(base_url=live_server.url, cookies=cookies) as browser:
        assert browser.get("/").status_code == 200  # the same request counts its queries
        assert len(queries_anywhere) > 0
        queries_anywhere.clear()
        for _ in range(3):
            assert browser.get(url, headers={"X-Live-Token": token}).status_code == 204
    assert queries_anywhere == []


def test_a_change_makes_the_poll_say_so(alice_client, alice, django_capture_on_commit_callbacks):
    url, token = poller_of(alice_client.get("/").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        make_generation(alice)
    response = alice_client.get(url, headers={"X-Live-Token": token})
    assert response.status_code == 200 and response["HX-Trigger"] == "live-changed"


def test_a_wiped_cache_makes_the_poll_fetch_the_changes(alice_client):
    from django.core.cache import cache

    url, token = poller_of(alice_client.get("/").content.decode())
    cache.clear()
    assert alice_client.get(url, headers={"X-Live-Token": token}).status_code == 200


def test_an_expired_token_makes_the_tab_fetch_a_new_one(alice_client, settings):
    url, token = poller_of(alice_client.get("/").content.decode())
    settings.LIVE_TOKEN_MAX_AGE = -1
    response = alice_client.get(url, headers={"X-Live-Token": token})
    assert response.status_code == 200 and response["HX-Trigger"] == "live-changed"


@pytest.mark.parametrize("token", [None, "", "forged:token"])
def test_a_poll_without_a_token_of_ours_is_refused(client, token):
    headers = {"X-Live-Token": token} if token is not None else {}
    response = client.get("/live?v=1", headers=headers)
    assert response.status_code == 403
    assert b"reload the page" in response.content


def test_a_token_watches_only_its_own_team(
    client, studio, alice, dave, django_capture_on_commit_callbacks
):
    daves = personal_team(dave)
    url = f"/live?v={live.version(daves.pk)}"
    with django_capture_on_commit_callbacks(execute=True):
        make_generation(alice, team=studio)
    response = client.get(url, headers={"X-Live-Token": live.token_for(dave.pk, daves.pk)})
    assert response.status_code == 204


def test_the_changes_bring_new_cards_updated_cards_and_the_new_version(alice_client, alice):
    running = make_generation(alice, status=Status.RUNNING)
    since = timezone.now()
    fresh = make_generation(alice, prompt="a new fox")
    Generation.objects.filter(pk=running.pk).update(status=Status.FAILED, error="It broke.")
    team = personal_team(alice)
    query = {"team": str(team.uuid), "since": since.isoformat(), "card": [str(running.uuid)]}
    response = alice_client.get("/new", query)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="gen-{fresh.uuid}"' in html
    updated = f'<template data-card="gen-{running.uuid}">\\s*<article class="tile failed"'
    assert re.search(updated, html)
    assert "It broke." in html
    url, _ = poller_of(html)
    assert url == f"/live?v={live.version(team.pk)}"
    assert 'id="poller" hx-swap-oob="true"' in html
    assert f"since={response.context['since'].isoformat()[:19]}" in html.replace("%3A", ":")


def test_the_changes_of_a_filtered_page_bring_only_its_cards(alice_client, alice):
    running = make_generation(alice, status=Status.RUNNING)
    make_generation(alice, prompt="a new fox")
    team = personal_team(alice)
    query = {"team": str(team.uuid), "card": str(running.uuid)}
    html = alice_client.get("/new", query).content.decode()
    assert html.count("<article") == 1 and f'data-card="gen-{running.uuid}"' in html
    assert "since=" not in html  # and the next fetch asks for no new cards either


def test_the_changes_never_show_another_teams_cards(client, studio, alice, dave):
    secret = make_generation(alice, team=studio, prompt="studio secret")
    client.force_login(dave)
    assert client.get("/new", {"team": str(studio.uuid)}).status_code == 404
    html = client.get("/new", {"card": str(secret.uuid), "since": "2000-01-01T00:00:00Z"}).content
    assert b"studio secret" not in html


# Every change a tab shows bumps the team's version.


@pytest.fixture
def bumps(django_capture_on_commit_callbacks):
    """How many times a team's version moves while the block runs (committed changes only)."""

    class Counter:
        def __init__(self, team):
            self.team_id = team.pk

        def __enter__(self):
            self.before = live.version(self.team_id)
            self.capture = django_capture_on_commit_callbacks(execute=True)
            self.capture.__enter__()
            return self

        def __exit__(self, *exc):
            self.capture.__exit__(*exc)
            self.moved = live.version(self.team_id) - self.before

    return Counter


def test_making_moving_and_finishing_a_generation_bump(alice, bumps):
    team = personal_team(alice)
    with bumps(team) as made:
        generation = make_generation(alice)
    with bumps(team) as claimed:
        assert pipeline.claim(generation)
    with bumps(team) as moved:
        assert generation.advance(Status.SUBMITTED, Status.RUNNING)
    with bumps(team) as failed:
        assert generation.mark_failed("It broke.")
    with bumps(team) as nothing:
        assert not generation.cancel()  # already over: nothing changed
    assert (made.moved, claimed.moved, moved.moved, failed.moved, nothing.moved) == (1, 1, 1, 1, 0)


def test_storing_deleting_and_moving_an_image_bump(alice, studio, bumps):
    team = personal_team(alice)
    generation = make_generation(alice, status=Status.FETCHING)
    with bumps(team) as stored:
        image = make_image(generation)
    with bumps(team) as deleted:
        image.deleted_at = timezone.now()
        image.save(update_fields=["deleted_at"])
    joined = live.version(studio.pk)
    with bumps(team) as left:
        image.move_to(studio.galleries.get())
    assert (stored.moved, deleted.moved, left.moved) == (1, 1, 1)
    assert live.version(studio.pk) == joined + 1


def test_deleting_many_and_hiding_bump(alice_client, alice, admin_client, bumps):
    team = personal_team(alice)
    images = [make_image(make_generation(alice, status=Status.SUCCEEDED)) for _ in range(2)]
    with bumps(team) as deleted:
        data = {"action": "delete", "image": [str(i.uuid) for i in images]}
        assert alice_client.post("/bulk", data).status_code == 302
    assert Image.objects.filter(deleted_at__isnull=False).count() == 2
    with bumps(team) as hidden:
        data = {"action": "hide", "_selected_action": [i.pk for i in images], "reason": "spam"}
        admin_client.post("/admin/gallery/image/", data)
    assert Image.objects.filter(hidden_at__isnull=False).count() == 2
    assert (deleted.moved, hidden.moved) == (1, 1)


def test_a_gallery_page_holds_the_version_read_before_its_rows(alice_client, alice):
    team = personal_team(alice)
    html = alice_client.get("/").content.decode()
    assert poller_of(html)[0] == f"/live?v={live.version(team.pk)}"
    assert 'hx-trigger="every 1000ms"' in html
    assert Gallery.objects.filter(team=team).exists()
