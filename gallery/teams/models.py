"""Teams and who is in them: memberships, invitations, comments, mentions and the activity feed."""

import secrets
import unicodedata
import uuid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.utils import timezone

from gallery.teams import encryption
from jobs.catalog import PROVIDERS


def one_line(value: str) -> None:
    """A name goes into mail subjects and page titles: one line, nothing that steers the text."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise ValidationError(
            "A name cannot hold line breaks, tabs or other control characters.",
            code="control_characters",
        )


class UnreadableKey(Exception):
    """A team's stored key that FIELD_ENCRYPTION_KEY cannot decrypt; the message is for people."""


# The providers a team may bring its own key for (the fields `<provider>_key`).
KEYED_PROVIDERS = ("aimlapi", "relay")


class TeamQuerySet(models.QuerySet["Team"]):
    def of(self, user) -> "TeamQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Team(models.Model):
    """A group that shares galleries. Every user also has a personal one, just for them."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    personal = models.BooleanField(default=False)
    # Provider keys of the team's own, Fernet-encrypted (FIELD_ENCRYPTION_KEY); never shown whole.
    aimlapi_key = models.TextField(blank=True)
    relay_key = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["-personal", "name"]

    def __str__(self) -> str:
        return self.name

    def role_of(self, user) -> str | None:
        membership = self.memberships.filter(user=user).first()
        return membership.role if membership else None

    def provider_key(self, provider: str) -> str:
        """The team's own key for "aimlapi" or "relay", decrypted; "" when it has none."""
        stored = getattr(self, f"{provider}_key")
        if not stored:
            return ""
        try:
            return encryption.decrypt(stored)
        except (encryption.SecretError, ImproperlyConfigured):
            # Rotated away without `rotate_keys`, or the setting is gone: only a new key helps.
            raise UnreadableKey(
                f"The team's {PROVIDERS[provider]} key could not be read with the server's "
                "FIELD_ENCRYPTION_KEY; an owner should enter it again."
            ) from None

    def set_provider_key(self, provider: str, value: str) -> None:
        """Keep a key of the team's own, encrypted ("" forgets it); the caller saves."""
        setattr(self, f"{provider}_key", encryption.encrypt(value) if value else "")

    def rotate_provider_keys(self) -> bool:
        """Re-encrypt the stored keys with the first FIELD_ENCRYPTION_KEY; False if none."""
        names = [f"{p}_key" for p in KEYED_PROVIDERS if getattr(self, f"{p}_key")]
        for name in names:
            setattr(self, name, encryption.rotate(getattr(self, name)))
        self.save(update_fields=names)
        return bool(names)

    def default_gallery(self):  # -> Gallery, which builds on teams (not the other way)
        gallery = self.galleries.order_by("created_at", "id").first()
        return gallery or self.galleries.create(name="Main")


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    class Source(models.TextChoices):
        MANUAL = "manual", "Granted by hand"
        SSO = "sso", "Single sign-on"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    # Single sign-on changes and removes only what it granted; anything else was given by hand
    # (an invitation, an owner, an admin) and is kept (gallery/accounts/sso_sync.py).
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_once_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.EDITOR)


class Comment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    image = models.ForeignKey("gallery.Image", on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:40]


class Notification(models.Model):
    """Something a person should know: a mention, for now."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.ForeignKey(Comment, null=True, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.text


class Activity(models.Model):
    """The team feed: who did what, and when."""

    class Verb(models.TextChoices):
        GENERATED = "generated", "generated"
        COMMENTED = "commented", "commented on"
        MOVED = "moved", "moved"
        COPIED = "copied", "copied"
        JOINED = "joined", "joined the team"
        ROLE = "role", "changed a role"
        REMOVED = "removed", "removed a member"
        INVITED = "invited", "invited someone"
        SSO = "sso", "was updated by single sign-on"
        SHARED = "shared", "made a share link"
        UNSHARED = "unshared", "revoked a share link"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=12, choices=Verb.choices)
    summary = models.CharField(max_length=300)
    image = models.ForeignKey("gallery.Image", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.actor} {self.get_verb_display()} {self.summary}"


class Invitation(models.Model):
    """A link (optionally mailed) that lets someone join a team with a role, until it expires."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True)
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.EDITOR
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation to {self.team}"

    def save(self, *args, **kwargs) -> None:
        # Made for every invitation, wherever it is made: the admin's form leaves the token out.
        if not self.token:
            self.token = secrets.token_urlsafe(32)
        super().save(*args, **kwargs)

    @property
    def usable(self) -> bool:
        return (
            self.revoked_at is None
            and self.accepted_at is None
            and self.expires_at > timezone.now()
        )


def personal_team(user) -> Team:
    return Team.objects.get(personal=True, memberships__user=user)
