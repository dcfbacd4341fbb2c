"""Prices, budgets, site-wide limits, the usage ledger and its daily roll-ups."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from gallery.images.status import GenerationStatus

NEW_USER_HELP = (
    "Given to each account made from now on as a budget of its own, across all the teams the "
    "person is in (change it per person under Budgets). Empty: none."
)


class SiteSettings(models.Model):
    """Switches an admin flips in the admin site."""

    # Closed unless an admin opens it: each account may spend the site's provider keys.
    # Invitation links let people sign up either way.
    signup_enabled = models.BooleanField(
        "Sign-up open to anyone",
        default=False,
        help_text="People with an invitation link can sign up even when this is off.",
    )
    site_usd_per_month = models.DecimalField(
        "Site spending limit (US dollars per month)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="All people and teams together. Empty: no limit.",
    )
    # Limits for every person and every team without a budget of their own (empty: no limit).
    user_images_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Images a person may make per day, across their teams."
    )
    user_usd_per_month = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="US dollars per month."
    )
    team_images_per_day = models.PositiveIntegerField(null=True, blank=True)
    team_usd_per_month = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Written into a Budget of each new account's own, which follows the person into every team
    # (one on their personal team would not: a team they make escaped it); an admin can change
    # it later under Budgets.
    new_user_images_per_day = models.PositiveIntegerField(
        "Images per day", null=True, blank=True, help_text=NEW_USER_HELP
    )
    new_user_usd_per_month = models.DecimalField(
        "US dollars per month",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=NEW_USER_HELP,
    )

    class Meta:
        verbose_name_plural = "site settings"

    def __str__(self) -> str:
        return "Site settings"

    @classmethod
    def load(cls) -> "SiteSettings":
        return cls.objects.get_or_create(pk=1)[0]


class Price(models.Model):
    """What one image of a model costs, for an estimate when the provider reports no figure.

    `by_param` holds prices that depend on a parameter, per image: {"quality": {"high": "0.17"}}.
    With `per_megapixel`, the price is per megapixel of the requested size instead.
    """

    model_id = models.CharField(max_length=200, unique=True)
    usd_per_image = models.DecimalField(max_digits=10, decimal_places=6)
    per_megapixel = models.BooleanField(default=False)
    by_param = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where the figure comes from.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_id"]

    def __str__(self) -> str:
        return f"{self.model_id}: ${self.usd_per_image}"


def by_param_problem(value: object) -> str | None:
    """What is wrong with a `Price.by_param` mapping, in words for the admin; None if nothing.

    A value may hold a second mapping instead of a price, for a price that depends on two
    options: {"quality": {"high": {"size": {"1024x1536": "0.25"}}}}.
    """
    if not isinstance(value, dict):
        return "Write an object: {parameter: {value: price}}."
    for name, choices in value.items():
        if not isinstance(choices, dict) or not choices:
            return f'"{name}" needs an object of prices by value, like {{"high": "0.17"}}.'
        for choice, price in choices.items():
            if isinstance(price, dict):
                if problem := by_param_problem(price):
                    return problem
                continue
            if isinstance(price, bool) or not isinstance(price, int | float | str):
                return f'The price of {name}="{choice}" must be a number, like "0.17".'
            try:
                amount = Decimal(str(price))
            except ArithmeticError:
                return f'The price of {name}="{choice}" must be a number, like "0.17".'
            if not amount.is_finite() or amount < 0:
                return f'The price of {name}="{choice}" must be zero or more.'
    return None


class Budget(models.Model):
    """Limits for one team, or for one person across all their teams; empty means the default."""

    team = models.OneToOneField(
        "gallery.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="budget",
    )
    images_per_day = models.PositiveIntegerField(null=True, blank=True)
    usd_per_month = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__isnull=True, user__isnull=False)
                | models.Q(team__isnull=False, user__isnull=True),
                name="budget_for_team_or_user",
            )
        ]

    def __str__(self) -> str:
        return f"budget of {self.team or self.user}"

    def clean(self) -> None:
        # The database constraint says the same, but in words no one should have to decode.
        if (self.team_id is None) == (self.user_id is None):
            raise ValidationError(
                "A budget is for one team or for one person: choose either a team or a user, "
                "not both and not neither."
            )


class Usage(models.Model):
    """The ledger: one row per generation, kept when the generation, team or person is gone.

    Written when the generation is made (with the estimated cost, which counts against budgets
    while it runs) and settled when it ends: outcome, images made, times, and the cost the
    provider reported, or else the estimate.
    """

    class Source(models.TextChoices):
        REPORTED = "reported", "Reported by the provider"
        ESTIMATED = "estimated", "Estimated from the price table"
        FAMILY = "family", "Estimated at the highest price of its family"
        UNPRICED = "unpriced", "No price known"
        FREE = "free", "Not charged"

    generation = models.OneToOneField(
        "gallery.Generation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "gallery.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    user_name = models.CharField(max_length=150)
    team_name = models.CharField(max_length=100)
    # The API token that asked for it (empty: from a page); its name stays if it is deleted.
    api_token = models.ForeignKey(
        "gallery.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_token_name = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=20)
    model_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    # Requested while in flight; the number made once it ends.
    images = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(
        max_length=12, choices=GenerationStatus.choices, default=GenerationStatus.QUEUED
    )
    error = models.CharField(max_length=300, blank=True)
    queue_seconds = models.FloatField(null=True, blank=True)
    provider_seconds = models.FloatField(null=True, blank=True)
    download_seconds = models.FloatField(null=True, blank=True)
    total_seconds = models.FloatField(null=True, blank=True)
    estimated_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    reported_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    reported_credits = models.BigIntegerField(null=True, blank=True)
    # What counts: the reported figure when there is one, else the estimate.
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    cost_source = models.CharField(max_length=10, choices=Source.choices)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "usage"
        indexes = [
            models.Index(fields=["created_at"], name="usage_time"),
            models.Index(fields=["team", "created_at"], name="usage_team_time"),
            models.Index(fields=["user", "created_at"], name="usage_user_time"),
            models.Index(fields=["model_id", "created_at"], name="usage_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} / {self.model_id} ({self.outcome})"

    @classmethod
    def settle(cls, generation) -> None:
        from gallery.usage import ledger

        ledger.settle(generation)


class UsageDay(models.Model):
    """Daily roll-ups of the ledger, so the usage dashboard need not read every row.

    One row per day and `grain`: "all" is keyed by team, person, provider and model (any filter
    can be answered from it); "model", "team", "user" and "team_model" keep only those keys, so
    most views read a few rows per day; "failure" (keyed like "all") and "reason" (the reason
    alone) count failures by reason. Rebuilt whole, a day at a time, from the ledger
    (`gallery.usage.figures.rollup`); `UsageRollup` says which days are done.
    """

    day = models.DateField()
    grain = models.CharField(max_length=12)
    team = models.ForeignKey(
        "gallery.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    team_name = models.CharField(max_length=100, blank=True)
    user_name = models.CharField(max_length=150, blank=True)
    provider = models.CharField(max_length=20, blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    generations = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal(0))
    reported_usd = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal(0))
    estimated_usd = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal(0))
    timed = models.PositiveIntegerField(default=0)
    total_seconds = models.FloatField(default=0.0)
    # Succeeded generations by total time: {"bucket index": count}, see dashboard.BUCKETS.
    latency = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["grain", "day"], name="usageday_grain_day"),
            models.Index(fields=["grain", "team", "day"], name="usageday_team_day"),
            models.Index(fields=["grain", "user", "day"], name="usageday_user_day"),
            models.Index(fields=["grain", "model_id", "day"], name="usageday_model_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.grain}"


class UsageRollup(models.Model):
    """A day whose roll-ups are built: the dashboard reads `UsageDay` for it, not the ledger."""

    day = models.DateField(primary_key=True)
    built_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.day)
