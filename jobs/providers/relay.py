"""Relay's `/v2` endpoints: sync bodies, or `"async": true` answered 202 and polled as a task."""

from typing import Any
from urllib.parse import quote

import httpx

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


def _headers(conn: Connection) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if conn.api_key:
        headers["X-API-Key"] = conn.api_key
    return headers


def build_submit(
    conn: Connection, model: Any, params: dict, *, idempotency_key: str
) -> httpx.Request:
    # Relay takes input pictures as bare base64.
    body = encode_inputs(params, lambda f: f.b64())
    headers = _headers(conn)
    if model.asynchronous:
        body["async"] = True
        # Relay replays an earlier submit with the same key instead of starting paid work twice.
        headers["Idempotency-Key"] = idempotency_key
    if model.extra.get("model"):
        body.setdefault("model", model.extra["model"])
    return httpx.Request("POST", conn.base_url + model.endpoint, json=body, headers=headers)


def parse_submit(response: httpx.Response) -> Result | Submitted:
    check_status(response)
    body = json_body(response)
    if response.status_code == 202 or (isinstance(body, dict) and _is_task(body)):
        task_id = body.get("task_id") if isinstance(body, dict) else None
        if not task_id:
            raise ProviderError("The provider accepted the request but gave no task id.")
        return Submitted(task_id=str(task_id), poll_url=str(body.get("poll_url") or ""))
    return parse_result(body)


def _is_task(body: dict) -> bool:
    return (
        "task_id" in body and body.get("status") in ("queued", "running") and "images" not in body
    )


def build_poll(conn: Connection, task_id: str, poll_url: str) -> httpx.Request:
    path = poll_url if poll_url.startswith("/") else f"/v2/tasks/{quote(task_id, safe=':')}"
    return httpx.Request("GET", conn.base_url + path, headers=_headers(conn))


def parse_poll(response: httpx.Response) -> Result | Pending:
    check_status(response)
    body = json_body(response)
    if not isinstance(body, dict):
        raise ProviderError("The provider's task status could not be read.")
    status = body.get("status")
    if status in ("queued", "running"):
        return Pending(status)
    if status == "failed":
        reason = body.get("error_detail") or body.get("error") or "no reason given"
        # Relay charges on completion: a task it reports failed costs nothing.
        raise ProviderError(f"The provider could not make the image: {reason}", refused=True)
    if status == "completed":
        result = parse_result(body.get("result"))
        if body.get("elapsed_seconds") is not None:
            result.meta.setdefault("timings", {})["elapsed_seconds"] = body["elapsed_seconds"]
        return result
    raise ProviderError(f"The provider reported an unknown task status: {status!r}")


def parse_result(body: Any) -> Result:
    """Relay's image bodies: base64 `images`, or `urls` (Qwen), with `model` and task fields."""
    if not isinstance(body, dict):
        raise ProviderError("The provider's answer had no images in it.")
    outputs = [_output(item) for item in body.get("images") or []]
    outputs += [Output(url=url) for url in body.get("urls") or [] if isinstance(url, str)]
    outputs = [o for o in outputs if o is not None]
    if not outputs:
        raise ProviderError("The provider answered, but without any image.")
    meta: dict[str, Any] = {}
    for key in ("seed", "credits_used", "usd_spent", "model"):
        if body.get(key) is not None:
            meta[key] = body[key]
    return Result(outputs=outputs, meta=meta)  # type: ignore[arg-type]


def _output(item: Any) -> Output | None:
    if isinstance(item, str):
        return Output(url=item) if item.startswith(("http://", "https://")) else Output(b64=item)
    if isinstance(item, dict) and (item.get("url") or item.get("b64_json")):
        return Output(url=item.get("url"), b64=item.get("b64_json"))
    return None
