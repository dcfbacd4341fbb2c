"""OpenAI's images API over Atelier's catalog: a request's fields onto a model's own parameters,
and OpenAI's error shape.

The common fields (`n`, `size`, `quality`, `output_format`, `background`) are written to the
parameter each model has for them; every other field of the body is a parameter under its
catalog name (the SDKs' `extra_body`), checked afterwards by the generate form like any other.
A common field the model has nothing for is refused by name rather than dropped, so a script
never gets something other than what it asked for without being told.
"""

from dataclasses import dataclass, field
from typing import Any

from django.http import JsonResponse

from gallery.api import sizes
from jobs.catalog import Model

# Fields of OpenAI's request that are not model parameters: Atelier reads them itself.
OWN_FIELDS = ("model", "prompt", "response_format", "user", "image", "image[]", "mask")
COMMON_FIELDS = ("n", "size", "quality", "output_format", "background")
COUNT_PARAMS = ("n", "num_images", "batch_size")
# OpenAI's DALL·E qualities and gpt-image's, each to the nearest of the other family.
QUALITY_NEAREST = {"hd": "high", "standard": "medium", "high": "hd", "medium": "standard"}
RESPONSE_FORMATS = ("url", "b64_json")


@dataclass
class Problem(Exception):
    """An answer in OpenAI's error shape: `{"error": {message, type, param, code}}`."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None
    retry_after: int | None = None
    kind: str = field(default="")

    TYPES = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        502: "provider_error",
        504: "timeout_error",
    }

    def __str__(self) -> str:
        return self.message

    def response(self) -> JsonResponse:
        error = {
            "message": self.message,
            "type": self.kind or self.TYPES.get(self.status, "api_error"),
            "param": self.param,
            "code": self.code,
        }
        response = JsonResponse({"error": error}, status=self.status)
        if self.retry_after:
            response["Retry-After"] = str(self.retry_after)
        if self.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="atelier"'
        return response


def invalid(message: str, param: str | None) -> Problem:
    return Problem(400, message, param=param, code="invalid_value" if param else None)


@dataclass
class Request:
    """What a request asks for, in the model's own terms."""

    prompt: str
    params: dict[str, Any]
    response_format: str
    # The model parameter each common field was written to, to name errors as the caller did.
    said: dict[str, str]


def read(model: Model, body: dict[str, Any]) -> Request:
    """The model's parameters for an OpenAI-shaped body; raises Problem (400) naming the field."""
    response_format = body.get("response_format") or "url"
    if response_format not in RESPONSE_FORMATS:
        raise invalid("response_format must be url or b64_json.", "response_format")
    user = body.get("user")
    if user is not None and (not isinstance(user, str) or len(user) > 256):
        raise invalid("user must be a string of at most 256 characters.", "user")
    if body.get("stream") not in (None, False, "false"):
        raise invalid("Streaming partial images is not offered; leave stream out.", "stream")
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise invalid("prompt must be a string.", "prompt")
    params: dict[str, Any] = {}
    said: dict[str, str] = {}
    for name in COMMON_FIELDS:
        if body.get(name) is not None:
            mapped = _common(model, name, body[name])
            params |= mapped
            said |= dict.fromkeys(mapped, name)
    extra = {k: v for k, v in body.items() if k not in (*OWN_FIELDS, *COMMON_FIELDS, "stream")}
    if clash := sorted(set(extra) & set(params)):
        raise invalid(
            f"{clash[0]} was given both directly and through {said[clash[0]]}; give one.",
            clash[0],
        )
    return Request(prompt, params | extra, response_format, said)


def _common(model: Model, name: str, value: Any) -> dict[str, Any]:
    if name == "n":
        return _count(model, value)
    if name == "size":
        try:
            return sizes.params_for(model, value)
        except sizes.SizeError as e:
            raise invalid(str(e), "size") from None
    if name == "quality":
        return _choice(model, "quality", value, QUALITY_NEAREST.get(value))
    if name == "output_format":
        return _choice(model, "output_format", value, {"jpg": "jpeg"}.get(value))
    return _choice(model, "background", value)


def _count(model: Model, value: Any) -> dict[str, Any]:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise invalid("n must be a whole number.", "n") from None
    param = next((p for name in COUNT_PARAMS if (p := model.param(name))), None)
    if param is None:
        if n != 1:
            raise invalid(f"{model.id} makes one image per request; ask with n=1.", "n")
        return {}
    return {param.name: n}


def _choice(model: Model, name: str, value: Any, nearest: Any = None) -> dict[str, Any]:
    """The value when the model has it, else its nearest spelling; "auto" leaves the model's
    default; anything else is refused, listing what the model takes."""
    param = model.param(name)
    allowed = param.enum if param is not None else ()
    if value in allowed:
        return {name: value}
    if nearest in allowed:
        return {name: nearest}
    if value == "auto":
        return {}
    if param is None:
        raise invalid(f"{model.id} has no {name} setting; leave {name} out.", name)
    raise invalid(f"{name} must be one of {', '.join(map(str, allowed))} for {model.id}.", name)
