"""Invariants of the catalog data files (jobs/data/*.json) and the recorded example responses."""

import json
from pathlib import Path

import pytest

from jobs import catalog

ROOT = Path(__file__).resolve().parents[2]
AIMLAPI = json.loads((ROOT / "jobs/data/aimlapi.json").read_text())
RELAY = json.loads((ROOT / "jobs/data/relay.json").read_text())
EXAMPLES = json.loads((ROOT / "tests/data/aimlapi-examples.json").read_text())
ENTRIES = AIMLAPI + RELAY

ENTRY_KEYS = {
    "id",
    "name",
    "provider",
    "protocol",
    "developer",
    "kind",
    "endpoint",
    "content_type",
    "status",
    "asynchronous",
    "aliases",
    "output_switch",
    "variant_of",
    "extra",
    "notes",
    "params",
}
PARAM_KEYS = {
    "name",
    "type",
    "label",
    "required",
    "default",
    "min",
    "max",
    "enum",
    "multiple_of",
    "max_length",
    "help",
    "custom_size",
    "max_items",
}
# Only on masks: how the provider reads the mask, and the picture it must match.
MASK_KEYS = {"mask_convention", "mask_of"}
PARAM_TYPES = {"string", "integer", "number", "boolean", "enum", "size", "image", "images", "json"}
KINDS = {"text-to-image", "edit", "upscale"}
AIMLAPI_ENDPOINTS = {"/v1/images/generations", "/v1/images/edits"}


def _ids(entries):
    return [e["id"] for e in entries]


def _params(entries):
    return [pytest.param(e, p, id=f"{e['id']}:{p['name']}") for e in entries for p in e["params"]]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_aimlapi_counts():
    models = [e for e in AIMLAPI if e["variant_of"] is None]
    assert len(models) == 81
    assert sum(e["status"] == "active" for e in models) == 75
    assert sum(e["status"] == "deprecated" for e in models) == 6


def test_aimlapi_edit_variants():
    variants = {e["id"]: e for e in AIMLAPI if e["variant_of"] is not None}
    assert set(variants) == {"openai/gpt-image-1:edit", "openai/gpt-image-2:edit"}
    ids = set(_ids(AIMLAPI))
    for vid, entry in variants.items():
        base = entry["variant_of"]
        assert vid == f"{base}:edit"
        assert base in ids
        assert entry["endpoint"] == "/v1/images/edits"
        assert entry["content_type"] == "multipart/form-data"
        assert entry["kind"] == "edit"
        assert entry["extra"] == {"model": base}


def test_relay_count():
    assert len(RELAY) == 7
    assert {e["endpoint"] for e in RELAY} == {
        "/v2/automatic1111/sdapi/v1/txt2img",
        "/v2/image/flux/generate",
        "/v2/image/gemini-3/generate",
        "/v2/image/gpt-image/generate",
        "/v2/image/gpt-image/edit",
        "/v2/image/qwen/generate",
        "/v2/image/qwen/edit",
    }


def test_ids_and_aliases_unique():
    ids = _ids(ENTRIES)
    assert len(ids) == len(set(ids))
    aliases = [a for e in ENTRIES for a in e["aliases"]]
    assert len(aliases) == len(set(aliases))
    assert not set(aliases) & set(ids)


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_entry_shape(entry):
    assert set(entry) == ENTRY_KEYS
    assert entry["name"] and entry["developer"] and entry["notes"]
    assert entry["kind"] in KINDS
    assert entry["status"] in {"active", "deprecated"}
    assert isinstance(entry["extra"], dict)
    assert isinstance(entry["aliases"], list)
    names = [p["name"] for p in entry["params"]]
    assert len(names) == len(set(names)), "duplicate parameter names"
    assert entry["output_switch"] is None or entry["output_switch"] in names
    if entry["provider"] == "aimlapi":
        assert entry["protocol"] == "aimlapi"
        assert entry["endpoint"] in AIMLAPI_ENDPOINTS
        assert entry["asynchronous"] is False
        assert "model" not in names, "the model id is implied, not a parameter"
    else:
        assert entry["provider"] == entry["protocol"] == "relay"
        assert entry["endpoint"].startswith("/v2/")
        assert entry["asynchronous"] is True
        assert entry["status"] == "active"
        if "model" in names:
            assert "model" not in entry["extra"]


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_prompt(entry):
    prompt = next((p for p in entry["params"] if p["name"] == "prompt"), None)
    if prompt is None:
        assert entry["kind"] == "upscale" or entry["status"] != "active"
        return
    assert prompt["type"] == "string"
    if entry["kind"] == "text-to-image":
        assert prompt["required"]


@pytest.mark.parametrize(("entry", "param"), _params(ENTRIES))
def test_param(entry, param):
    assert set(param) - MASK_KEYS == PARAM_KEYS
    assert param["type"] in PARAM_TYPES
    assert param["label"] and param["help"]
    assert isinstance(param["required"], bool)
    assert isinstance(param["custom_size"], bool)
    kind, default = param["type"], param["default"]
    lo, hi, choices = param["min"], param["max"], param["enum"]

    for bound in (lo, hi):
        assert bound is None or _is_num(bound)
    if lo is not None and hi is not None:
        assert lo <= hi
    if kind == "enum":
        assert choices, "an enum needs choices"
    if choices is not None:
        assert isinstance(choices, list) and choices
    if param["custom_size"]:
        assert kind == "size"
    if kind == "size":
        assert choices, "a size needs its presets"
    if kind in ("images", "json") and param["max_items"] is not None:
        assert _is_int(param["max_items"]) and param["max_items"] > 0
    if kind != "images" and kind != "json":
        assert param["max_items"] is None
    if param["multiple_of"] is not None:
        assert _is_int(param["multiple_of"]) and param["multiple_of"] > 0
    if param["max_length"] is not None:
        assert kind == "string" and _is_int(param["max_length"])

    if default is None:
        return
    if kind == "integer":
        assert _is_int(default)
        for value in (lo, hi):
            assert value is None or _is_int(value)
    elif kind == "number":
        assert _is_num(default)
    elif kind == "boolean":
        assert isinstance(default, bool)
    elif kind == "string":
        assert isinstance(default, str)
    if choices:
        assert default in choices
    if _is_num(default):
        assert lo is None or default >= lo
        assert hi is None or default <= hi
    if param["max_length"] is not None and isinstance(default, str):
        assert len(default) <= param["max_length"]


def test_examples_belong_to_models():
    ids = {e["id"] for e in AIMLAPI}
    assert set(EXAMPLES) <= ids
    assert len(EXAMPLES) == 80


@pytest.mark.parametrize("model_id", sorted(EXAMPLES))
def test_example_bodies(model_id):
    bodies = EXAMPLES[model_id]
    assert bodies
    for body in bodies:
        assert isinstance(body, dict)
        assert "images" in body or "data" in body


def test_every_edit_mask_names_its_convention_and_its_picture():
    """The mask editor serves every model whose mask is an edit mask, in the provider's own
    convention: OpenAI's edits read transparent as "edit", Relay and AUTOMATIC1111 white."""
    masks = {m.id: m.mask_param for m in catalog.MODELS.values() if m.mask_param}
    assert {i: p.mask_convention for i, p in masks.items() if p} == {
        "openai/gpt-image-1:edit": "transparent-edits",
        "openai/gpt-image-2:edit": "transparent-edits",
        "openai/gpt-image-1.5-I2I": "white-edits",
        "a1111/img2img": "white-edits",
    }
    for model_id, mask in masks.items():
        assert mask is not None and mask.type == "image"
        assert mask.mask_convention in catalog.MASK_CONVENTIONS
        source = catalog.MODELS[model_id].param(mask.mask_of)
        assert source is not None and source.type in ("image", "images"), model_id
