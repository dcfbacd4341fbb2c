"""One prompt, up to six models at once, side by side as each finishes."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods

from gallery.access import Request, can_edit, current_team
from gallery.accounts import throttle
from gallery.images.forms import GenerateForm, can_try, default_data
from gallery.models import Activity, Generation, card_images
from gallery.teams.activity import record
from gallery.usage.limits import OverBudget
from jobs import catalog
from jobs.start import start_generation

MOST = 6


def choices(team) -> list[catalog.Model]:
    return [m for m in catalog.offered() if can_try(m) and not catalog.missing_setting(m, team)]


@login_required
@require_http_methods(["GET", "POST"])
def try_models(request: Request) -> HttpResponse:
    team = current_team(request)
    models = choices(team)
    context = {"models": models, "most": MOST, "prompt": "", "chosen": []}
    if request.method == "GET":
        return TemplateResponse(request, "gallery/try.html", context)
    if not can_edit(request.user, team):
        raise PermissionDenied
    prompt = request.POST.get("prompt", "").strip()
    chosen = [m for m in models if m.id in request.POST.getlist("models")]
    context |= {"prompt": prompt, "chosen": [m.id for m in chosen]}
    error = None
    if not prompt:
        error = "Write a prompt to try."
    elif not 1 <= len(chosen) <= MOST:
        error = f"Choose between 1 and {MOST} models."
    forms = [GenerateForm(default_data(m, prompt), user=request.user, team=team) for m in chosen]
    bad = [f"{f.catalog_model.name}: {_first_error(f)}" for f in forms if not f.is_valid()]
    if error or bad:
        context["errors"] = [error] if error else bad
        return TemplateResponse(request, "gallery/try.html", context, status=400)
    # Each model tried is a generation, and counts against the generate limit as one.
    if refused := throttle.refusal(request.user, "generate", times=len(forms)):
        context["errors"] = [refused]
        return TemplateResponse(request, "gallery/try.html", context, status=429)
    batch = uuid.uuid4()
    try:
        with transaction.atomic():
            for form in forms:
                start_generation(
                    owner=request.user,
                    team=team,
                    gallery=form.cleaned_data["gallery"],
                    model_id=form.catalog_model.id,
                    provider=form.catalog_model.provider,
                    prompt=prompt,
                    params=form.params(),
                    batch=batch,
                )
            record(
                team,
                request.user,
                Activity.Verb.GENERATED,
                f"{prompt[:150]} (on {len(forms)} models)",
            )
    except OverBudget as e:
        context["errors"] = [str(e)]
        return TemplateResponse(request, "gallery/try.html", context, status=403)
    messages.success(request, f"Sent to {len(forms)} models.")
    return redirect("gallery:try-results", batch)


def _first_error(form: GenerateForm) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return ""


@login_required
@require_GET
def try_results(request: Request, batch) -> TemplateResponse:
    generations = list(
        Generation.objects.visible_to(request.user)
        .filter(batch=batch)
        .select_related("owner")
        .prefetch_related(card_images())
        .order_by("model_id")
        .distinct()
    )
    if not generations:
        raise Http404
    context = {"generations": generations, "prompt": generations[0].prompt}
    return TemplateResponse(request, "gallery/try_results.html", context)
