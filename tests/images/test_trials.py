"""One prompt tried on several models at once."""

from gallery.models import Generation
from jobs import catalog


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
    client.force_login(carol)
    session = client.session
    session["team"] = str(studio.uuid)
    session.save()
    assert post(client, "x", ["sandbox/flux-sync"]).status_code == 403
