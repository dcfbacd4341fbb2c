"""Budgets, site-wide limits and the usage ledger (prices: prices.py; roll-ups: rollups.py).

Every generation gets a `Usage` row in the transaction that creates it, carrying the estimated
cost; budgets are checked there, under a lock, so two submits racing at a limit cannot both pass.
When the generation ends, its row is settled in the same transaction as the final transition.
"""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone

from gallery.images.status import GenerationStatus
from gallery.usage.limits import (
    KINDS,
    SITE,
    Limit,
    OverBudget,
    day_start,
    month_start,
    own_limit,
)
from gallery.usage.prices import (
    CostSource,
    Price,
    by_param_problem,
    images_requested,
    reported_cost,
)
from gallery.webhooks import events
from webapp import counters

__all__ = ["Budget", "Price", "SiteSettings", "Usage", "by_param_problem"]

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

    @classmethod
    def site_limit(cls, *, lock: bool = False) -> Limit | None:
        """The site-wide dollars per month, with what everyone spent this month; None when unset.

        With `lock`, the settings row stays locked until the transaction ends (see `Usage.open`).
        """
        site = cls.load()
        if site.site_usd_per_month is not None and lock:
            site = cls.objects.select_for_update().get(pk=site.pk)
        if (limit := site.site_usd_per_month) is None:
            return None
        return Limit(SITE, "usd", limit, Usage.used(Q(), month_start(), "cost_usd"))


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

    @classmethod
    def limits(cls, user, team) -> list[Limit]:
        """The limits that apply to this person in this team, with what is used of each."""
        site = SiteSettings.load()
        budgets = cls.objects.filter(Q(user=user) | Q(team=team))
        mine = next((b for b in budgets if b.user_id == user.pk), None)
        ours = next((b for b in budgets if b.team_id == team.pk), None)
        found: list[Limit] = []
        for whose, scope, owner, budget in (
            ("You", "user", Q(user=user), mine),
            (team.name, "team", Q(team=team), ours),
        ):
            for kind, (_, since, summed) in KINDS.items():
                limit = own_limit(kind, scope, budget, site)
                if limit is not None:
                    used = Usage.used(owner, since(), summed)
                    found.append(Limit(whose, kind, limit, used, scope))
        return found


class Usage(models.Model):
    """The ledger: one row per generation, kept when the generation, team or person is gone.

    Written when the generation is made (with the estimated cost, which counts against budgets
    while it runs) and settled when it ends: outcome, images made, times, and the cost the
    provider reported, or else the estimate.
    """

    Source = CostSource

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
    def open(cls, generation) -> "Usage":
        """Record a new generation, refusing it (OverBudget) if it would break a limit.

        Call inside the transaction that creates the generation: the lock taken here is held until
        it commits, so the next submit for the same person or team counts this one.
        """
        user, team = generation.owner, generation.team
        images = images_requested(generation.model_id, generation.params)
        cost, source = Price.estimate(generation.model_id, generation.provider, generation.params)
        # Lock the person, then the team (always in that order): racing submits queue up here.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        type(team).objects.select_for_update().filter(pk=team.pk).first()
        limits = Budget.limits(user, team)
        try:
            for limit in limits:
                limit.check(images, cost, source)
            # Then the site's cap, when there is one: every submit on the site queues up behind it.
            if (cap := SiteSettings.site_limit(lock=True)) is not None:
                cap.check(images, cost, source)
        except OverBudget:
            # The transaction rolls back and leaves no trace of it: counted for /metrics.
            counters.add(counters.BUDGET_REFUSALS)
            raise
        row = cls.objects.create(
            generation=generation,
            user=user,
            team=team,
            user_name=user.get_username(),
            team_name=team.name,
            provider=generation.provider,
            model_id=generation.model_id,
            created_at=generation.created_at,
            images=images,
            estimated_usd=cost,
            cost_usd=cost,
            cost_source=source,
        )
        for limit in limits:
            if limit.scope == "team":
                used = limit.used + (images if limit.kind == "images" else cost)
                events.budget_used(team, limit.kind, limit.limit, used, _period(limit.kind))
        return row

    @classmethod
    def settle(cls, generation) -> None:
        """Write how a generation ended into its ledger row (called in the final transition).

        Reads the row as that transition left it, in the same transaction, not the caller's copy:
        a cancel from the web may hold a copy older than the worker's last write (the provider's
        task id, its reported cost). A generation made before the ledger existed has no ledger row,
        and then nothing changes.
        """
        g = type(generation).objects.only(*SETTLE_FIELDS).get(pk=generation.pk)
        reported, credits = reported_cost(g.provider, g.provider_meta or {})
        # The provider charges for work it may have done: a result it delivered, or a request it
        # was sent and did not refuse, whatever happened next (a cancel, a timeout or a broken
        # connection after sending, a deadline passed while its task ran). A request it refused
        # (an HTTP error answer, a task it reported failed) or that never left costs nothing: the
        # pipeline then clears `sent_at`. A model that was free when the generation was made (the
        # sandbox, unpriced) stays free.
        charged = g.result_at is not None or g.sent_at is not None
        free = Q(cost_source=CostSource.FREE)
        cost: dict = {}
        if reported is not None:
            cost = {
                "cost_usd": Case(When(free, then=Value(Decimal(0))), default=Value(reported)),
                "cost_source": Case(
                    When(free, then=Value(CostSource.FREE)), default=Value(CostSource.REPORTED)
                ),
            }
        elif not charged:
            cost = {"cost_usd": Decimal(0)}
        else:
            cost = {"cost_usd": F("estimated_usd")}
        # What was stored counts, also for a generation that failed after some of its pictures were
        # kept; a cancel throws its pictures away.
        stored = g.status != GenerationStatus.CANCELLED and g.result_at is not None
        cls.objects.filter(generation_id=g.pk).update(
            outcome=g.status,
            error=g.error[:300],
            settled_at=timezone.now(),
            images=g.images.filter(copy_of=None).count() if stored else 0,
            queue_seconds=_seconds(g.created_at, g.submitted_at),
            provider_seconds=_seconds(g.submitted_at, g.result_at),
            download_seconds=(
                _seconds(g.result_at, g.finished_at)
                if g.status == GenerationStatus.SUCCEEDED
                else None
            ),
            total_seconds=_seconds(g.created_at, g.finished_at),
            reported_usd=reported,
            reported_credits=credits,
            **cost,
        )

    @classmethod
    def used(cls, owner: Q, since: datetime, field: str):
        """What `owner` (a person, a team, everyone) used since then: images or cost_usd."""
        total = cls.objects.filter(owner, created_at__gte=since).aggregate(total=Sum(field))[
            "total"
        ]
        return total or (0 if field == "images" else Decimal(0))

    @classmethod
    def used_by(cls, key: str, since: datetime, field: str) -> dict:
        """What each person or team (key "user" / "team") used since then: {pk: total}."""
        return dict(
            cls.objects.filter(created_at__gte=since, **{key + "__isnull": False})
            .values_list(key + "_id")
            .annotate(total=Sum(field))
            .values_list(key + "_id", "total")
        )


SETTLE_FIELDS = (
    "status",
    "error",
    "provider",
    "provider_meta",
    "provider_task_id",
    "created_at",
    "submitted_at",
    "sent_at",
    "result_at",
    "finished_at",
)


def _period(kind: str) -> str:
    """The day or month a limit of this kind counts in, as its webhook events name it."""
    return day_start().date().isoformat() if kind == "images" else month_start().strftime("%Y-%m")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())
