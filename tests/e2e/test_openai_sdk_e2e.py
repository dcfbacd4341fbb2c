"""The official `openai` package against the live server, with a real worker: the SDK's own
calls make images in the token's team gallery, and Atelier's refusals raise the SDK's own
exception classes."""

import base64
import io

import httpx
import openai
import pytest
from PIL import Image as PILImage

from gallery.models import ApiToken, Budget, Generation, Usage, personal_team
from jobs.sandbox.failures import POLICY_REASON
from tests.e2e import fakes
from tests.e2e.conftest import FAKE_AIMLAPI_KEY

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def sdk(live_server):
    """sdk(key): the SDK pointed at the live server, as the README's example does; closed at
    the end, so no kept-alive connection holds a server thread (and its database session)."""
    made: list[openai.OpenAI] = []

    def connect(key: str) -> openai.OpenAI:
        url = f"{live_server.url}/v1"
        made.append(openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=90))
        return made[-1]

    yield connect
    for client in made:
        client.close()


@pytest.fixture
def token(alice) -> tuple[ApiToken, str]:
    return ApiToken.issue(alice, personal_team(alice), "sdk script")


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, (width, height), (200, 100, 50, 255)[: len(mode)]).save(out, "PNG")
    return out.getvalue()


def only_generation(prompt: str) -> Generation:
    [generation] = Generation.objects.filter(prompt=prompt)
    return generation


def test_generate_with_a_sandbox_model_answers_base64(e2e, sdk, alice, token):
    made, key = token
    prompt = "a lighthouse at dusk, through the SDK"
    answer = sdk(key).images.generate(
        model="sandbox/flux-sync",
        prompt=prompt,
        size="320x256",
        n=2,
        response_format="b64_json",
        extra_body={"seed": 7},
    )
    assert len(answer.data) == 2
    sizes = {PILImage.open(io.BytesIO(base64.b64decode(d.b64_json))).size for d in answer.data}
    assert sizes == {(320, 256)}
    assert {d.revised_prompt for d in answer.data} == {prompt}
    generation = only_generation(prompt)
    assert (generation.owner, generation.team, generation.api_token) == (
        alice,
        made.team,
        made,
    )
    assert generation.params["image_size"] == {"width": 320, "height": 256}
    assert generation.params["num_images"] == 2 and generation.params["seed"] == 7
    assert generation.images.filter(gallery__team=made.team).count() == 2
    usage = Usage.objects.get(generation=generation)
    assert (usage.api_token, usage.api_token_name) == (made, "sdk script")


def test_generate_with_an_ai_ml_api_model_answers_signed_urls(providers, sdk, token):
    _, key = token
    prompt = "a red bicycle, through the SDK to the AI/ML API"
    answer = sdk(key).images.generate(
        model="openai/gpt-image-1",
        prompt=prompt,
        size="1800x1000",
        quality="high",
        output_format="jpeg",
    )
    [item] = answer.data
    assert item.b64_json is None and "/inputs/" in item.url
    # The link is the access: no token, no session.
    fetched = httpx.get(item.url, follow_redirects=True, timeout=30)
    assert fetched.status_code == 200
    assert PILImage.open(io.BytesIO(fetched.content)).size == (1536, 1024)
    assert httpx.get(item.url + "x", timeout=30).status_code == 404
    sent = [r for r in providers.find(prompt=prompt) if r.method == "POST"]
    assert len(sent) == 1
    assert sent[0].headers["authorization"] == f"Bearer {FAKE_AIMLAPI_KEY}"
    assert (sent[0].json["size"], sent[0].json["quality"]) == ("1536x1024", "high")
    assert sent[0].json["output_format"] == "jpeg"


def test_edit_sends_the_image_and_the_mask(providers, sdk, token):
    _, key = token
    prompt = "through the SDK: paint the door blue"
    answer = sdk(key).images.edit(
        model="openai/gpt-image-1",
        image=("door.png", png(300, 200), "image/png"),
        mask=("mask.png", png(300, 200, "RGBA"), "image/png"),
        prompt=prompt,
        size="1024x1024",
        response_format="b64_json",
    )
    [item] = answer.data
    assert PILImage.open(io.BytesIO(base64.b64decode(item.b64_json))).size == (1024, 1024)
    [sent] = providers.find(prompt=prompt, path="/aimlapi/v1/images/edits")
    assert fakes.image_size(sent.files("image")[0].data) == (300, 200)
    assert fakes.image_size(sent.files("mask")[0].data) == (300, 200)
    assert only_generation(prompt).model_id == "openai/gpt-image-1:edit"


def test_a_provider_failure_is_a_502_with_its_reason(e2e, sdk, token):
    _, key = token
    with pytest.raises(openai.InternalServerError) as raised:
        sdk(key).images.generate(model="sandbox/flux-sync", prompt="[sandbox:400-policy] a cat")
    assert raised.value.status_code == 502
    assert POLICY_REASON in raised.value.message


def test_the_errors_raise_the_sdks_own_exceptions(e2e, sdk, alice, token):
    _, key = token
    _, reader = ApiToken.issue(alice, personal_team(alice), "reader", read_only=True)
    asked = {"model": "sandbox/flux-sync", "prompt": "a cat"}
    with pytest.raises(openai.AuthenticationError):
        sdk("atl_wrong_wrong").images.generate(**asked)
    with pytest.raises(openai.PermissionDeniedError, match="read only"):
        sdk(reader).images.generate(**asked)
    with pytest.raises(openai.NotFoundError) as missing:
        sdk(key).images.generate(model="dall-e-2", prompt="a cat")
    assert missing.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk(key).images.generate(**asked, size="enormous")
    assert bad.value.body["param"] == "size"
    Budget.objects.update_or_create(user=alice, defaults={"images_per_day": 0})
    with pytest.raises(openai.RateLimitError, match="0"):
        sdk(key).images.generate(**asked)
    assert not Generation.objects.exists()
