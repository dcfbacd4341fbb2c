"""Webhooks in the admin: read-only, secrets never shown (owners manage them on the team page)."""

from django.contrib import admin

from gallery.admin_bases import ReadOnly
from gallery.webhooks.models import Attempt, Delivery, Endpoint, Event


@admin.register(Endpoint)
class EndpointAdmin(ReadOnly):
    list_display = ("url", "team", "active", "created_at")
    exclude = ("secret", "previous_secret")


@admin.register(Event)
class EventAdmin(ReadOnly):
    list_display = ("type", "team", "msg_id", "created_at")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = ("event", "endpoint", "status", "attempts", "delivered_at")
    list_filter = ("status",)


@admin.register(Attempt)
class AttemptAdmin(ReadOnly):
    list_display = ("delivery", "number", "status_code", "started_at")
