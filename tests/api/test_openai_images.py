"""POST /v1/images/*: refusals in OpenAI's error shape, before anything is started."""

import io

import pytest
from PIL import Image as PILImage

from gallery.models import Generation, Price, RoleModels

URL = "/v1/images/generations"


@pytest.fixture
def post(client):
    def send(token, body, url=URL):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.post(url, body, content_type="application/json", headers=headers)

    return send


def error(response, status):
    assert response.status_code == status, response.content
    found = response.json()["error"]
    assert set(found) == {"message", "type", "param", "code"}
    return found


def test_it_refuses_a_bad_token_with_401(post, tokens):
    found = error(post("atl_nope_nope", {"model": "sandbox/flux-sync", "prompt": "x"}), 401)
    assert "not valid" in found["message"]
    assert error(post(None, {}), 401)["code"] == "invalid_api_key"


def test_it_refuses_a_read_only_token_and_a_viewer_with_403(post, tokens):
    body = {"model": "sandbox/flux-sync", "prompt": "x"}
    assert "read only" in error(post(tokens["readonly"], body), 403)["message"]
    assert "viewer" in error(post(tokens["carol"], body), 403)["message"]
    assert not Generation.objects.exists()


def test_it_answers_404_for_a_model_it_does_not_have(post, tokens):
    found = error(post(tokens["bob"], {"model": "dall-e-9", "prompt": "x"}), 404)
    assert (found["param"], found["code"]) == ("model", "model_not_found")


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"prompt": "x"}, "model", "model is required"),
        ({"model": "sandbox/flux-sync", "prompt": "x", "size": "huge"}, "size", "WIDTHxHEIGHT"),
        ({"model": "sandbox/flux-sync", "prompt": "x", "n": 9}, "n", "4"),
        ({"model": "sandbox/flux-sync", "prompt": "x", "quality": "hd"}, "quality", "no quality"),
        (
            {"model": "sandbox/flux-sync", "prompt": "x", "response_format": "gif"},
            "response_format",
            "b64_json",
        ),
        ({"model": "sandbox/flux-sync", "prompt": "x", "seed": -1}, "seed", "0"),
        ({"model": "sandbox/flux-sync", "prompt": "x", "steps": 3}, "steps", "no parameter steps"),
        ({"model": "sandbox/flux-sync", "prompt": "", "seed": 1}, "prompt", "required"),
        ({"model": "sandbox/flux-sync", "prompt": "x", "user": 5}, "user", "string"),
        ({"model": "sandbox/flux-sync", "prompt": "x", "stream": True}, "stream", "not offered"),
        (
            {
                "model": "sandbox/flux-sync",
                "prompt": "x",
                "size": "512x512",
                "image_size": "square",
            },
            "image_size",
            "both",
        ),
    ],
)
def test_it_refuses_bad_input_with_400_naming_the_field(post, tokens, body, param, words):
    found = error(post(tokens["bob"], body), 400)
    assert found["param"] == param
    assert words in found["message"]
    assert not Generation.objects.exists()


def test_it_refuses_an_edit_without_a_picture(client, tokens):
    response = client.post(
        "/v1/images/edits",
        {"model": "sandbox/flux-sync", "prompt": "x"},
        headers={"Authorization": f"Bearer {tokens['bob']}"},
    )
    assert error(response, 400)["param"] == "model"


def test_it_names_the_mask_when_the_mask_is_wrong(client, tokens, settings):
    settings.AIMLAPI_API_KEY = "key"
    picture, mask = io.BytesIO(), io.BytesIO()
    PILImage.new("RGB", (64, 64)).save(picture, "PNG")
    PILImage.new("RGBA", (32, 32)).save(mask, "PNG")
    picture.name, mask.name = "p.png", "m.png"
    picture.seek(0), mask.seek(0)
    response = client.post(
        "/v1/images/edits",
        {"model": "openai/gpt-image-1", "prompt": "x", "image": picture, "mask": mask},
        headers={"Authorization": f"Bearer {tokens['bob']}"},
    )
    found = error(response, 400)
    assert found["param"] == "mask"
    assert "size" in found["message"]


def test_a_model_the_teams_rules_leave_out_is_403(post, tokens, studio):
    RoleModels.objects.create(
        team=studio, role="editor", scope=RoleModels.Scope.SOME, model_ids=["sandbox/flux-sync"]
    )
    found = error(post(tokens["bob"], {"model": "sandbox/openai-sync", "prompt": "x"}), 403)
    assert found["message"].endswith("is not for editors in this team.")
    assert (found["param"], found["code"]) == ("model", "model_refused")
    assert not Generation.objects.exists()


def test_a_price_ceiling_is_403(post, tokens, studio):
    Price.objects.create(model_id="sandbox/openai-sync", usd_per_image="0.08")
    RoleModels.objects.create(team=studio, role="editor", max_usd_per_image="0.05")
    found = error(post(tokens["bob"], {"model": "sandbox/openai-sync", "prompt": "x"}), 403)
    assert "editors here may use models up to $0.05" in found["message"]
    assert not Generation.objects.exists()


def test_the_generate_rate_is_a_429_with_retry_after(post, tokens, settings):
    settings.GENERATE_RATE = (1, 60)
    settings.API_WAIT_SECONDS = 1  # no worker here: the first one starts, then times out
    body = {"model": "sandbox/flux-sync", "prompt": "x"}
    first = post(tokens["bob"], body)
    assert first.status_code == 504
    [made] = Generation.objects.all()
    assert str(made.uuid) in first.json()["error"]["message"]
    found = error(post(tokens["bob"], body), 429)
    assert found["code"] == "rate_limit_exceeded"
    assert 0 < int(post(tokens["bob"], body)["Retry-After"]) <= 60
    assert Generation.objects.count() == 1
