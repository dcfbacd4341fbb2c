"""REST routes for a team's webhooks, owners only: list, add (the secret shown this once),
remove. Checked by the page's own form (the same SSRF guard) and made by the same functions
(gallery/webhooks/endpoints.py)."""

from datetime import datetime
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from gallery.api import schemas
from gallery.api.access import caller
from gallery.api.errors import Invalid
from gallery.webhooks import endpoints
from gallery.webhooks.forms import EndpointForm
from gallery.webhooks.models import Endpoint

router = Router(tags=["webhooks"])


class EndpointIn(Schema):
    url: str
    events: list[str]
    active: bool = True


class EndpointOut(Schema):
    uuid: UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class EndpointMade(EndpointOut):
    # Shown this once: keep it to check signatures (Standard Webhooks, `whsec_…`).
    secret: str


def _out(endpoint: Endpoint) -> dict:
    fields = ("uuid", "url", "events", "active", "created_at")
    return {name: getattr(endpoint, name) for name in fields}


@router.get("/webhooks", response={200: list[EndpointOut], **schemas.PROBLEMS}, url_name="webhooks")
def list_webhooks(request: HttpRequest):
    who = caller(request)
    who.require_owner()
    return [_out(e) for e in who.team.webhook_endpoints.all()]


@router.post("/webhooks", response={201: EndpointMade, **schemas.PROBLEMS}, url_name="webhooks")
def add_webhook(request: HttpRequest, body: EndpointIn, response: HttpResponse):
    """Add a receiver; the answer carries its signing secret, which is never shown again."""
    response["Cache-Control"] = "no-store"  # nor kept by a cache on the way
    who = caller(request)
    who.require_change()
    who.require_owner()
    form = EndpointForm({"url": body.url, "events": body.events, "active": body.active})
    if not form.is_valid():
        errors = {name: [str(e) for e in found] for name, found in form.errors.items()}
        name, problems = next(iter(errors.items()))
        raise Invalid(f"{name}: {problems[0]}", errors)
    try:
        endpoint, secret = endpoints.add(who.team, who.user, **form.cleaned_data)
    except endpoints.TooMany as e:
        raise Invalid(str(e)) from None
    return Status(201, _out(endpoint) | {"secret": secret})


@router.delete(
    "/webhooks/{endpoint_uuid}", response={204: None, **schemas.PROBLEMS}, url_name="webhook"
)
def delete_webhook(request: HttpRequest, endpoint_uuid: UUID):
    who = caller(request)
    endpoint = get_object_or_404(who.team.webhook_endpoints, uuid=endpoint_uuid)
    who.require_change()
    who.require_owner()
    endpoint.delete()
    return Status(204, None)
