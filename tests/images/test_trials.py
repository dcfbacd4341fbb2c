"""One prompt tried on several models at once."""

from django.http import QueryDict

from gallery.images.forms import TryForm
from gallery.models import Generation, personal_team
from jobs import catalog
from tests.factories import logged_in


def post(client, prompt, models):
    return client.post("/try", {"prompt": prompt, "models": models})


def test_it_sends_one_prompt_to_each_chosen_model(
    client, alice, monkeypatch, django_capture_on_commit_callbacks
):
    from jobs import tasks

    sent = []
    monkeypatch.setattr(tasks.submit, "delay", lambda pk: sent.append(pk))
    client.force_login(alice)
    models = ["sandbox/flux-sync", "sandbox/openai-sync", "sandbox/relay-async"]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "a lighthouse", models)
    generations = list(Generation.objects.order_by("model_id"))
    assert [g.model_id for g in generations] == sorted(models)
    assert len({g.batch for g in generations}) == 1 and generations[0].batch
    assert generations[0].params == {
        "image_size": "square_hd",
        "num_images": 1,
        "output_format": "png",
    }  # the model's documented defaults
    assert sorted(sent) == sorted(g.pk for g in generations)
    page = client.get(response["Location"])
    assert [g.model_id for g in page.context["generations"]] == sorted(models)


def test_it_offers_only_text_to_image_models_that_can_run(client, alice, settings):
    settings.AIMLAPI_API_KEY = ""
    client.force_login(alice)
    offered = {m.id for m in client.get("/try").context["models"]}
    assert "sandbox/flux-sync" in offered
    assert not any(catalog.get(m).provider == "aimlapi" for m in offered)
    assert "flux/dev/image-to-image" not in offered


def test_it_refuses_too_many_or_none(client, alice):
    client.force_login(alice)
    assert post(client, "x", []).status_code == 400
    assert post(client, "", ["sandbox/flux-sync"]).status_code == 400
    many = ["sandbox/flux-sync"] * 7
    assert post(client, "x", many).status_code in (302, 400)  # duplicates collapse to one
    assert Generation.objects.count() <= 1


def test_a_viewer_cannot_send(client, studio, carol):
    logged_in(client, carol, studio)
    assert post(client, "x", ["sandbox/flux-sync"]).status_code == 403


def test_the_try_form_drops_models_not_offered_and_says_what_is_missing(alice):
    data = QueryDict(mutable=True)
    data.setlist("models", ["no/such-model", "sandbox/flux-sync"])
    data["prompt"] = "  "
    form = TryForm(data, user=alice, team=personal_team(alice))
    assert form.chosen() == ["sandbox/flux-sync"]
    assert not form.is_valid() and form.problems() == ["Write a prompt to try."]
    many = TryForm({"prompt": "x"}, user=alice, team=personal_team(alice))
    assert many.problems() == ["Choose between 1 and 6 models."]
