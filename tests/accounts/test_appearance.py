"""The theme a person chooses: kept on the server, so every page and every device renders it
from the first paint; until they choose, the system's setting decides."""

import re

from django.test import Client

from gallery.models import Preferences


def html_tag(client: Client, path: str = "/") -> str:
    page = client.get(path).content.decode()
    found = re.search(r"<html[^>]*>", page)
    assert found is not None
    return found.group(0)


def test_it_follows_the_system_until_a_person_chooses(alice_client):
    assert "data-theme" not in html_tag(alice_client)
    page = alice_client.get("/").content.decode()
    assert '<meta name="color-scheme" content="light dark">' in page
    assert 'data-theme-choice="" aria-pressed="true"' in page


def test_it_keeps_the_choice_and_goes_back_to_the_page(alice_client, alice):
    back = "http://testserver/teams/"
    response = alice_client.post("/account/theme", {"theme": "dark"}, headers={"Referer": back})
    assert response.status_code == 302
    assert response["Location"] == back
    assert Preferences.objects.get(user=alice).theme == "dark"
    assert 'data-theme="dark"' in html_tag(alice_client, "/teams/")
    assert 'data-theme-choice="dark" aria-pressed="true"' in alice_client.get("/").content.decode()


def test_it_holds_on_another_device(alice_client, alice):
    alice_client.post("/account/theme", {"theme": "dark"})
    elsewhere = Client()
    elsewhere.force_login(alice)
    assert 'data-theme="dark"' in html_tag(elsewhere)


def test_it_goes_back_to_following_the_system(alice_client, alice):
    alice_client.post("/account/theme", {"theme": "light"})
    assert 'data-theme="light"' in html_tag(alice_client)
    alice_client.post("/account/theme", {"theme": ""})
    assert "data-theme" not in html_tag(alice_client)


def test_it_answers_htmx_without_a_page(alice_client, alice):
    response = alice_client.post(
        "/account/theme", {"theme": "dark"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204
    assert Preferences.objects.get(user=alice).theme == "dark"


def test_it_refuses_a_theme_it_does_not_know(alice_client, alice):
    response = alice_client.post("/account/theme", {"theme": "sepia"})
    assert response.status_code == 400
    assert b"Choose light, dark or the system" in response.content
    assert not Preferences.objects.filter(user=alice).exists()


def test_it_never_sends_a_person_to_another_site(alice_client):
    elsewhere = {"Referer": "https://evil.example/"}
    response = alice_client.post("/account/theme", {"theme": "dark"}, headers=elsewhere)
    assert response["Location"] == "/"


def test_it_changes_only_ones_own_theme(alice_client, alice, bob):
    alice_client.post("/account/theme", {"theme": "dark"})
    bobs = Client()
    bobs.force_login(bob)
    assert "data-theme" not in html_tag(bobs)


def test_the_navigation_folds_into_a_menu_that_needs_no_javascript(alice_client):
    page = alice_client.get("/").content.decode()
    menu = page[page.index('<details class="menu">') : page.index("</details>")]
    assert "<summary>Menu</summary>" in menu
    assert 'aria-label="Main"' in menu and 'aria-label="Account"' in menu


def test_it_keeps_the_options_open_or_folded_and_goes_back(alice_client, alice):
    back = "http://testserver/?q=fox"
    response = alice_client.post(
        "/account/options", {"options_open": "1"}, headers={"Referer": back}
    )
    assert response.status_code == 302
    assert response["Location"] == back
    assert Preferences.objects.get(user=alice).options_open is True
    alice_client.post("/account/options", {"options_open": "0"})
    assert Preferences.objects.get(user=alice).options_open is False


def test_it_keeps_the_options_for_htmx_without_a_page(alice_client, alice):
    response = alice_client.post(
        "/account/options", {"options_open": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204
    assert Preferences.objects.get(user=alice).options_open is True


def test_it_refuses_an_options_state_it_does_not_know(alice_client, alice):
    response = alice_client.post("/account/options", {"options_open": "maybe"})
    assert response.status_code == 400
    assert b"Say 1 to keep the options open" in response.content
    assert not Preferences.objects.filter(user=alice).exists()


def test_keeping_the_options_open_keeps_the_theme(alice_client, alice):
    alice_client.post("/account/theme", {"theme": "dark"})
    alice_client.post("/account/options", {"options_open": "1"})
    kept = Preferences.objects.get(user=alice)
    assert (kept.theme, kept.options_open) == ("dark", True)
