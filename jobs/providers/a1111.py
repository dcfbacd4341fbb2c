"""A person's own AUTOMATIC1111-compatible server: `/sdapi/v1/txt2img` and `/img2img`."""

import json
import logging
from typing import Any

import httpx
from django.core.cache import cache

from jobs.providers import (
    Connection,
    Output,
    Pending,
    ProviderError,
    Result,
    Submitted,
    check_status,
    encode_inputs,
    json_body,
)

log = logging.getLogger(__name__)


def build_submit(
    conn: Connection, model: Any, params: dict, *, idempotency_key: str
) -> httpx.Request:
    body = encode_inputs(params, lambda f: f.b64())
    # The checkpoint is a server setting, chosen per request through override_settings.
    if checkpoint := body.pop("sd_model_checkpoint", None):
        body["override_settings"] = {"sd_model_checkpoint": checkpoint}
        body["override_settings_restore_afterwards"] = False
    return httpx.Request("POST", conn.base_url + model.endpoint, json=body)


def parse_submit(response: httpx.Response) -> Result | Submitted:
    check_status(response)
    body = json_body(response)
    if not isinstance(body, dict) or not body.get("images"):
        raise ProviderError("The Stable Diffusion server answered without any image.")
    seeds = _seeds(body.get("info"))
    outputs = [
        Output(b64=item, seed=seeds[i] if i < len(seeds) else None)
        for i, item in enumerate(body["images"])
        if isinstance(item, str) and item
    ]
    meta: dict[str, Any] = {}
    if seeds:
        meta["seed"] = seeds[0]
    return Result(outputs=outputs, meta=meta)


def _seeds(info: Any) -> list[int]:
    """`info` is a JSON string with the seeds the server actually used."""
    try:
        data = json.loads(info) if isinstance(info, str) else info or {}
    except ValueError:
        return []
    seeds = data.get("all_seeds") or ([data["seed"]] if "seed" in data else [])
    return [s for s in seeds if isinstance(s, int)]


def build_poll(conn: Connection, task_id: str, poll_url: str) -> httpx.Request:
    raise NotImplementedError("the A1111 API answers synchronously")


def parse_poll(response: httpx.Response) -> Result | Pending:
    raise NotImplementedError("the A1111 API answers synchronously")


def checkpoints(base_url: str) -> list[str]:
    """The server's model list from `GET /sdapi/v1/sd-models`, or [] when it can't be reached."""
    if not base_url:
        return []
    key = f"a1111-checkpoints:{base_url}"
    if (cached := cache.get(key)) is not None:
        return cached
    try:
        response = httpx.get(f"{base_url}/sdapi/v1/sd-models", timeout=3.0)
        response.raise_for_status()
        titles = [m["title"] for m in response.json() if isinstance(m, dict) and m.get("title")]
    except (httpx.HTTPError, ValueError, TypeError) as e:
        log.warning("could not list the A1111 server's models: %s", e)
        titles = []
    cache.set(key, titles, 60 if titles else 10)
    return titles
