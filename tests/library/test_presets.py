"""Presets: saved from the generate form in one click, applied to fill it in, managed by
owners and editors, used by everyone in the team."""

from gallery.models import Preset
from tests.factories import logged_in

FORM = {
    "model": "sandbox/openai-sync",
    "prompt": "a fox in {subject}",
    "p_size": "256x256",
    "p_n": "3",
}


def test_save_as_preset_keeps_the_model_prompt_and_options(client, studio, bob):
    response = logged_in(client, bob, studio).post("/library/presets/save", FORM)
    assert response.status_code == 302
    preset = Preset.objects.get()
    assert (preset.team, preset.created_by, preset.name) == (studio, bob, "a fox in {subject}")
    assert (preset.model_id, preset.prompt) == ("sandbox/openai-sync", "a fox in {subject}")
    assert preset.params == {"size": "256x256", "n": 3}


def test_saving_twice_names_the_second_apart(client, studio, bob):
    logged_in(client, bob, studio)
    client.post("/library/presets/save", FORM)
    client.post("/library/presets/save", FORM, headers={"HX-Request": "true"})
    assert list(Preset.objects.values_list("name", flat=True)) == [
        "a fox in {subject}", "a fox in {subject} (2)",
    ]  # fmt: skip


def test_a_preset_is_checked_as_a_generation_is(client, studio, bob):
    logged_in(client, bob, studio)
    response = client.post(
        "/library/presets/save", FORM | {"p_n": "9"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert "Not saved as a preset" in response.content.decode()
    assert not Preset.objects.exists()


def test_viewers_cannot_save_presets(client, studio, carol):
    response = logged_in(client, carol, studio).post("/library/presets/save", FORM)
    assert response.status_code == 403
    assert not Preset.objects.exists()


def test_applying_a_preset_fills_the_form_with_the_subject(client, studio, carol, portrait):
    logged_in(client, carol, studio)  # viewers use presets too
    url = f"/library/presets/apply?preset={portrait.uuid}&subject=an old sailor"
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.catalog_model.id == "sandbox/openai-sync"
    assert form.initial["prompt"] == "a watercolor portrait of an old sailor, soft light"
    assert (form.initial["p_size"], form.initial["p_n"]) == ("512x512", 2)
    assert 'id="generate-form"' in response.content.decode()
    assert "<html" not in response.content.decode()  # the fragment alone for htmx
    assert "<html" in client.get(url).content.decode()  # a page of its own without


def test_editors_rename_and_delete_presets(client, studio, bob, portrait):
    logged_in(client, bob, studio)
    url = f"/library/presets/{portrait.uuid}/"
    assert (
        client.post(url, {"name": "Portrait", "prompt": "{subject}, watercolor"}).status_code == 302
    )
    portrait.refresh_from_db()
    assert (portrait.name, portrait.prompt) == ("Portrait", "{subject}, watercolor")
    assert client.post(url, {"delete": "1"}).status_code == 302
    assert not Preset.objects.exists()


def test_a_name_is_once_per_team(client, studio, bob, portrait):
    other = Preset.objects.create(team=studio, name="Other", model_id="sandbox/flux-sync")
    response = logged_in(client, bob, studio).post(
        f"/library/presets/{other.uuid}/", {"name": "Watercolor  portrait", "prompt": "x"}
    )
    assert response.status_code == 400
    assert "The team already has one named “Watercolor portrait”." in response.content.decode()


def test_viewers_and_strangers_cannot_change_presets(client, studio, carol, dave, portrait):
    url = f"/library/presets/{portrait.uuid}/"
    assert logged_in(client, carol, studio).post(url, {"delete": "1"}).status_code == 403
    assert logged_in(client, dave).post(url, {"delete": "1"}).status_code == 404
    assert (
        logged_in(client, dave).get(f"/library/presets/apply?preset={portrait.uuid}").status_code
        == 404
    )
    assert Preset.objects.exists()


def test_the_composer_lists_the_teams_presets(client, studio, carol, dave, portrait):
    assert (
        "Watercolor portrait"
        in logged_in(client, carol, studio).get("/library/bar").content.decode()
    )
    assert "Watercolor portrait" not in logged_in(client, dave).get("/library/bar").content.decode()
