"""REST routes for making images: the team's catalog, and generations (start, look, cancel,
retry). A generation is checked exactly as the generate form checks it, with the form itself."""

from typing import Any
from uuid import UUID

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status

from gallery.accounts import throttle
from gallery.api import schemas
from gallery.api.access import caller, get_generation
from gallery.api.auth import Caller, Forbidden
from gallery.api.errors import Conflict, Invalid, TooMany
from gallery.images.forms import (
    THROTTLED,
    GenerateForm,
    first_problem,
    form_values,
    retry_form,
)
from gallery.models import Activity, Budget, Generation, ModelRefused
from gallery.policy.models import models_unavailable
from gallery.teams.activity import record
from gallery.usage.limits import OverBudget
from jobs import catalog

router = Router(tags=["generations"])


class GenerationIn(Schema):
    model: str
    prompt: str = ""
    gallery: UUID | None = None
    # Under the catalog's names (GET /models); pictures as {"image": "<image uuid>"}.
    params: dict[str, Any] = {}


@router.get("/models", response={200: schemas.CatalogOut, **schemas.PROBLEMS}, url_name="models")
def list_models(request: HttpRequest):
    """Every model offered, with its parameters and their limits; unavailable ones say why.
    `limits` are the budgets that apply to you in this team, with what is used."""
    who = caller(request)
    ruled_out = models_unavailable(who.user, who.team)
    return {
        "models": [schemas.model_out(m, who.team, ruled_out.get(m.id)) for m in catalog.offered()],
        "limits": [schemas.limit_out(limit) for limit in Budget.limits(who.user, who.team)],
    }


@router.post(
    "/generations",
    response={202: schemas.GenerationOut, **schemas.PROBLEMS},
    url_name="generations",
)
def create_generation(request: HttpRequest, body: GenerationIn):
    """Start a generation; it runs in the background: poll GET /generations/{uuid}."""
    who = caller(request)
    who.require_write()
    form = bound_form(who, body.model, body.prompt, body.params, body.gallery)
    if not form.is_valid():
        raise refusal(who, form)
    return Status(202, schemas.generation_out(request, start(who, form), who.team))


@router.get(
    "/generations/{generation_uuid}",
    response={200: schemas.GenerationOut, **schemas.PROBLEMS},
    url_name="generation",
)
def read_generation(request: HttpRequest, generation_uuid: UUID):
    generation = get_generation(request, generation_uuid)
    return schemas.generation_out(request, generation, caller(request).team)


@router.post(
    "/generations/{generation_uuid}/cancel",
    response={200: schemas.GenerationOut, **schemas.PROBLEMS},
    url_name="generation-cancel",
)
def cancel_generation(request: HttpRequest, generation_uuid: UUID):
    generation = get_generation(request, generation_uuid, edit=True)
    _throttle(caller(request), "cancel")
    if not generation.cancel() and generation.status != Generation.Status.CANCELLED:
        raise Conflict(f"That generation had already finished ({generation.status}).")
    return schemas.generation_out(request, generation, caller(request).team)


@router.post(
    "/generations/{generation_uuid}/retry",
    response={202: schemas.GenerationOut, **schemas.PROBLEMS},
    url_name="generation-retry",
)
def retry_generation(request: HttpRequest, generation_uuid: UUID):
    """Run a failed or cancelled generation again, as a new one, checked as a new one is."""
    generation = get_generation(request, generation_uuid, edit=True)
    if generation.status not in (Generation.Status.FAILED, Generation.Status.CANCELLED):
        raise Conflict("Only a failed or cancelled generation can be retried.")
    who = caller(request)
    form = retry_form(who.user, generation)
    if not form.is_valid():
        raise refusal(who, form, "Not retried: ")
    retry = start(who, form, retry_of=generation)
    return Status(202, schemas.generation_out(request, retry, who.team))


def start(who: Caller, form: GenerateForm, **fields: Any) -> Generation:
    """Make the generation a valid form describes, with its ledger row (budgets, the site's
    cap), marked with the token; raises TooMany when a limit refuses it, saving nothing."""
    try:
        with form.uploads_removed_on_error(), transaction.atomic():
            generation = form.start(api_token=who.token, **fields)
            record(who.team, who.user, Activity.Verb.GENERATED, generation.prompt[:200])
    except ModelRefused as e:
        # Not a limit that waiting lifts (an SDK would retry a 429): the rules refuse it.
        raise Forbidden(str(e)) from None
    except OverBudget as e:
        raise TooMany(str(e)) from None
    return generation


def bound_form(
    who: Caller,
    model_id: str,
    prompt: str,
    params: dict[str, Any],
    gallery: UUID | None = None,
    files: Any = None,
) -> GenerateForm:
    """The generate form, bound to parameters under the catalog's names as if the person had
    filled it in: every API that makes images validates through this (raises Invalid for a
    parameter the model does not have, or a picture that is not the team's). `files` are
    uploads under the form's field names (`p_<param>`), as the page sends them."""
    data: dict[str, Any] = {"model": model_id, "prompt": prompt}
    if gallery:
        data["gallery"] = str(gallery)
    model = catalog.get(model_id)
    if model is not None:
        if unknown := sorted(set(params) - {p.name for p in model.options}):
            raise Invalid(
                f"{model.id} has no parameter {', '.join(unknown)}; GET /api/v1/models lists "
                "each model's parameters.",
                {name: ["Unknown parameter."] for name in unknown},
            )
        for param in model.image_params:
            _only_gallery_pictures(param, params.get(param.name))
        data |= form_values(model, params)
    return GenerateForm(
        data, files, user=who.user, team=who.team, model_id=model_id, rate_limited=True
    )


def _only_gallery_pictures(param: catalog.Param, value: Any) -> None:
    refs = value if isinstance(value, list) else [] if value is None else [value]
    if not all(isinstance(r, dict) and set(r) == {"image"} for r in refs):
        raise Invalid(
            f'{param.name}: name pictures of the team\'s gallery as {{"image": "<image uuid>"}}.',
            {param.name: ['Expected {"image": "<image uuid>"} items.']},
        )


def form_errors(form: GenerateForm) -> dict[str, list[str]]:
    """The form's errors under the API's names: p_size_width is `size`, __all__ is `request`."""
    found: dict[str, list[str]] = {}
    names = {p.name for p in form.catalog_model.options}
    for field, errors in form.errors.items():
        name = "request" if field == "__all__" else field.removeprefix("p_")
        for suffix in ("_width", "_height", "_pick"):
            if name not in names and name.removesuffix(suffix) in names:
                name = name.removesuffix(suffix)
        found.setdefault(name, []).extend(str(e) for e in errors)
    return found


def refusal(who: Caller, form: GenerateForm, said: str = "") -> Exception:
    """Why a bound form was refused: 429 when it is the generate rate (the form counts it, as
    on the page), else 400 naming the parameters."""
    if form.has_error(NON_FIELD_ERRORS, THROTTLED):
        return TooMany(said + first_problem(form), throttle.retry_after(who.user, "generate"))
    return Invalid(said + first_problem(form), form_errors(form))


def _throttle(who: Caller, action: str) -> None:
    if refused := throttle.refusal(who.user, action):
        raise TooMany(refused, throttle.retry_after(who.user, action))
