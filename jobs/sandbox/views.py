"""The sandbox provider: the AI/ML API's and Relay's HTTP protocols, answered with Pillow drawings.

Stateless: an async task id and a file URL carry their own signed request, so any web process
can answer for them and nothing needs cleaning up. With SANDBOX_FAULTS on, a `[sandbox:NAME]`
marker in the prompt makes it fail the way real providers do: see `jobs.sandbox.failures`.

Off unless SANDBOX_ENABLED; when on, it answers only requests that carry the sandbox key
(`jobs.sandbox.auth`), which only the worker sends. File URLs are the exception: the worker's
downloader never sends a provider's key to a download host, so a file is authorised by its
token alone. That token is signed with SECRET_KEY and is handed out only in the answer to a
keyed request, so a stranger can neither make one nor have anything drawn with a forged one.
A Relay task id is signed the same way; its polls need the key as well (real Relay takes the
id alone, and the worker sends the key anyway), so an id seen elsewhere draws nothing.
"""

import base64
import json
import random
import time
from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from jobs.catalog import SIZE_PRESETS
from jobs.sandbox import auth, draw, failures

TASK_SALT = "atelier.sandbox.task"
FILE_SALT = "atelier.sandbox.file"
# A file URL is downloaded within a generation's deadline; a day bounds what a leaked one is worth.
FILE_TOKEN_SECONDS = 24 * 3600
RELAY_MODEL = "sandbox/relay-async"
UNAUTHORISED = (
    "The sandbox answers only this site's worker: send the sandbox key as "
    "`Authorization: Bearer <key>` or `X-API-Key: <key>`."
)

type View = Callable[..., HttpResponseBase]


class BadRequest(Exception):
    pass


def sandbox_view(*, keyed: bool = True) -> Callable[[View], View]:
    """404 when the sandbox is off; 401 without the sandbox key (checked before the body is
    read, so nothing is parsed or drawn for a stranger); bad input is a 400 with its reason."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not settings.SANDBOX_ENABLED:
                message = "The sandbox provider is off."
                return JsonResponse({"error": {"message": message}}, status=404)
            if keyed and not auth.allowed(request):
                response = JsonResponse({"error": {"message": UNAUTHORISED}}, status=401)
                response["WWW-Authenticate"] = 'Bearer realm="sandbox"'
                return response
            try:
                return view(request, *args, **kwargs)
            except (BadRequest, failures.UnknownFailure) as e:
                return JsonResponse({"error": {"message": str(e)}}, status=400)

        return csrf_exempt(wrapper)

    return decorate


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("prompt is required and must be a non-empty string.")
    return body


def _int(body: dict, name: str, default: int, low: int, high: int, step: int = 1) -> int:
    value = body.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be an integer.")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}.")
    if value % step:
        raise BadRequest(f"{name} must be a multiple of {step}.")
    return value


def _choice(body: dict, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = body.get(name) or default
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}.")
    return value


def _seed(body: dict) -> int:
    if body.get("seed") is None:
        return random.randrange(2**31)
    return _int(body, "seed", 0, 0, 2**32 - 1)


def _response(answer: failures.Answer) -> HttpResponseBase:
    """A failure's answer as Django sends it."""
    response: HttpResponseBase
    if isinstance(answer.body, bytes):
        response = HttpResponse(answer.body, answer.content_type, answer.status)
    else:
        response = StreamingHttpResponse(answer.body, answer.content_type, answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def _submitted(request: HttpRequest, prompt: str) -> HttpResponseBase | None:
    answer = failures.submit_answer(prompt, request.headers)  # its names are case-insensitive
    return _response(answer) if answer is not None else None


def _latency() -> None:
    if settings.SANDBOX_LATENCY > 0:
        time.sleep(settings.SANDBOX_LATENCY)


def _file_url(request: HttpRequest, prompt: str, seed: int, w: int, h: int, fmt: str) -> str:
    token = signing.dumps([prompt, seed, w, h, fmt], salt=FILE_SALT, compress=True)
    url = request.build_absolute_uri(reverse("sandbox:file", args=[token]))
    return failures.sandbox.output_url(prompt, url)


def _b64(prompt: str, seed: int, w: int, h: int, fmt: str) -> str:
    if bad := failures.sandbox.b64_image(prompt):
        return bad
    return base64.b64encode(draw.render(prompt, seed, w, h, fmt)).decode()


@sandbox_view()
@require_POST
def generations(request: HttpRequest) -> HttpResponseBase:
    """AI/ML API `POST /v1/images/generations`, in the fal-style or the OpenAI-style shape."""
    body = _body(request)
    if (failed := _submitted(request, body["prompt"])) is not None:
        return failed
    model = body.get("model")
    if model == "sandbox/flux-sync":
        answer = _fal_style(request, body)
    elif model == "sandbox/openai-sync":
        answer = _openai_style(request, body)
    else:
        raise BadRequest(f"Unknown model {model!r}: use sandbox/flux-sync or sandbox/openai-sync.")
    _latency()
    return JsonResponse(answer)


def _fal_style(request: HttpRequest, body: dict) -> dict[str, Any]:
    size = body.get("image_size", "square_hd")
    if isinstance(size, str):
        if size not in SIZE_PRESETS:
            raise BadRequest(f"image_size must be one of {', '.join(SIZE_PRESETS)}.")
        width, height = SIZE_PRESETS[size]
    elif isinstance(size, dict):
        width = _int(size, "width", 1024, 64, 2048, 32)
        height = _int(size, "height", 1024, 64, 2048, 32)
    else:
        raise BadRequest("image_size must be a preset name or {width, height}.")
    count = _int(body, "num_images", 1, 1, 4)
    fmt = _choice(body, "output_format", "png", ("png", "jpeg"))
    seed, prompt = _seed(body), body["prompt"]
    started = time.perf_counter()
    images = [
        {
            "url": _file_url(request, prompt, seed + i, width, height, fmt),
            "width": width,
            "height": height,
            "content_type": draw.content_type(fmt),
        }
        for i in range(count)
    ]
    if failures.sandbox.empty(prompt):
        images = []
    return {
        "images": images,
        "seed": seed,
        "timings": {"inference": round(time.perf_counter() - started, 4)},
        "has_nsfw_concepts": [False] * count,
        "prompt": prompt,
    }


def _openai_style(request: HttpRequest, body: dict) -> dict[str, Any]:
    size = body.get("size") or "1024x1024"
    try:
        width, height = (int(side) for side in str(size).split("x"))
    except ValueError:
        raise BadRequest("size must look like 1024x1024.") from None
    if not (64 <= width <= 2048 and 64 <= height <= 2048):
        raise BadRequest("size must be between 64x64 and 2048x2048.")
    count = _int(body, "n", 1, 1, 4)
    delivery = _choice(body, "response_format", "url", ("url", "b64_json"))
    seed, prompt = _seed(body), body["prompt"]
    data = []
    for i in range(count):
        if delivery == "url":
            item = {"url": _file_url(request, prompt, seed + i, width, height, "png")}
        else:
            item = {"b64_json": _b64(prompt, seed + i, width, height, "png")}
        data.append({**item, "revised_prompt": f"{prompt} (sandbox rendition)"})
    if failures.sandbox.empty(prompt):
        data = []
    return {
        "created": int(time.time()),
        "data": data,
        "meta": {"usage": {"credits_used": 1000 * count}},
    }


def _relay_params(body: dict) -> list[Any]:
    return [
        body["prompt"],
        _seed(body),
        _int(body, "width", 1024, 64, 2048, 32),
        _int(body, "height", 1024, 64, 2048, 32),
        _choice(body, "output_format", "png", ("png", "jpeg")),
    ]


@sandbox_view()
@require_POST
def relay_generate(request: HttpRequest) -> HttpResponseBase:
    """Relay `POST /v2/image/generate`: base64 images at once, or a task with `"async": true`."""
    body = _body(request)
    if (failed := _submitted(request, body["prompt"])) is not None:
        return failed
    params = _relay_params(body)
    if body.get("async") is True:
        payload = {"params": params, "created": time.time(), "latency": settings.SANDBOX_LATENCY}
        task_id = "sandbox:" + signing.dumps(payload, salt=TASK_SALT, compress=True)
        return JsonResponse(
            {
                "task_id": task_id,
                "status": "queued",
                "poll_url": f"/v2/tasks/{task_id}",
                "message": "Task queued",
            },
            status=202,
        )
    _latency()
    return JsonResponse(
        {"images": _relay_images(params), "model": RELAY_MODEL, "task_id": None, "mode": "direct"}
    )


def _relay_images(params: list[Any]) -> list[str]:
    return [] if failures.sandbox.empty(params[0]) else [_b64(*params)]


@sandbox_view()
@require_GET
def relay_task(request: HttpRequest, task_id: str) -> HttpResponse:
    """Relay `GET /v2/tasks/{id}`: queued for the first third of the latency, then running."""
    try:
        payload = signing.loads(task_id.removeprefix("sandbox:"), salt=TASK_SALT)
    except signing.BadSignature:
        return JsonResponse({"error": "task not found"}, status=404)
    elapsed = round(time.time() - payload["created"], 3)
    latency = payload["latency"]
    status = "queued" if elapsed < latency / 3 else "running" if elapsed < latency else "completed"
    if status == "completed":
        elapsed = latency  # a finished task's clock stopped when it finished
    answer: dict[str, Any] = {"task_id": task_id, "status": status, "elapsed_seconds": elapsed}
    if status != "queued" and (
        failed := failures.sandbox.task_answer(payload["params"][0], elapsed >= latency)
    ):
        answer.update(failed)
    elif status == "completed":
        answer["model"] = RELAY_MODEL
        answer["result"] = {"images": _relay_images(payload["params"]), "model": RELAY_MODEL}
    return JsonResponse(answer)


@sandbox_view(keyed=False)  # the signed token is the capability: see the module's docstring
@require_GET
def file(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        prompt, seed, width, height, fmt = signing.loads(
            token, salt=FILE_SALT, max_age=FILE_TOKEN_SECONDS
        )
    except (signing.BadSignature, ValueError):
        raise Http404 from None
    content_type = draw.content_type(fmt)
    picture = partial(draw.render, prompt, seed, width, height, fmt)
    answer = failures.file_answer(prompt, request.build_absolute_uri(), picture, content_type)
    if answer is not None:
        return _response(answer)
    response = HttpResponse(picture(), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400, immutable"
    return response
