"""The AI/ML API: synchronous `POST /v1/images/generations`, answered in several shapes."""

from typing import Any

import httpx

from jobs.providers import (
    Connection,
    InputFile,
    Output,
    Pending,
    ProviderError,
    Result,
    Submitted,
    check_status,
    encode_inputs,
    json_body,
)


def build_submit(
    conn: Connection, model: Any, params: dict, *, idempotency_key: str
) -> httpx.Request:
    headers = {"Accept": "application/json"}
    if conn.api_key:
        headers["Authorization"] = f"Bearer {conn.api_key}"
    url = conn.base_url + model.endpoint
    if model.content_type == "multipart/form-data":
        data, files = _multipart(params)
        data["model"] = model.upstream_id
        return httpx.Request("POST", url, data=data, files=files, headers=headers)
    # URL-only fields take a short-lived public link when there is one, else a data URL.
    body = encode_inputs(params, lambda f: f.url or f.data_url())
    return httpx.Request("POST", url, json={"model": model.upstream_id, **body}, headers=headers)


def _multipart(params: dict) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    """`/v1/images/edits` takes its pictures as file uploads, as the OpenAI SDK sends them."""
    data: dict[str, str] = {}
    files: list[tuple[str, Any]] = []
    for name, value in params.items():
        if isinstance(value, InputFile):
            files.append((name, (value.filename, value.data, value.content_type)))
        elif isinstance(value, list) and value and isinstance(value[0], InputFile):
            field = name if len(value) == 1 else f"{name}[]"
            files += [(field, (f.filename, f.data, f.content_type)) for f in value]
        elif isinstance(value, bool):
            data[name] = "true" if value else "false"
        else:
            data[name] = str(value)
    return data, files


def parse_submit(response: httpx.Response) -> Result | Submitted:
    check_status(response)
    return parse_body(json_body(response))


def build_poll(conn: Connection, task_id: str, poll_url: str) -> httpx.Request:
    raise NotImplementedError("the AI/ML API answers image requests synchronously")


def parse_poll(response: httpx.Response) -> Result | Pending:
    raise NotImplementedError("the AI/ML API answers image requests synchronously")


def parse_body(body: Any) -> Result:
    """Turn any documented answer shape into outputs.

    fal-style `images[]` objects, OpenAI-style `data[]` with `url` or `b64_json`, Google-style
    `data[]` with `mime_type` and the enhanced `prompt`, and bodies that carry both.
    """
    if not isinstance(body, dict):
        raise ProviderError("The provider's answer had no images in it.")
    outputs: list[Output] = []
    meta: dict[str, Any] = {}
    seed = body.get("seed") if isinstance(body.get("seed"), int) else None
    for item in body.get("images") or []:
        if output := _output(item, seed):
            outputs.append(output)
    if not outputs:
        for item in body.get("data") or []:
            if output := _output(item, seed):
                outputs.append(output)
    for item in body.get("data") or []:
        if isinstance(item, dict):
            if item.get("revised_prompt"):
                meta["revised_prompt"] = item["revised_prompt"]
            if item.get("prompt"):
                meta["enhanced_prompt"] = item["prompt"]
    if seed is not None:
        meta["seed"] = seed
    for key in ("timings", "has_nsfw_concepts", "description"):
        if body.get(key):
            meta[key] = body[key]
    if isinstance(body.get("prompt"), str) and body["prompt"]:
        meta.setdefault("enhanced_prompt", body["prompt"])
    usage = (body.get("meta") or {}).get("usage") if isinstance(body.get("meta"), dict) else None
    if isinstance(usage, dict):
        meta["usage"] = {k: v for k, v in usage.items() if v is not None}
    if not outputs:
        raise ProviderError("The provider answered, but without any image.")
    return Result(outputs=outputs, meta=meta)


def _output(item: Any, seed: int | None) -> Output | None:
    if isinstance(item, str):
        return Output(url=item) if item.startswith("http") else Output(b64=item)
    if not isinstance(item, dict):
        return None
    url, b64 = item.get("url"), item.get("b64_json")
    if not url and not b64:
        return None
    return Output(
        url=url or None,
        b64=None if url else b64,
        content_type=item.get("content_type") or item.get("mime_type"),
        width=item.get("width") if isinstance(item.get("width"), int) else None,
        height=item.get("height") if isinstance(item.get("height"), int) else None,
        seed=seed,
    )
