"""A person's prompt history: their own prompts, newest first, each once, searchable, with
"Use again"."""

from datetime import timedelta

from django.utils import timezone

from tests.factories import logged_in, make_generation


def test_it_lists_each_prompt_once_newest_first(client, studio, alice, bob):
    now = timezone.now()
    old = make_generation(bob, team=studio, prompt="a red fox", created_at=now - timedelta(days=2))
    newest_fox = make_generation(bob, team=studio, prompt="a red fox", created_at=now)
    make_generation(bob, team=studio, prompt="a lighthouse", created_at=now - timedelta(days=1))
    make_generation(alice, team=studio, prompt="alice's own")
    rows = list(logged_in(client, bob, studio).get("/history/").context["rows"])
    assert [(r["prompt"], r["times"]) for r in rows] == [("a red fox", 2), ("a lighthouse", 1)]
    assert rows[0]["uuid"] == newest_fox.uuid != old.uuid


def test_it_searches_every_word(client, studio, bob):
    make_generation(bob, team=studio, prompt="a red fox in snow")
    make_generation(bob, team=studio, prompt="a red barn")
    logged_in(client, bob, studio)
    response = client.get("/history/", {"q": "RED snow"}, headers={"HX-Request": "true"})
    assert [r["prompt"] for r in response.context["rows"]] == ["a red fox in snow"]
    assert "<html" not in response.content.decode()


def test_use_again_fills_the_composer(client, studio, bob):
    generation = make_generation(
        bob,
        team=studio,
        prompt="a red fox",
        model_id="sandbox/openai-sync",
        params={"size": "512x512"},
    )
    logged_in(client, bob, studio)
    page = client.get("/history/").content.decode()
    assert f'href="/?use={generation.uuid}"' in page
    form = client.get(f"/?use={generation.uuid}").context["form"]
    assert (form.initial["prompt"], form.initial["p_size"]) == ("a red fox", "512x512")


def test_prompts_of_a_team_left_are_gone(client, studio, bob):
    make_generation(bob, team=studio, prompt="studio secret")
    studio.memberships.filter(user=bob).delete()
    assert not list(logged_in(client, bob).get("/history/").context["rows"])
