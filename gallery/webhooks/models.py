"""A team's webhook endpoints, the events that happened to it, and each delivery of one to one.

An `Event` is written in the same transaction as what it tells (a generation ending, a budget
crossing its mark), so it exists exactly when that happened. Each subscribed endpoint gets a
`Delivery`, the row a worker claims by compare-and-set; each try is an `Attempt` in the log.
"""

import base64
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.dispatch import Signal
from django.utils import timezone

from gallery.teams import encryption
from gallery.teams.models import Team

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


class EventType(models.TextChoices):
    GENERATION_SUCCEEDED = "generation.succeeded", "generation.succeeded"
    GENERATION_FAILED = "generation.failed", "generation.failed"
    BUDGET_NEAR_LIMIT = "budget.near_limit", "budget.near_limit"
    BUDGET_EXCEEDED = "budget.exceeded", "budget.exceeded"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _seal(secret: str) -> str:
    # Encrypted like team keys when FIELD_ENCRYPTION_KEY is set; a plain `whsec_` value otherwise
    # (the two cannot be confused: a Fernet token never starts with it).
    return encryption.encrypt(secret) if encryption.configured() and secret else secret


def _open(stored: str) -> str:
    if not stored or stored.startswith(SECRET_PREFIX):
        return stored
    return encryption.decrypt(stored)


class EndpointQuerySet(models.QuerySet["Endpoint"]):
    def of_team(self, team: Team) -> "EndpointQuerySet":
        return self.filter(team=team)

    def listening(self, team: Team, event_type: str) -> list["Endpoint"]:
        """The team's active endpoints subscribed to this event type."""
        return [e for e in self.filter(team=team, active=True) if event_type in e.events]


class Endpoint(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    # The signing secret (and, during a rotation's overlap, the one before it), never shown again.
    secret = models.TextField()
    previous_secret = models.TextField(blank=True)
    previous_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def set_new_secret(self) -> str:
        """Give it a fresh secret and return it (to show once); the caller saves."""
        secret = new_secret()
        self.secret = _seal(secret)
        return secret

    def rotate_secret(self) -> str:
        """A new secret; the old one keeps signing too for WEBHOOK_SECRET_OVERLAP seconds."""
        self.previous_secret = self.secret
        self.previous_until = timezone.now() + timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP)
        secret = self.set_new_secret()
        self.save(update_fields=["secret", "previous_secret", "previous_until"])
        return secret

    def signing_secrets(self) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        while its overlap lasts."""
        found = [_open(self.secret)]
        if self.previous_secret and self.previous_until and self.previous_until > timezone.now():
            found.append(_open(self.previous_secret))
        return found


class Event(models.Model):
    """Something that happened to a team, told to its endpoints; `msg_id` is its webhook-id."""

    msg_id = models.CharField(max_length=40, unique=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=40, choices=EventType.choices)
    data = models.JSONField(default=dict)
    # Events told once per period (a budget's 80 %): the same key is never recorded twice.
    once_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "once_key"],
                condition=~models.Q(once_key=""),
                name="webhook_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.msg_id}"

    def save(self, *args, **kwargs) -> None:
        if not self.msg_id:
            self.msg_id = "msg_" + uuid.uuid4().hex
        super().save(*args, **kwargs)


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def due(self) -> "DeliveryQuerySet":
        """Waiting and due, or claimed by a worker whose claim lapsed (it died mid-delivery)."""
        now = timezone.now()
        pending = models.Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        lapsed = models.Q(status=Delivery.Status.SENDING, claimed_until__lt=now)
        return self.filter(pending | lapsed)


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint}"

    @property
    def last_attempt(self) -> "Attempt | None":
        attempts = list(self.log.all())  # the log's prefetch, newest first
        return attempts[0] if attempts else None

    def resend(self) -> bool:
        """Send it again now (same webhook-id) if it is not on its way already."""
        ended = (self.Status.SUCCEEDED, self.Status.FAILED)
        now = timezone.now()
        updated = Delivery.objects.filter(pk=self.pk, status__in=ended).update(
            status=self.Status.PENDING, next_attempt_at=now, delivered_at=None, attempts=0
        )
        return updated == 1


class Attempt(models.Model):
    """One try of a delivery: when, what the receiver answered (or why there was no answer)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The start of the receiver's answer, or what went wrong, for the owners' log.
    excerpt = models.CharField(max_length=500, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# Sent with `delivery_ids` once the deliveries recorded by gallery.webhooks.events are committed;
# jobs connects the receiver that enqueues them (JobsConfig.ready), so gallery needs no Celery.
deliveries_recorded = Signal()
