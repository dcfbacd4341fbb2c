"""Daily roll-ups of the ledger, so the usage dashboard need not read every row."""

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from gallery.usage.models import Usage
from gallery.usage.sums import FULL, GRAINS, SUMMED, day_bounds, failures, regroup, summarize
from jobs import locks


class UsageDayManager(models.Manager["UsageDay"]):
    def rebuild(self, day: date) -> int:
        """Rebuild one day's roll-ups from the ledger (delete and insert: safe to run again)."""
        start, end = day_bounds(day, day)
        ledger = Usage.objects.filter(created_at__gte=start, created_at__lt=end)
        full = summarize(ledger, FULL, latency=True)
        rows = []
        for grain, keys in GRAINS.items():
            for key, f in (full if grain == "all" else regroup(full, keys, FULL)).items():
                values = {name: getattr(f, name) for name in SUMMED}
                latency = {str(b): n for b, n in sorted(f.latency.items())}
                rows.append(
                    self.model(
                        day=day,
                        grain=grain,
                        latency=latency,
                        **dict(zip(keys, key, strict=True)),
                        **values,
                    )
                )
        failed = failures(ledger, FULL)
        by_reason: dict[tuple, int] = {}
        for key, count in failed.items():
            rows.append(
                self.model(
                    day=day,
                    grain="failure",
                    failed=count,
                    **dict(zip((*FULL, "reason"), key, strict=True)),
                )
            )
            by_reason[key[-1:]] = by_reason.get(key[-1:], 0) + count
        for (reason,), count in by_reason.items():
            rows.append(self.model(day=day, grain="reason", reason=reason, failed=count))
        # Two at once (a second beat, the command while beat runs) would each delete what the
        # other had not committed yet and both insert: one after the other instead.
        with locks.exclusive("rollup-usage", wait=True), transaction.atomic():
            self.filter(day=day).delete()
            self.bulk_create(rows, batch_size=2000)
            UsageRollup.objects.update_or_create(day=day, defaults={"built_at": timezone.now()})
        return len(rows)

    def rebuild_recent(self, days: int = 2) -> list[date]:
        """Roll up the `days` whole days before today (a late-settling generation is caught by the
        next run, which rebuilds the same days)."""
        today = timezone.localdate()
        done = [today - timedelta(days=n) for n in range(days, 0, -1)]
        for day in done:
            self.rebuild(day)
        return done


class UsageDay(models.Model):
    """Daily roll-ups of the ledger, so the usage dashboard need not read every row.

    One row per day and `grain`: "all" is keyed by team, person, provider and model (any filter
    can be answered from it); "model", "team", "user" and "team_model" keep only those keys, so
    most views read a few rows per day; "failure" (keyed like "all") and "reason" (the reason
    alone) count failures by reason. Rebuilt whole, a day at a time, from the ledger
    (`UsageDay.objects.rebuild`); `UsageRollup` says which days are done.
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
    # Succeeded generations by total time: {"bucket index": count}, see gallery.usage.sums.
    latency = models.JSONField(default=dict, blank=True)

    objects = UsageDayManager()

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
