"""Which models may be used: site-wide, per team (site admins), and per role (team owners).

Three layers, each narrowing the one before: the catalog's active models, less those an admin
turns off for the site (`ClosedModel`); for a team with an allow list, only those on it
(`TeamModelList`); for an editor or viewer, only what the team's owners leave their role
(`RoleModels`: nothing, some models, and/or a price ceiling). The rules are read in
gallery/policy/rules.py.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from gallery.teams.models import Membership, Team
from jobs import catalog


def model_choices() -> list[tuple[str, str]]:
    return [(m.id, f"{m.name} ({m.id})") for m in catalog.offered()]


def known_models(value: object) -> None:
    """A stored list of model ids: a list, each one in the catalog."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Give a list of model ids.")
    if unknown := [v for v in value if catalog.get(v) is None]:
        raise ValidationError(f"Not in the catalog: {', '.join(unknown)}.")


class ClosedModel(models.Model):
    """A model a site admin has turned off for everyone; absent, a model is offered as the
    catalog says."""

    model_id = models.CharField(max_length=200, unique=True)
    reason = models.CharField(
        max_length=200, blank=True, help_text="Shown next to the model in the picker."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model_id"]
        verbose_name = "model turned off site-wide"
        verbose_name_plural = "models turned off site-wide"

    def __str__(self) -> str:
        return self.model_id


class TeamModelList(models.Model):
    """A site admin's allow list for one team: only these models. A team without one may use
    every model the site offers."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="model_list")
    model_ids = models.JSONField(default=list, blank=True, validators=[known_models])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team allow list"

    def __str__(self) -> str:
        return f"models of {self.team}"


class RoleModels(models.Model):
    """A team owner's narrowing for one role, within what the team may use."""

    class Scope(models.TextChoices):
        ALL = "all", "Every model the team may use"
        SOME = "some", "Only the models ticked"
        NONE = "none", "No model"

    ROLES = [
        (Membership.Role.EDITOR.value, Membership.Role.EDITOR.label),
        (Membership.Role.VIEWER.value, Membership.Role.VIEWER.label),
    ]

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="role_models")
    role = models.CharField(max_length=10, choices=ROLES)
    scope = models.CharField(max_length=4, choices=Scope.choices, default=Scope.ALL)
    model_ids = models.JSONField(default=list, blank=True, validators=[known_models])
    max_usd_per_image = models.DecimalField(
        "price ceiling (US$ per image)",
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Only models estimated at or under this price per image; blank for no ceiling.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "role"], name="role_models_once_per_role")
        ]
        verbose_name = "models of a role"
        verbose_name_plural = "models of roles"

    def __str__(self) -> str:
        return f"{self.get_role_display()}s of {self.team}"
