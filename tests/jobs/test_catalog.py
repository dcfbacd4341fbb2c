"""Every offered catalog model, end to end from its documented defaults.

For each model: the form validates with the documented defaults, the parameters it stores resolve
into a provider request, and that request carries only documented parameters, within their limits,
with input pictures encoded the way the protocol takes them. Then the recorded example answers,
the deprecated models, and the models whose provider has no key configured.
"""

import base64
import json
import re
from pathlib import Path

import pytest

from gallery.images.forms import GenerateForm
from gallery.models import Generation
from jobs import catalog, connections, inputs
from jobs.providers import a1111, aimlapi
from jobs.providers.adapters import adapter_for
from tests.factories import PROMPT, default_input, make_generation, png_bytes

EXAMPLES = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "aimlapi-examples.json").read_text()
)
BASE_URLS = {
    "sandbox": "http://sandbox.example.test/sandbox",
    "aimlapi": "https://aimlapi.example.test",
    "relay": "https://relay.example.test",
    "a1111": "http://sd.example.test:7860",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
A1111_OVERRIDES = {"override_settings", "override_settings_restore_afterwards"}

OFFERED = catalog.offered()
DEPRECATED = sorted(m.id for m in catalog.MODELS.values() if not m.offered)
NO_PROMPT = [m for m in OFFERED if m.prompt is None]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Creating alice for each of ~200 cases: skip the deliberately slow password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def providers(settings, monkeypatch):
    """Every provider configured, at addresses the tests know; nothing is ever contacted."""
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    settings.RELAY_API_KEY = "relay-key"
    settings.A1111_BASE_URL = BASE_URLS["a1111"]
    settings.AIMLAPI_BASE_URL = BASE_URLS["aimlapi"]
    settings.RELAY_BASE_URL = BASE_URLS["relay"]
    settings.SANDBOX_BASE_URL = BASE_URLS["sandbox"]
    # No public address: URL-only fields get data URLs rather than links to this server.
    settings.PUBLIC_BASE_URL = ""
    monkeypatch.setattr(a1111, "checkpoints", lambda base_url: ["v1-5-pruned.safetensors"])


def build_request(model: catalog.Model, user):
    data, files = default_input(model)
    form = GenerateForm(data, files, user=user)
    assert form.errors == {}
    generation = make_generation(
        user, model_id=model.id, provider=model.provider, prompt=PROMPT, params=form.params()
    )
    params = inputs.request_params(generation)
    adapter = adapter_for(model.protocol)
    conn = connections.connection_for(model)
    return adapter.build_submit(conn, model, params, idempotency_key="k")


def check_limits(param: catalog.Param, value) -> None:
    assert isinstance(value, int | float) and not isinstance(value, bool), (param.name, value)
    if param.min is not None:
        assert value >= param.min, (param.name, value)
    if param.max is not None:
        assert value <= param.max, (param.name, value)
    if param.multiple_of:
        assert value % param.multiple_of == 0, (param.name, value)


def check_picture(protocol: str, value) -> None:
    assert isinstance(value, str)
    if protocol == "aimlapi":
        prefix = "data:image/png;base64,"
        assert value.startswith(prefix), value[:40]
        value = value[len(prefix) :]
    else:
        assert not value.startswith("data:"), value[:40]
    assert base64.b64decode(value, validate=True) == png_bytes()


def check_value(protocol: str, param: catalog.Param, value) -> None:
    """One documented parameter as the JSON body carries it."""
    kind = param.type
    if kind in ("image", "images"):
        if kind == "images":
            assert isinstance(value, list) and value
            assert param.max_items is None or len(value) <= param.max_items
        for item in value if kind == "images" else [value]:
            check_picture(protocol, item)
        return
    if kind == "integer":
        assert isinstance(value, int), (param.name, value)
        check_limits(param, value)
    elif kind == "number":
        check_limits(param, value)
    elif kind == "boolean":
        assert isinstance(value, bool), (param.name, value)
    elif kind == "string":
        assert isinstance(value, str), (param.name, value)
        assert param.max_length is None or len(value) <= param.max_length, param.name
    elif kind == "size":
        if isinstance(value, dict):
            assert set(value) == {"width", "height"}
            for side in value.values():
                check_limits(param, side)
        else:
            assert value in param.enum, (param.name, value)
            for side in catalog.SIZE_PRESETS.get(value, ()):
                check_limits(param, side)
    if param.enum and kind != "size":
        assert value in param.enum, (param.name, value)


def check_json_body(model: catalog.Model, request) -> None:
    body = json.loads(request.content)
    documented = {p.name for p in model.params}
    if model.protocol == "aimlapi":
        allowed = documented | {"model"}
        assert body["model"] == model.upstream_id
        key = connections.connection_for(model).api_key
        assert request.headers["Authorization"] == f"Bearer {key}"
    elif model.protocol == "relay":
        allowed = documented | {"async"}
        assert model.asynchronous and body["async"] is True
        assert request.headers["Idempotency-Key"] == "k"
        if upstream := model.extra.get("model"):
            allowed.add("model")
            assert body["model"] == upstream
    else:
        allowed = (documented | A1111_OVERRIDES) - {"sd_model_checkpoint"}
    undocumented = set(body) - allowed
    if model.prompt is None:
        undocumented.discard("prompt")  # a known bug, pinned by its own test below
    assert not undocumented
    for param in model.params:
        if param.required:
            assert param.name in body, param.name
        if param.name in body:
            check_value(model.protocol, param, body[param.name])


def multipart_parts(request) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type, bytes) for each part of a multipart request body."""
    content_type = request.headers["content-type"]
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    parts = []
    for chunk in request.read().split(b"--" + boundary)[1:-1]:
        head, _, body = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = head.decode()
        name = re.search(r'name="([^"]*)"', headers)
        filename = re.search(r'filename="([^"]*)"', headers)
        ctype = re.search(r"(?im)^content-type:\s*(\S+)", headers)
        assert name, headers
        parts.append(
            (
                name.group(1),
                filename.group(1) if filename else None,
                ctype.group(1) if ctype else None,
                body.removesuffix(b"\r\n"),
            )
        )
    return parts


def check_multipart_body(model: catalog.Model, request) -> None:
    assert request.headers["content-type"].startswith("multipart/form-data")
    raw = request.read()
    assert b'name="image"' in raw and b'name="model"' in raw
    parts = multipart_parts(request)
    fields = {name: body.decode() for name, filename, _, body in parts if filename is None}
    files = [(name, ctype, body) for name, filename, ctype, body in parts if filename is not None]
    assert fields["model"] == model.upstream_id
    documented = {p.name: p for p in model.params}
    assert {name.removesuffix("[]") for name, *_ in parts} <= set(documented) | {"model"}
    for name, ctype, body in files:
        assert documented[name.removesuffix("[]")].type in ("image", "images")
        assert ctype == "image/png" and body.startswith(PNG_SIGNATURE) and body == png_bytes()
    sent = {name.removesuffix("[]") for name, *_ in parts}
    for param in model.params:
        if param.required:
            assert param.name in sent, param.name
        value = fields.get(param.name)
        if value is None:
            continue
        if param.type == "integer":
            check_limits(param, int(value))
        elif param.type == "number":
            check_limits(param, float(value))
        elif param.type == "boolean":
            assert value in ("true", "false")
        elif param.type == "string":
            assert param.max_length is None or len(value) <= param.max_length
        if param.enum:
            assert value in {str(v) for v in param.enum}, (param.name, value)


@pytest.mark.parametrize("model", OFFERED, ids=lambda m: m.id)
def test_it_builds_a_documented_request_from_the_defaults(model, alice, providers):
    request = build_request(model, alice)
    assert request.method == "POST"
    assert str(request.url) == BASE_URLS[model.provider] + model.endpoint
    if model.content_type == "multipart/form-data":
        check_multipart_body(model, request)
    else:
        assert request.headers["content-type"] == "application/json"
        check_json_body(model, request)


@pytest.mark.parametrize("model", NO_PROMPT, ids=[m.id for m in NO_PROMPT])
def test_it_sends_no_prompt_to_models_that_take_none(model, alice):
    generation = make_generation(
        alice, model_id=model.id, provider=model.provider, prompt="", params={}
    )
    assert "prompt" not in inputs.request_params(generation)


@pytest.mark.parametrize(
    "model",
    [m for m in OFFERED if m.prompt is None or not m.prompt.required],
    ids=lambda m: m.id,
)
def test_it_does_not_require_a_prompt_the_model_does_not(model, alice, providers):
    data, files = default_input(model)
    del data["prompt"]
    assert GenerateForm(data, files, user=alice).errors == {}


def test_it_offers_every_active_model_and_nothing_else():
    assert len(OFFERED) == len({m.id for m in OFFERED}) == len(catalog.MODELS) - 6
    assert all(m.status == "active" for m in OFFERED)


EXAMPLE_CASES = [
    pytest.param(model_id, index, id=f"{model_id}#{index}")
    for model_id, bodies in EXAMPLES.items()
    for index in range(len(bodies))
]


@pytest.mark.parametrize(("model_id", "index"), EXAMPLE_CASES)
def test_it_parses_every_documented_example_answer(model_id, index):
    result = aimlapi.parse_body(EXAMPLES[model_id][index])
    assert result.outputs
    assert all(output.url or output.b64 for output in result.outputs)


def test_it_keeps_the_seed_of_a_fal_style_answer():
    body = EXAMPLES["flux/dev"][0]
    assert body["images"] and isinstance(body["seed"], int)
    result = aimlapi.parse_body(body)
    assert result.meta["seed"] == body["seed"]
    assert result.outputs[0].url == body["images"][0]["url"]
    assert result.outputs[0].seed == body["seed"]


def test_it_keeps_the_enhanced_prompt_of_a_google_style_answer():
    body = EXAMPLES["imagen-3.0-generate-002"][0]
    assert body["data"][0]["mime_type"] == "image/png"
    result = aimlapi.parse_body(body)
    assert result.meta["enhanced_prompt"] == body["data"][0]["prompt"]
    assert result.outputs[0].content_type == "image/png"


def test_it_keeps_the_usage_of_an_answer():
    body = EXAMPLES["openai/gpt-image-1-mini"][0]
    credits = body["meta"]["usage"]["credits_used"]
    assert aimlapi.parse_body(body).meta["usage"] == {"credits_used": credits}


def test_it_lists_six_deprecated_models_without_offering_them():
    assert len(DEPRECATED) == 6
    offered = {m.id for m in OFFERED}
    assert all(model_id in catalog.MODELS and model_id not in offered for model_id in DEPRECATED)


@pytest.mark.parametrize("model_id", DEPRECATED)
def test_it_refuses_a_deprecated_model(model_id, alice, providers):
    form = GenerateForm({"model": model_id, "prompt": PROMPT}, user=alice)
    assert not form.is_valid()
    assert form.errors["model"]
    assert model_id not in {
        value for _, group in form.fields["model"].choices for value, _ in group
    }


def test_it_explains_that_a_deprecated_model_is_not_in_the_list(alice, providers):
    form = GenerateForm({"model": "dall-e-3", "prompt": PROMPT}, user=alice)
    assert form.errors["model"] == ["Choose one of the models in the list."]


AIMLAPI_MODELS = [m for m in OFFERED if m.provider == "aimlapi"]


def test_it_disables_models_whose_provider_has_no_key(alice_client, settings):
    settings.AIMLAPI_API_KEY = ""
    page = alice_client.get("/").content.decode()
    html = re.search(r'<select name="model".*?</select>', page, re.S).group(0)  # the Model select
    found = re.findall(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', html)
    options = {value: (attrs, label) for value, attrs, label in found}
    assert AIMLAPI_MODELS
    for model in AIMLAPI_MODELS:
        attrs, label = options[model.id]
        assert "disabled" in attrs.split(), model.id
        assert label.endswith("(set AIMLAPI_API_KEY to use)"), model.id
    sandbox_attrs, sandbox_label = options["sandbox/openai-sync"]
    assert "disabled" not in sandbox_attrs and "set " not in sandbox_label


def test_it_refuses_to_generate_with_a_model_whose_provider_has_no_key(alice_client, settings):
    settings.AIMLAPI_API_KEY = ""
    model = catalog.MODELS["flux/dev"]
    data, _ = default_input(model)
    response = alice_client.post("/generate", data)
    assert response.status_code == 400
    assert "needs AIMLAPI_API_KEY" in " ".join(response.context["form"].errors["model"])
    assert "needs AIMLAPI_API_KEY" in response.content.decode()
    assert Generation.objects.count() == 0


def test_it_refuses_every_model_of_a_provider_without_a_key(alice, settings):
    settings.AIMLAPI_API_KEY = ""
    for model in AIMLAPI_MODELS:
        form = GenerateForm({"model": model.id, "prompt": PROMPT}, user=alice)
        assert not form.is_valid()
        assert "needs AIMLAPI_API_KEY" in " ".join(form.errors["model"]), model.id


SANDBOX_MODELS = [m for m in OFFERED if m.provider == "sandbox"]


def model_options(client) -> dict[str, tuple[str, str, str]]:
    """The Model select of the home page: {value: (attributes, label, selected)}."""
    page = client.get("/").content.decode()
    html = re.search(r'<select name="model".*?</select>', page, re.S).group(0)
    found = re.findall(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', html)
    return {value: (attrs, label, "selected" in attrs.split()) for value, attrs, label in found}


def test_with_the_sandbox_off_its_models_are_shown_disabled_with_the_reason(alice_client, settings):
    settings.SANDBOX_ENABLED = False
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    options = model_options(alice_client)
    assert SANDBOX_MODELS
    for model in SANDBOX_MODELS:
        attrs, label, _ = options[model.id]
        assert "disabled" in attrs.split(), model.id
        assert label.endswith("(set SANDBOX_ENABLED=1 to use)"), model.id


def test_with_the_sandbox_off_its_models_are_refused(alice, settings):
    settings.SANDBOX_ENABLED = False
    for model in SANDBOX_MODELS:
        form = GenerateForm({"model": model.id, "prompt": PROMPT}, user=alice)
        assert not form.is_valid()
        assert "needs SANDBOX_ENABLED=1" in " ".join(form.errors["model"]), model.id


def test_with_the_sandbox_off_the_form_starts_on_the_first_usable_model(alice_client, settings):
    settings.SANDBOX_ENABLED = False
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    first_usable = next(m for m in OFFERED if m.provider == "aimlapi")
    assert catalog.default_model().id == first_usable.id
    options = model_options(alice_client)
    assert [value for value, (_, _, selected) in options.items() if selected] == [first_usable.id]


def test_with_no_usable_model_the_form_still_renders_on_the_first_offered(alice_client, settings):
    settings.SANDBOX_ENABLED = False
    settings.AIMLAPI_API_KEY = settings.RELAY_API_KEY = settings.A1111_BASE_URL = ""
    assert catalog.default_model().id == OFFERED[0].id
    response = alice_client.get("/")
    assert response.status_code == 200
    options = model_options(alice_client)
    assert all("disabled" in attrs.split() for attrs, _, _ in options.values())
    assert [value for value, (_, _, selected) in options.items() if selected] == [OFFERED[0].id]


def test_with_the_sandbox_on_it_is_the_default(settings):
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    assert catalog.default_model().id == catalog.DEFAULT_MODEL
