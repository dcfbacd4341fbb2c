"""Which models may be used: site-wide, per team (site admins), and per role (team owners).

Three layers, each narrowing the one before: the catalog's active models, less those an admin
turns off for the site (`ClosedModel`); for a team with an allow list, only those on it
(`TeamModelList`); for an editor or viewer, only what the team's owners leave their role
(`RoleModels`: nothing, some models, and/or a price ceiling).

Below them, the rules read for one person in one team: `models_unavailable` explains the
picker; `model_refusal` is the check every generation passes, in jobs/start.py
`start_generation`, with the request's own parameters (a price ceiling is checked against what
this request would cost per image, which can depend on its options).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from gallery.teams.models import Membership, Team
from gallery.usage.limits import OverBudget
from gallery.usage.prices import FREE_PROVIDERS, Price, family, megapixels
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


class ModelRefused(OverBudget):
    """A model the person may not use in the team. A limit like a budget, so every place that
    starts a generation already says it to the person, and nothing is saved."""


@dataclass
class Rules:
    """The three layers as they stand for one person in one team, read once."""

    closed: dict[str, str]
    team_list: set[str] | None
    role: str | None
    narrowing: RoleModels | None

    @classmethod
    def of(cls, user: Any, team: Team | None) -> "Rules":
        closed = dict(ClosedModel.objects.values_list("model_id", "reason"))
        if team is None:
            return cls(closed, None, None, None)
        listed = TeamModelList.objects.filter(team=team).first()
        role = team.role_of(user) if user is not None and user.is_authenticated else None
        narrowing = RoleModels.objects.filter(team=team, role=role).first()
        return cls(closed, set(listed.model_ids) if listed else None, role, narrowing)

    def listed(self, model: catalog.Model) -> str | None:
        """Why the lists leave the model out, before any price; None when they do not."""
        if model.id in self.closed:
            why = self.closed[model.id]
            return f"turned off on this site{': ' + why if why else ''}"
        if self.team_list is not None and model.id not in self.team_list:
            return "not on this team's list"
        if self.role is None:
            return "only for members of the team"
        scope = self.narrowing.scope if self.narrowing else RoleModels.Scope.ALL
        if scope == RoleModels.Scope.NONE or (
            scope == RoleModels.Scope.SOME and model.id not in self.narrowing.model_ids  # type: ignore[union-attr]
        ):
            return f"not for {self._role_name()}s in this team"
        return None

    def priced(self, model: catalog.Model, params: dict, prices: dict[str, Price]) -> str | None:
        """Why the role's price ceiling refuses this request; None when it is within it."""
        ceiling = self.narrowing.max_usd_per_image if self.narrowing else None
        if ceiling is None:
            return None
        unit = per_image(model, params, prices)
        most = f"{self._role_name()}s here may use models up to {dollars(ceiling)} an image"
        if unit is None:
            return f"no price is known for it; {most}"
        if unit > ceiling:
            return f"about {dollars(unit)} an image; {most}"
        return None

    def _role_name(self) -> str:
        return str(Membership.Role(self.role).label).lower() if self.role else "member"


def models_unavailable(user: Any, team: Team | None) -> dict[str, str]:
    """Every offered model the person may not pick in the team, with why; prices at each
    model's default options."""
    rules = Rules.of(user, team)
    prices = {p.model_id: p for p in Price.objects.all()} if _has_ceiling(rules) else {}
    found = {}
    for model in catalog.offered():
        if why := rules.listed(model) or rules.priced(model, {}, prices):
            found[model.id] = why
    return found


def first_usable(default: catalog.Model, unavailable: dict[str, str]) -> catalog.Model:
    """The model the form opens on: the default, or the first offered one the person may use."""
    if default.id not in unavailable:
        return default
    return next((m for m in catalog.offered() if m.id not in unavailable), default)


def model_refusal(user: Any, team: Team | None, model_id: str, params: dict) -> str | None:
    """Why this request may not be made, as a sentence; None when it may."""
    model = catalog.get(model_id)
    if model is None:
        return f"{model_id} is not in the catalog."
    rules = Rules.of(user, team)
    if why := rules.listed(model):
        return f"{model.name} is {why}."
    prices = {}
    if _has_ceiling(rules):
        ids = [model.id, *family(model)]
        prices = {p.model_id: p for p in Price.objects.filter(model_id__in=ids)}
    if why := rules.priced(model, params, prices):
        return f"{model.name} costs {why}." if why.startswith("about") else f"{model.name}: {why}."
    return None


def _has_ceiling(rules: Rules) -> bool:
    return rules.narrowing is not None and rules.narrowing.max_usd_per_image is not None


def per_image(model: catalog.Model, params: dict, prices: dict[str, Price]) -> Decimal | None:
    """What one image of this request is estimated at, as `Price.estimate` counts it (its own
    price, free, or its family's dearest); None when no price is known."""
    if (price := prices.get(model.id)) is not None:
        return price.per_image(model.id, params)
    if model.provider in FREE_PROVIDERS:
        return Decimal(0)
    mp = Decimal(str(megapixels(model.id, params)))
    figures = [
        p.highest() * (mp if p.per_megapixel else 1)
        for model_id in family(model)
        if (p := prices.get(model_id)) is not None
    ]
    return max(figures, default=None)


def dollars(amount: Decimal) -> str:
    return f"${amount.normalize():f}"
