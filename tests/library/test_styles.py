"""Styles: words added to the prompt, and a negative prompt where the model takes one."""

from gallery.models import Style
from tests.factories import logged_in


def test_editors_add_a_style(client, studio, bob):
    data = {"name": "Film", "suffix": "35mm film", "negative": ""}
    assert logged_in(client, bob, studio).post("/library/", data).status_code == 302
    assert Style.objects.get().suffix == "35mm film"


def test_a_style_says_something(client, studio, bob):
    response = logged_in(client, bob, studio).post("/library/", {"name": "Empty"})
    assert response.status_code == 400
    assert (
        "Write words to add to the prompt, a negative prompt, or both." in response.content.decode()
    )


def test_viewers_cannot_add_styles(client, studio, carol):
    data = {"name": "Film", "suffix": "35mm film"}
    assert logged_in(client, carol, studio).post("/library/", data).status_code == 403


def test_a_style_goes_into_the_negative_prompt_where_the_model_takes_one(
    client, studio, bob, film, settings
):
    settings.A1111_BASE_URL = ""  # no checkpoints to list
    logged_in(client, bob, studio)
    data = {"style": film.uuid, "model": "sandbox/flux-sync", "prompt": "a harbour"}
    form = client.get("/library/styles/apply", data, headers={"HX-Request": "true"}).context["form"]
    assert form.initial["prompt"] == "a harbour, 35mm film, grain"
    assert "p_negative_prompt" not in form.initial  # the sandbox takes none
    a1111 = {
        "style": film.uuid,
        "model": "a1111/txt2img",
        "prompt": "a harbour",
        "p_negative_prompt": "text",
    }
    initial = client.get("/library/styles/apply", a1111).context["form"].initial
    assert initial["p_negative_prompt"] == "text, blurry"


def test_a_style_is_added_once(client, studio, bob, film):
    data = {
        "style": film.uuid,
        "model": "sandbox/flux-sync",
        "prompt": "a harbour, 35mm film, grain",
    }
    form = logged_in(client, bob, studio).get("/library/styles/apply", data).context["form"]
    assert form.initial["prompt"] == "a harbour, 35mm film, grain"
