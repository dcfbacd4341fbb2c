"""A share link: who made it, what it shows, until when, and how often it was opened."""

import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from gallery.images.models import Gallery, Image
from gallery.teams.models import Team

# What the expiry choice means, in days (None: the link works until it is revoked).
EXPIRY_DAYS: dict[str, int | None] = {"never": None, "1": 1, "7": 7, "30": 30}


class ShareLinkQuerySet(models.QuerySet["ShareLink"]):
    def visible_to(self, user) -> "ShareLinkQuerySet":
        """The links of the person's teams (the team page lists them to every member)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)

    def live(self) -> "ShareLinkQuerySet":
        """Links that still open: not revoked and not expired."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class ShareLink(models.Model):
    """One image or one gallery of a team, readable by whoever holds `token`."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The secret in the public address; shown again only to the team's owners and editors.
    token = models.CharField(max_length=64, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="share_links")
    gallery = models.ForeignKey(
        Gallery, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    allow_download = models.BooleanField("Allow downloads of originals", default=False)
    show_prompts = models.BooleanField("Show prompts and parameters", default=False)
    allow_indexing = models.BooleanField("Let search engines index the page", default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    views = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(gallery__isnull=True, image__isnull=False)
                | Q(gallery__isnull=False, image__isnull=True),
                name="share_link_one_subject",
            )
        ]

    def __str__(self) -> str:
        return f"share link to {self.subject}"

    def save(self, *args, **kwargs) -> None:
        if not self.token:
            self.token = secrets.token_urlsafe(32)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("sharing:page", args=[self.token])

    @classmethod
    def expiry(cls, choice: str) -> datetime | None:
        days = EXPIRY_DAYS[choice]
        return None if days is None else timezone.now() + timedelta(days=days)

    @property
    def subject(self) -> str:
        return f"gallery {self.gallery.name}" if self.gallery else "one image"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "live"

    def images(self) -> models.QuerySet[Image]:
        """Everything the link shows, and nothing else: shown images of its gallery (as it is
        now), or its one image while it is shown and still in the team that shared it."""
        shown = Image.objects.shown().filter(team_id=self.team_id)
        if self.gallery_id is not None:
            return shown.filter(gallery_id=self.gallery_id)
        return shown.filter(share_links=self)

    def revoke(self, by) -> bool:
        """Stop the link now; False if it had already been revoked."""
        now = timezone.now()
        updated = ShareLink.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=by
        )
        if updated:
            self.revoked_at, self.revoked_by = now, by
        return updated == 1

    def count_view(self) -> None:
        now = timezone.now()
        ShareLink.objects.filter(pk=self.pk).update(views=F("views") + 1, last_viewed_at=now)
