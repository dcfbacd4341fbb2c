"""One prompt, up to six models at once, side by side as each finishes."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods

from gallery.access import Request, current_team, get_batch
from gallery.images.forms import MOST_TRIED, OVER_BUDGET, TryForm, refused_status
from gallery.models import Activity
from gallery.teams.activity import record
from gallery.usage.limits import OverBudget


@login_required
@require_http_methods(["GET", "POST"])
def try_models(request: Request) -> HttpResponse:
    posted = request.method == "POST"
    team = current_team(request, edit=posted)
    form = TryForm(request.POST if posted else None, user=request.user, team=team)
    batch = _start(request, form) if form.is_valid() else None
    if batch is None:
        context = {
            "models": form.offered,
            "most": MOST_TRIED,
            "prompt": form["prompt"].value() or "",
            "chosen": form.chosen(),
            "errors": form.problems(),
        }
        status = refused_status(form) if posted else 200
        return TemplateResponse(request, "gallery/try.html", context, status=status)
    messages.success(request, f"Sent to {len(form.forms)} models.")
    return redirect("gallery:try-results", batch)


def _start(request: Request, form: TryForm) -> uuid.UUID | None:
    """One generation per model, in one batch; None, with the form saying why, when a budget
    refuses any of them (then none is made)."""
    batch = uuid.uuid4()
    prompt = form.cleaned_data["prompt"]
    try:
        with transaction.atomic():
            for each in form.forms:
                each.start(batch=batch)
            said = f"{prompt[:150]} (on {len(form.forms)} models)"
            record(form.team, request.user, Activity.Verb.GENERATED, said)
    except OverBudget as e:
        form.add_error(None, ValidationError(str(e), code=OVER_BUDGET))
        return None
    return batch


@login_required
@require_GET
def try_results(request: Request, batch) -> TemplateResponse:
    generations = get_batch(request, batch)
    context = {"generations": generations, "prompt": generations[0].prompt}
    return TemplateResponse(request, "gallery/try_results.html", context)
