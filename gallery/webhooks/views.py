"""Owners' webhook pages: add an endpoint (its secret shown once), change, rotate, remove, and the
delivery log with "resend". Every view opens with `_endpoint` or `get_team(..., manage=True)`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.access import Request, get_team
from gallery.webhooks import endpoints, events
from gallery.webhooks.forms import EndpointForm
from gallery.webhooks.models import Endpoint


def _endpoint(request: Request, team_uuid, endpoint_uuid) -> Endpoint:
    """Owners only: 404 for strangers and unknown endpoints, 403 for the team's other members."""
    team = get_team(request, team_uuid, manage=True)
    return get_object_or_404(team.webhook_endpoints.select_related("team"), uuid=endpoint_uuid)


def _shown_once(request: Request, endpoint: Endpoint, secret: str, status: int) -> TemplateResponse:
    context = {"endpoint": endpoint, "team": endpoint.team, "secret": secret}
    response = TemplateResponse(request, "gallery/webhook_secret.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def add_endpoint(request: Request, team_uuid) -> HttpResponse:
    team = get_team(request, team_uuid, manage=True)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = endpoints.add(team, request.user, **form.cleaned_data)
        except endpoints.TooMany as e:
            form.add_error(None, str(e))
        else:
            return _shown_once(request, endpoint, secret, status=201)
    context = {"team": team, "form": form}
    return TemplateResponse(request, "gallery/webhook_new.html", context, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request: Request, team_uuid, endpoint_uuid) -> HttpResponse:
    endpoint = _endpoint(request, team_uuid, endpoint_uuid)
    initial = {"url": endpoint.url, "events": endpoint.events, "active": endpoint.active}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        endpoints.change(endpoint, **form.cleaned_data)
        messages.success(request, "Webhook saved.")
        return redirect("gallery:webhook-detail", endpoint.team.uuid, endpoint.uuid)
    context = {"endpoint": endpoint, "team": endpoint.team, "form": form}
    context["deliveries"] = endpoints.log(endpoint)
    status = 400 if form.errors else 200
    return TemplateResponse(request, "gallery/webhook_detail.html", context, status=status)


@login_required
@require_POST
def rotate_secret(request: Request, team_uuid, endpoint_uuid) -> HttpResponse:
    endpoint = _endpoint(request, team_uuid, endpoint_uuid)
    return _shown_once(request, endpoint, endpoint.rotate_secret(), status=200)


@login_required
@require_POST
def delete_endpoint(request: Request, team_uuid, endpoint_uuid) -> HttpResponse:
    endpoint = _endpoint(request, team_uuid, endpoint_uuid)
    endpoint.delete()
    messages.success(request, f"Webhook to {endpoint.url} removed.")
    return redirect("gallery:team-detail", endpoint.team.uuid)


@login_required
@require_POST
def resend_delivery(request: Request, team_uuid, endpoint_uuid, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint(request, team_uuid, endpoint_uuid)
    delivery = get_object_or_404(endpoint.deliveries, pk=delivery_id)
    if delivery.resend():
        events.announce([delivery.pk])
        messages.success(request, f"Sending {delivery.event.type} again.")
    else:
        messages.error(request, "That delivery is already on its way; wait for it to end.")
    return redirect("gallery:webhook-detail", endpoint.team.uuid, endpoint.uuid)


@login_required
@require_GET
def new_endpoint(request: Request, team_uuid) -> TemplateResponse:
    team = get_team(request, team_uuid, manage=True)
    return TemplateResponse(
        request, "gallery/webhook_new.html", {"team": team, "form": EndpointForm()}
    )
