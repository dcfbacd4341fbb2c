"""Every way a generation starts refuses a model the person may not use, saving nothing: the
generate form, try-models, retry, and start_generation itself (which the REST API and the
OpenAI endpoint call)."""

import re
from decimal import Decimal

import pytest

from gallery.models import Generation, ModelRefused, RoleModels
from jobs.start import start_generation
from tests.factories import logged_in, make_generation
from tests.policy.conftest import FLUX, OPENAI

Status = Generation.Status


def generate(client, model_id, **extra):
    return client.post("/generate", {"model": model_id, "prompt": "a lighthouse", **extra})


def test_the_form_refuses_a_model_of_another_role(client, studio, bob, editors_only_flux):
    response = generate(logged_in(client, bob, studio), OPENAI)
    assert response.status_code == 400
    [error] = response.context["form"].errors["model"]
    assert error.endswith(" is not for editors in this team.")
    assert not Generation.objects.exists()


def test_the_form_allows_what_the_role_may_use(client, studio, bob, editors_only_flux):
    assert generate(logged_in(client, bob, studio), FLUX).status_code == 302
    assert Generation.objects.get().model_id == FLUX


def test_the_picker_shows_why_a_model_is_unavailable(client, studio, bob, editors_only_flux):
    page = logged_in(client, bob, studio).get("/").content.decode()
    assert re.search(rf'<option value="{re.escape(OPENAI)}"[^>]* disabled>', page)
    assert "(not for editors in this team)" in page
    assert 'data-why="not for editors in this team"' in page  # the searchable picker's entry


def test_the_form_opens_on_a_model_the_person_may_use(client, studio, bob):
    RoleModels.objects.create(
        team=studio, role="editor", scope=RoleModels.Scope.SOME, model_ids=[OPENAI]
    )
    form = logged_in(client, bob, studio).get("/").context["form"]
    assert form.catalog_model.id == OPENAI


def test_a_price_ceiling_refuses_the_dear_options_on_the_form(client, studio, bob, openai_priced):
    RoleModels.objects.create(team=studio, role="editor", max_usd_per_image=Decimal("0.05"))
    logged_in(client, bob, studio)
    response = generate(client, OPENAI, p_size="1024x1024", p_n=1)
    assert response.status_code == 403
    assert "costs about $0.08 an image" in response.content.decode()
    assert not Generation.objects.exists()
    assert generate(client, OPENAI, p_size="256x256", p_n=1).status_code == 302


def test_try_models_refuses_a_model_of_another_role(client, studio, bob, editors_only_flux):
    logged_in(client, bob, studio)
    response = client.post("/try", {"prompt": "a lighthouse", "models": [FLUX, OPENAI]})
    assert response.status_code == 400
    assert "is not for editors in this team." in response.content.decode()
    assert not Generation.objects.exists()


def test_retry_refuses_a_model_the_person_may_no_longer_use(client, studio, alice, bob):
    failed = make_generation(
        alice, team=studio, gallery=studio.default_gallery(), model_id=OPENAI,
        status=Status.FAILED, error="boom",
    )  # fmt: skip
    RoleModels.objects.create(team=studio, role="editor", scope=RoleModels.Scope.NONE)
    response = logged_in(client, bob, studio).post(
        f"/generations/{failed.uuid}/retry", headers={"HX-Request": "true"}
    )
    assert "Not retried:" in response.content.decode()
    assert "is not for editors in this team." in response.content.decode()
    assert not Generation.objects.filter(retry_of=failed).exists()
    # The owner, whom no role rule narrows, may.
    assert (
        logged_in(client, alice, studio).post(f"/generations/{failed.uuid}/retry").status_code
        == 302
    )
    assert Generation.objects.filter(retry_of=failed, owner=alice).exists()


def test_start_generation_refuses_whatever_called_it(studio, bob, studio_list):
    with pytest.raises(ModelRefused, match="is not on this team's list"):
        start_generation(
            owner=bob, team=studio, gallery=studio.default_gallery(),
            model_id="sandbox/relay-async", provider="sandbox", prompt="x", params={},
        )  # fmt: skip
    assert not Generation.objects.exists()
