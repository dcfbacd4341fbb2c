"""Making images: the generate form and its model fields, and one generation's card, cancel
and retry."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from gallery.access import Request, current_team, get_generation
from gallery.accounts import throttle
from gallery.images import browse
from gallery.images.forms import (
    OVER_BUDGET,
    GenerateForm,
    first_problem,
    refused_status,
    retry_form,
)
from gallery.models import Activity, Generation, Team
from gallery.teams.activity import record
from gallery.usage.limits import OverBudget
from jobs import catalog


@login_required
@require_GET
def model_fields(request: Request) -> TemplateResponse:
    """The chosen model's own fields, swapped into the form when the Model select changes."""
    team = current_team(request)
    form = GenerateForm(user=request.user, team=team, model_id=request.GET.get("model"))
    return TemplateResponse(request, "gallery/index.html#model-fields", {"form": form})


@login_required
@require_POST
def generate(request: Request) -> HttpResponse:
    team = current_team(request, edit=True)
    form = GenerateForm(
        request.POST, request.FILES, user=request.user, team=team, rate_limited=True
    )
    generation = _start(request, form) if form.is_valid() else None
    if generation is None:
        return _form_refused(request, team, form)
    if request.htmx:
        context = {"generation": generation, "form": form}
        return TemplateResponse(request, "gallery/_generated.html", context)
    return redirect("gallery:index")


def _start(request: Request, form: GenerateForm) -> Generation | None:
    """The new generation, recorded in the team's activity; None, with the form saying why,
    when a budget refuses it."""
    try:
        with form.uploads_removed_on_error(), transaction.atomic():
            generation = form.start()
            record(form.team, request.user, Activity.Verb.GENERATED, generation.prompt[:200])
    except OverBudget as e:
        form.add_error(None, ValidationError(str(e), code=OVER_BUDGET))
        return None
    return generation


def _form_refused(request: Request, team: Team, form: GenerateForm) -> HttpResponse:
    """The form again with its errors: in place with htmx, else the whole page, with a status
    saying why (400 a mistake, 429 too fast, 403 over a budget)."""
    if request.htmx:
        response = TemplateResponse(request, "gallery/index.html#generate-form", {"form": form})
        return reswap(retarget(response, "#generate-form"), "outerHTML")
    context = browse.grid(request, team) | browse.choices(team) | {"form": form}
    return TemplateResponse(request, "gallery/index.html", context, status=refused_status(form))


@login_required
@require_GET
def generation_card(request: Request, generation_uuid) -> TemplateResponse:
    """One card, polled while its generation is in flight; the terminal card stops polling."""
    generation = get_generation(request, generation_uuid)
    return TemplateResponse(request, "gallery/_card.html", {"generation": generation})


@login_required
@require_POST
def cancel_generation(request: Request, generation_uuid) -> HttpResponse:
    """Stop a generation that is queued or in flight; a late result is thrown away."""
    generation = get_generation(request, generation_uuid, edit=True)
    if refused := throttle.refusal(request.user, "cancel"):
        return _card_refused(request, generation, f"Not cancelled: {refused}")
    if not generation.cancel() and generation.status != Generation.Status.CANCELLED:
        messages.info(request, "That generation had already finished.")
    generation.refresh_from_db()
    if request.htmx:
        return TemplateResponse(request, "gallery/_card.html", {"generation": generation})
    return redirect("gallery:index")


@login_required
@require_POST
def retry_generation(request: Request, generation_uuid) -> HttpResponse:
    """Run a failed or cancelled generation again, as a new one made by whoever presses Retry."""
    generation = get_generation(request, generation_uuid, edit=True)
    if generation.status not in (Generation.Status.FAILED, Generation.Status.CANCELLED):
        messages.info(request, "Only a failed or cancelled generation can be retried.")
        return redirect("gallery:index")
    try:
        retry = _start_retry(request.user, generation)
    except Refused as e:
        return _card_refused(request, generation, f"Not retried: {e}")
    if request.htmx:
        return TemplateResponse(request, "gallery/_card.html", {"generation": retry})
    return redirect("gallery:index")


class Refused(Exception):
    """Why something was not done, in words for the person."""


def _start_retry(user, generation: Generation) -> Generation:
    """A new generation from an old one's settings, checked as a new generation is: the model
    still offered and usable, the parameters through the form, the rate limit of the person
    pressing Retry, and their budgets and the team's. Raises Refused, with nothing saved."""
    model = catalog.get(generation.model_id)
    if model is None or not model.offered:
        raise Refused(f"{model.name if model else generation.model_id} is not offered any more.")
    form = retry_form(user, generation)
    if not form.is_valid():
        raise Refused(first_problem(form))
    try:
        with transaction.atomic():
            return form.start(retry_of=generation)
    except OverBudget as e:
        raise Refused(str(e)) from None


def _card_refused(request: Request, generation: Generation, refused: str) -> HttpResponse:
    """The same card again, in place, saying why; or the message, without htmx."""
    if request.htmx:
        context = {"generation": generation, "refused": refused}
        response = TemplateResponse(request, "gallery/_card.html", context)
        return reswap(retarget(response, f"#gen-{generation.uuid}"), "outerHTML")
    messages.error(request, refused)
    return redirect("gallery:index")
