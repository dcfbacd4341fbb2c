"""POST /v1/images/generations and /v1/images/edits: OpenAI's images API, so its SDKs work with
`base_url="<site>/v1"` and an Atelier token as the key, over every model the team may use.

A request is checked and started exactly as the REST API starts one (the generate form, the
model rules, budgets, the site's cap, the generate rate), then the view waits, without holding
a worker, until the generation ends (gallery/api/waiting.py), and answers in OpenAI's shape.
"""

import base64
import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt

from gallery.api import waiting
from gallery.api.auth import Caller, Forbidden, Refused, authenticate
from gallery.api.compat import Problem, Request, invalid, read
from gallery.api.errors import Invalid, TooMany
from gallery.api.generations import bound_form, refusal, start
from gallery.models import Generation
from gallery.policy.models import Rules
from jobs import catalog, links
from jobs.catalog import Model

log = logging.getLogger(__name__)


@csrf_exempt  # a token in a header, never a cookie: no page can make the call for someone
async def generations(request: HttpRequest) -> JsonResponse:
    return await _serve(request, edit=False)


@csrf_exempt
async def edits(request: HttpRequest) -> JsonResponse:
    return await _serve(request, edit=True)


async def _serve(request: HttpRequest, *, edit: bool) -> JsonResponse:
    if request.method != "POST":
        return Problem(405, "Use POST.", kind="invalid_request_error").response()
    try:
        generation, asked = await sync_to_async(begin)(request, edit)
        ended = await waiting.ended(generation.pk, generation.team_id, settings.API_WAIT_SECONDS)
        if ended is None:
            raise Problem(
                504,
                f"Generation {generation.uuid} is still running after "
                f"{settings.API_WAIT_SECONDS} s; fetch it later with "
                f"GET /api/v1/generations/{generation.uuid}.",
                code="timeout",
            )
        return await sync_to_async(answer)(request, ended, asked)
    except Problem as problem:
        return problem.response()


def begin(request: HttpRequest, edit: bool) -> tuple[Generation, Request]:
    """Check the request as the form checks one and start its generation; raises Problem."""
    who = _caller(request)
    try:
        who.require_write()
        body = _body(request, edit)
        model = _model(body, edit)
        if refused := Rules.of(who.user, who.team).listed(model):
            # Not a mistake in the request: this person may not use it here (as on the page).
            raise Problem(403, f"{model.name} is {refused}.", param="model", code="model_refused")
        asked = read(model, body)
        files = _pictures(model, request.FILES) if edit else None
        form = bound_form(who, model.id, asked.prompt, asked.params, files=files)
        if not form.is_valid():
            raise refusal(who, form)
        generation = start(who, form)
        if user := body.get("user"):  # OpenAI's end-user id: kept where an operator looks
            log.info("generation %s started for end user %r", generation.uuid, user)
        return generation, asked
    except Forbidden as e:
        raise Problem(403, str(e)) from None
    except TooMany as e:
        raise Problem(429, str(e), code="rate_limit_exceeded", retry_after=e.retry_after) from None
    except Invalid as e:
        raise invalid(str(e), _named(asked, model, e.errors)) from None


def _caller(request: HttpRequest) -> Caller:
    try:
        who = authenticate(request.headers.get("Authorization", ""))
    except Refused as e:
        raise Problem(401, str(e), code="invalid_api_key") from None
    request.user = who.user
    return who


def _body(request: HttpRequest, edit: bool) -> dict[str, Any]:
    if edit:  # multipart, as the SDKs send pictures; the pictures are in request.FILES
        return request.POST.dict()
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise invalid("The body must be a JSON object.", None) from None
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.", None)
    return body


def _model(body: dict[str, Any], edit: bool) -> Model:
    name = body.get("model")
    if not name or not isinstance(name, str):
        raise invalid("model is required: an id from GET /api/v1/models.", "model")
    model = catalog.get(name)
    if model is None or not model.offered:
        raise Problem(
            404,
            f"The model {name} does not exist here; GET /api/v1/models lists them.",
            param="model",
            code="model_not_found",
        )
    if edit and not model.image_params:
        # gpt-image's edits are a second endpoint of the model, a variant in the catalog.
        variant = next((m for m in catalog.offered() if m.variant_of == model.id), None)
        if variant is None or not variant.image_params:
            raise invalid(f"{model.id} does not take a picture; use a model that edits.", "model")
        model = variant
    return model


def _pictures(model: Model, files: MultiValueDict) -> MultiValueDict:
    """The uploads under the form's field names: `image` (or `image[]`) to the model's first
    picture parameter, `mask` to its mask parameter."""
    images = files.getlist("image") + files.getlist("image[]")
    if not images:
        raise invalid("image is required: the picture to edit.", "image")
    target = next((p for p in model.image_params if not p.mask_convention), None)
    if target is None:
        raise invalid(f"{model.id} takes only a mask; use a model that edits.", "image")
    found = MultiValueDict({f"p_{target.name}": images})
    if mask := files.get("mask"):
        if model.mask_param is None:
            raise invalid(f"{model.id} takes no mask; leave mask out.", "mask")
        found.setlist(f"p_{model.mask_param.name}", [mask])
    return found


def _named(asked: Request, model: Model, errors: dict[str, list[str]] | None) -> str | None:
    """The field a refusal is about, as the caller named it."""
    name = next(iter(errors or {}), None)
    if name is None or name == "request":
        return None
    if name in asked.said:
        return asked.said[name]
    if model.mask_param is not None and name == model.mask_param.name:
        return "mask"
    if any(p.name == name for p in model.image_params):
        return "image"
    return name


def answer(request: HttpRequest, generation: Generation, asked: Request) -> JsonResponse:
    if generation.status != Generation.Status.SUCCEEDED:
        raise Problem(
            502,
            f"Generation {generation.uuid} {generation.status}: "
            f"{generation.error or 'no reason was given'}",
            code=f"generation_{generation.status}",
        )
    site = request.build_absolute_uri("/")
    data = []
    for image in generation.images.filter(deleted_at=None).order_by("index"):
        item: dict[str, Any] = {"revised_prompt": generation.prompt}
        if asked.response_format == "b64_json":
            with image.original.open("rb") as f:
                item["b64_json"] = base64.b64encode(f.read()).decode()
        else:
            item["url"] = links.public_link("image", str(image.uuid), site)
        data.append(item)
    created = int(generation.created_at.timestamp())
    return JsonResponse({"created": created, "data": data, "generation": str(generation.uuid)})
