"""The team's prompt library (presets and styles) and a person's prompt history.

Every member uses the library; owners and editors change it. Applying a preset or a style
answers htmx with the generate form filled in, swapped in place; without JavaScript it is a
page with the same form.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.access import Request, can_edit, current_team
from gallery.images.forms import GenerateForm
from gallery.library import compose, history
from gallery.library.access import get_preset, get_style
from gallery.library.forms import PresetForm, StyleForm
from gallery.library.models import Preset, Style


def _shelves(team) -> dict:
    return {
        "presets": Preset.objects.filter(team=team),
        "styles": Style.objects.filter(team=team),
    }


def _filled(request: Request, initial: dict, title: str) -> TemplateResponse:
    form = GenerateForm(
        user=request.user,
        team=current_team(request),
        model_id=initial.get("model"),
        initial=initial,
    )
    if request.htmx:
        return TemplateResponse(request, "gallery/index.html#generate-form", {"form": form})
    return TemplateResponse(request, "gallery/compose.html", {"form": form, "title": title})


@login_required
@require_http_methods(["GET", "POST"])
def library(request: Request) -> HttpResponse:
    """The current team's presets and styles; editors add a style here."""
    team = current_team(request)
    editor = can_edit(request.user, team)
    form = StyleForm(request.POST or None, team=team)
    if request.method == "POST":
        if not editor:
            raise PermissionDenied
        if form.is_valid():
            form.instance.created_by = request.user
            style = form.save()
            messages.success(request, f"Added the style “{style.name}”.")
            return redirect("gallery:library")
    context = {"team": team, "editor": editor, "style_form": form} | _shelves(team)
    status = 400 if form.errors else 200
    return TemplateResponse(request, "gallery/library.html", context, status=status)


@login_required
@require_GET
def library_bar(request: Request) -> TemplateResponse:
    """The presets and styles above the generate form, loaded into it by htmx."""
    context = _shelves(current_team(request))
    return TemplateResponse(request, "gallery/_library_bar.html", context)


@login_required
@require_GET
def apply_preset(request: Request) -> TemplateResponse:
    """The form filled in from a preset (?preset=<uuid>&subject=…)."""
    preset = get_preset(request, request.GET.get("preset"))
    initial = compose.preset_initial(preset, request.GET.get("subject", ""))
    return _filled(request, initial, f"From the preset “{preset.name}”")


@login_required
@require_GET
def apply_style(request: Request) -> TemplateResponse:
    """The form as the page had it, with the style chosen (?style=<uuid>) added."""
    style = get_style(request, request.GET.get("style"))
    return _filled(request, compose.style_initial(request.GET, style), f"With “{style.name}”")


@login_required
@require_POST
def save_preset(request: Request) -> HttpResponse:
    """The generate form as sent, saved as a preset of the current team in one click."""
    team = current_team(request)
    if not can_edit(request.user, team):
        raise PermissionDenied
    form = GenerateForm(request.POST, user=request.user, team=team)
    if not compose.savable(form):
        messages.error(request, f"Not saved as a preset: {form.errors.as_text()}")
        status = 400
    else:
        preset = compose.save_preset(form, team, request.user)
        messages.success(request, f"Saved as the preset “{preset.name}”; rename it in the library.")
        status = 200
    if request.htmx:
        return TemplateResponse(request, "gallery/_library_bar.html", _shelves(team), status=status)
    return redirect("gallery:index")


@login_required
@require_http_methods(["GET", "POST"])
def edit_preset(request: Request, preset_uuid) -> HttpResponse:
    """Rename a preset or change its prompt template; or delete it."""
    preset = get_preset(request, preset_uuid, edit=request.method == "POST")
    return _edit(request, preset, PresetForm, "preset")


@login_required
@require_http_methods(["GET", "POST"])
def edit_style(request: Request, style_uuid) -> HttpResponse:
    """Rename a style or change its words; or delete it."""
    style = get_style(request, style_uuid, edit=request.method == "POST")
    return _edit(request, style, StyleForm, "style")


def _edit(request: Request, item, form_class, kind: str) -> HttpResponse:
    """The one edit page of the library: delete the item, or save its form (400 on errors)."""
    if request.method == "POST" and "delete" in request.POST:
        item.delete()
        messages.success(request, f"Deleted the {kind} “{item.name}”.")
        return redirect("gallery:library")
    form = form_class(request.POST or None, instance=item, team=item.team)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("gallery:library")
    context = {"form": form, "item": item, "editor": can_edit(request.user, item.team)}
    return TemplateResponse(
        request, "gallery/library_item.html", context, status=400 if form.errors else 200
    )


@login_required
@require_GET
def prompt_history(request: Request) -> TemplateResponse:
    """The person's own prompts, searchable; htmx gets the results list alone."""
    query = request.GET.get("q", "").strip()[:200]
    context = {"rows": history.prompts(request.user, query), "q": query}
    template = "gallery/history.html#results" if request.htmx else "gallery/history.html"
    return TemplateResponse(request, template, context)
