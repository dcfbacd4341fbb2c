"""The REST API's catalog and generations: validated by the generate form, counted by the
ledger against the same budgets and rate limit, marked as made through the API."""

import pytest

from gallery.models import Activity, ApiToken, Budget, Generation, Usage
from tests.factories import make_generation, make_image

Status = Generation.Status
FLUX = {"model": "sandbox/flux-sync", "prompt": "a lighthouse at dusk"}


def test_it_lists_the_catalog_with_params_limits_and_why_a_model_is_unavailable(
    call, tokens, settings, alice
):
    settings.AIMLAPI_API_KEY = ""
    Budget.objects.create(user=alice, images_per_day=50)
    body = call(tokens["alice"], "get", "/models").json()
    models = {m["id"]: m for m in body["models"]}
    flux = models["sandbox/flux-sync"]
    assert flux["available"] and flux["unavailable_reason"] is None
    assert flux["price"] == "free"
    size = next(p for p in flux["params"] if p["name"] == "num_images")
    assert (size["type"], size["min"], size["max"], size["default"]) == ("integer", 1, 4, 1)
    qwen = models["alibaba/qwen-image"]
    assert not qwen["available"]
    assert qwen["unavailable_reason"] == "needs AIMLAPI_API_KEY, which is not set on this server"
    mine = body["limits"][0]
    assert (mine["whose"], mine["kind"], mine["limit"], mine["used"]) == ("You", "images", 50, 0)
    assert body["limits"][0]["text"] == "0 of 50 images today"


def test_it_starts_a_generation_marked_with_the_token(call, tokens, bob, studio):
    response = call(
        tokens["bob"], "post", "/generations", {**FLUX, "params": {"num_images": 2, "seed": 7}}
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["author"], body["made_through_api"]) == ("queued", "bob", True)
    generation = Generation.objects.get(uuid=body["uuid"])
    token = ApiToken.find(tokens["bob"])
    assert (generation.team, generation.owner, generation.api_token) == (studio, bob, token)
    # What is left out is left to the provider's default, as a blank field of the form.
    assert generation.params == {"num_images": 2, "seed": 7}
    usage = Usage.objects.get(generation=generation)
    assert (usage.api_token, usage.api_token_name, usage.images) == (token, "bob's script", 2)
    assert Activity.objects.filter(team=studio, actor=bob, verb="generated").exists()


def test_a_custom_size_and_a_gallery_are_taken_as_the_form_takes_them(call, tokens, studio):
    second = studio.galleries.create(name="Second")
    params = {"image_size": {"width": 640, "height": 384}}
    body = {**FLUX, "gallery": str(second.uuid), "params": params}
    response = call(tokens["alice"], "post", "/generations", body)
    assert response.status_code == 202, response.json()
    generation = Generation.objects.get()
    assert generation.gallery == second
    assert generation.params["image_size"] == {"width": 640, "height": 384}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"model": "nope/nothing", "prompt": "x"}, "model", "Choose one of the models"),
        ({**FLUX, "params": {"num_images": 9}}, "num_images", "less than or equal to 4"),
        ({**FLUX, "params": {"steps": 9}}, "steps", "has no parameter steps"),
        ({**FLUX, "params": {"image_size": {"width": 10, "height": 10}}}, "image_size", "64"),
        ({**FLUX, "params": {"output_format": "gif"}}, "output_format", "gif is not one"),
        ({"model": "sandbox/flux-sync", "prompt": ""}, "prompt", "required"),
    ],
)
def test_it_refuses_what_the_form_refuses_naming_the_parameter(call, tokens, body, field, words):
    response = call(tokens["alice"], "post", "/generations", body)
    assert response.status_code == 400
    problem = response.json()
    assert field in problem["errors"], problem
    assert words in problem["detail"] + " ".join(problem["errors"][field])
    assert not Generation.objects.exists()


def test_pictures_are_named_from_the_gallery_only(call, tokens):
    body = {
        "model": "sandbox/edit-sync",
        "prompt": "x",
        "params": {"image_urls": [{"upload": "x"}]},
    }
    response = call(tokens["alice"], "post", "/generations", body)
    assert response.status_code == 400


def test_a_budget_refusal_is_429_in_words(call, tokens, alice):
    Budget.objects.create(user=alice, images_per_day=1)
    response = call(tokens["alice"], "post", "/generations", {**FLUX, "params": {"num_images": 2}})
    assert response.status_code == 429
    assert response.json()["detail"].startswith(
        "You have made 0 of 1 images allowed today, and this would make 2 more (1 left)."
    )
    assert not Generation.objects.exists() and not Usage.objects.exists()


def test_the_generate_rate_limit_is_the_forms_with_retry_after(
    call, tokens, client, alice, settings
):
    settings.GENERATE_RATE = (2, 60)
    client.force_login(alice)
    client.post("/generate", {**FLUX, "p_image_size": "square"})  # the page counts too
    assert call(tokens["alice"], "post", "/generations", FLUX).status_code == 202
    response = call(tokens["alice"], "post", "/generations", FLUX)
    assert response.status_code == 429
    assert "more than 2 generations in" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60


def test_it_reads_a_generation_with_its_images(call, tokens, alice, studio):
    generation = make_generation(alice, team=studio, status=Status.SUCCEEDED)
    image = make_image(generation)
    body = call(tokens["carol"], "get", f"/generations/{generation.uuid}").json()
    assert body["status"] == "succeeded" and body["made_through_api"] is False
    assert [i["uuid"] for i in body["images"]] == [str(image.uuid)]
    assert body["images"][0]["original_url"].endswith(
        f"/api/v1/images/{image.uuid}/file?kind=original"
    )
    assert call(tokens["dave"], "get", f"/generations/{generation.uuid}").status_code == 404


def test_a_generation_of_another_team_of_the_owner_is_not_found(call, tokens, alice):
    mine = make_generation(alice)  # alice's own space; her token acts in the Studio
    assert call(tokens["alice"], "get", f"/generations/{mine.uuid}").status_code == 404


def test_it_cancels_what_is_in_flight_and_says_when_it_had_finished(call, tokens, alice, studio):
    running = make_generation(alice, team=studio, status=Status.RUNNING)
    response = call(tokens["bob"], "post", f"/generations/{running.uuid}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    done = make_generation(alice, team=studio, status=Status.SUCCEEDED)
    response = call(tokens["bob"], "post", f"/generations/{done.uuid}/cancel")
    assert response.status_code == 409
    assert "already finished" in response.json()["detail"]


def test_it_retries_a_failed_generation_as_a_new_one_through_the_api(
    call, tokens, alice, bob, studio
):
    failed = make_generation(alice, team=studio, status=Status.FAILED)
    response = call(tokens["bob"], "post", f"/generations/{failed.uuid}/retry")
    assert response.status_code == 202, response.json()
    retry = Generation.objects.get(uuid=response.json()["uuid"])
    assert (retry.retry_of, retry.owner, retry.api_token) == (
        failed,
        bob,
        ApiToken.find(tokens["bob"]),
    )
    assert response.json()["retry_of"] == str(failed.uuid)
    done = make_generation(alice, team=studio, status=Status.SUCCEEDED)
    assert call(tokens["bob"], "post", f"/generations/{done.uuid}/retry").status_code == 409


def test_a_retry_counts_once_against_the_generate_rate(call, tokens, alice, studio, settings):
    settings.GENERATE_RATE = (2, 60)
    failed = make_generation(alice, team=studio, status=Status.FAILED)
    assert call(tokens["bob"], "post", f"/generations/{failed.uuid}/retry").status_code == 202
    assert call(tokens["bob"], "post", "/generations", FLUX).status_code == 202
    response = call(tokens["bob"], "post", f"/generations/{failed.uuid}/retry")
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Not retried: That is more than 2 generations")
    assert int(response["Retry-After"]) >= 1
