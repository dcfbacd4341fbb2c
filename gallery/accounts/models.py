"""Single sign-on records: who a person is at the identity provider, and what its groups grant."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from gallery.teams.models import Membership, Team


class SsoIdentity(models.Model):
    """One account at the identity provider (issuer and subject), linked to one Atelier account.

    Later logins find the account by this link, not by email: an address can change or be
    given to someone else at the provider; the subject cannot.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_once")
        ]
        verbose_name = "SSO identity"
        verbose_name_plural = "SSO identities"

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"


class GroupMapping(models.Model):
    """Members of this identity-provider group get this role in this team, at each login."""

    group = models.CharField(
        max_length=255, help_text="The group's name exactly as the provider sends it."
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="group_mappings")
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.VIEWER
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group", "team__name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "team"], name="group_mapping_once_per_team")
        ]
        verbose_name = "SSO group mapping"

    def __str__(self) -> str:
        return f"{self.group} → {self.team} ({self.role})"

    def clean(self) -> None:
        if self.team_id is not None and self.team.personal:
            raise ValidationError({"team": "A personal space belongs to one person, not a group."})


class Preferences(models.Model):
    """What a person chose for how Atelier looks, kept on the server so it follows them."""

    class Theme(models.TextChoices):
        SYSTEM = "", "Follow the system"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    theme = models.CharField(max_length=5, choices=Theme.choices, blank=True, default="")
    # Whether the composer's "Options" disclosure (a model's less-used parameters) starts open.
    options_open = models.BooleanField(default=False)
    # Catalog ids the person starred in the model picker, which lists them first.
    favorite_models = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"{self.user}'s preferences"

    @classmethod
    def of(cls, user) -> "Preferences | None":
        """The person's row, or None before they choose anything. Read once per request: Django
        keeps it on the user object (the theme, the composer and the picker all ask)."""
        return getattr(user, "preferences", None)

    @classmethod
    def theme_of(cls, user) -> str:
        """The person's theme, "" (follow the system) until they choose one."""
        prefs = cls.of(user)
        return prefs.theme if prefs else ""

    @classmethod
    def options_open_for(cls, user) -> bool:
        """Whether the person last left the composer's Options open; closed until they do."""
        prefs = cls.of(user)
        return bool(prefs and prefs.options_open)

    @classmethod
    def favorites_of(cls, user) -> list[str]:
        """The models the person starred, oldest star first."""
        prefs = cls.of(user)
        return [m for m in (prefs.favorite_models if prefs else []) if isinstance(m, str)]

    @classmethod
    def star_model(cls, user, model_id: str, starred: bool) -> list[str]:
        """Star or unstar a model for the person; the favorites as they now stand.

        The row is locked while it changes, so two tabs starring at once both count."""
        with transaction.atomic():
            prefs, _ = cls.objects.select_for_update().get_or_create(user=user)
            kept = [m for m in prefs.favorite_models if m != model_id]
            prefs.favorite_models = [*kept, model_id] if starred else kept
            prefs.save(update_fields=["favorite_models"])
        return prefs.favorite_models
