"""The REST API is held to the team's model rules as the pages are: the catalog says why a
model is ruled out, and starting or retrying a generation with one is refused, saving nothing."""

from decimal import Decimal

from gallery.models import Generation, Price, RoleModels
from tests.factories import make_generation

OPENAI = "sandbox/openai-sync"
Status = Generation.Status


def only_flux_for_editors(team) -> None:
    RoleModels.objects.create(
        team=team, role="editor", scope=RoleModels.Scope.SOME, model_ids=["sandbox/flux-sync"]
    )


def test_the_catalog_says_why_a_model_is_ruled_out(call, tokens, studio):
    only_flux_for_editors(studio)
    models = {m["id"]: m for m in call(tokens["bob"], "get", "/models").json()["models"]}
    assert models[OPENAI]["available"] is False
    assert models[OPENAI]["unavailable_reason"] == "not for editors in this team"
    assert models["sandbox/flux-sync"]["available"] is True
    owner = {m["id"]: m for m in call(tokens["alice"], "get", "/models").json()["models"]}
    assert owner[OPENAI]["available"] is True


def test_starting_a_ruled_out_model_is_refused(call, tokens, studio):
    only_flux_for_editors(studio)
    response = call(tokens["bob"], "post", "/generations", {"model": OPENAI, "prompt": "a fox"})
    assert response.status_code == 400
    assert response.json()["errors"]["model"][0].endswith(" is not for editors in this team.")
    assert not Generation.objects.exists()


def test_a_price_ceiling_is_403_not_a_rate_limit(call, tokens, studio):
    Price.objects.create(
        model_id=OPENAI, usd_per_image="0.08", by_param={"size": {"256x256": "0.01"}}
    )
    RoleModels.objects.create(team=studio, role="editor", max_usd_per_image=Decimal("0.05"))
    dear = {"model": OPENAI, "prompt": "a fox", "params": {"size": "1024x1024"}}
    response = call(tokens["bob"], "post", "/generations", dear)
    assert response.status_code == 403
    assert (
        "costs about $0.08 an image; editors here may use models up to $0.05"
        in (response.json()["detail"])
    )
    assert not Generation.objects.exists()
    cheap = dear | {"params": {"size": "256x256"}}
    assert call(tokens["bob"], "post", "/generations", cheap).status_code == 202


def test_retrying_a_ruled_out_model_is_refused(call, tokens, studio, alice):
    failed = make_generation(
        alice, team=studio, model_id=OPENAI, params={}, status=Status.FAILED, error="boom"
    )
    only_flux_for_editors(studio)
    response = call(tokens["bob"], "post", f"/generations/{failed.uuid}/retry")
    assert response.status_code == 400
    assert "is not for editors in this team." in response.json()["detail"]
    assert not Generation.objects.filter(retry_of=failed).exists()
