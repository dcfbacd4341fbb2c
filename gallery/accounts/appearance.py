"""How Atelier looks to each person: the theme they chose, whether the composer's options
start open, and the models they starred in the model picker, kept on the server.

The page carries it as <html data-theme>, rendered by the server, so the first paint is already
in the right colours (no flash) on every device the person uses.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from gallery.access import Request
from gallery.models import Preferences
from jobs import catalog


@require_POST
@login_required
def set_theme(request: Request) -> HttpResponse:
    """Light, dark, or "" to follow the system."""
    theme = request.POST.get("theme", "")
    if theme not in Preferences.Theme.values:
        return HttpResponseBadRequest("Choose light, dark or the system's setting.")
    Preferences.objects.update_or_create(user=request.user, defaults={"theme": theme})
    return _done(request)


@require_POST
@login_required
def set_options_open(request: Request) -> HttpResponse:
    """Whether the composer's Options disclosure starts open: "1" or "0". app.js sends it when
    the disclosure is toggled; without JavaScript, a button in it does."""
    shown = request.POST.get("options_open", "")
    if shown not in ("0", "1"):
        return HttpResponseBadRequest("Say 1 to keep the options open, 0 to keep them folded.")
    Preferences.objects.update_or_create(user=request.user, defaults={"options_open": shown == "1"})
    return _done(request)


def _done(request: Request) -> HttpResponse:
    """htmx gets 204; a plain form goes back to the page it was on (its Referer: the page's own
    address is not echoed into every page)."""
    if request.htmx:
        return HttpResponse(status=204)
    back = request.headers.get("referer", "")
    safe = url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(back if safe else "gallery:index")


@require_POST
@login_required
def star_model(request: Request) -> HttpResponse:
    """Star (starred=1) or unstar (starred=0) a model; the picker lists starred models first.
    Answers with the person's favorites as they now stand."""
    model = catalog.get(request.POST.get("model", ""))
    starred = request.POST.get("starred")
    if model is None or not model.offered:
        return HttpResponseBadRequest("Star one of the models in the list.")
    if starred not in ("0", "1"):
        return HttpResponseBadRequest("Say starred=1 to star the model or starred=0 to unstar it.")
    favorites = Preferences.star_model(request.user, model.id, starred == "1")
    return JsonResponse({"favorites": favorites})
