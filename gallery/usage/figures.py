"""What the usage dashboard shows, read from wherever each day lives.

Every figure is a sum over ledger rows grouped by some key (day, team, person, provider, model,
failure reason; see `gallery.usage.sums`). Days that are rolled up are read from `UsageDay`; the
others (today, and any day not rolled up yet) straight from the ledger with the same sums, so
totals stay live and exact. Who is near a limit is read the same way.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from gallery.models import Budget, SiteSettings, Team, Usage, UsageDay, UsageRollup
from gallery.usage.limits import KINDS, Limit, Standing, own_limit
from gallery.usage.sums import (
    GRAINS,
    KEYS,
    LEDGER_ONLY,
    ROLLUP_SUMS,
    SUMMED,
    Figures,
    day_bounds,
    failures,
    from_row,
    summarize,
)

# --- The dashboard's queries ----------------------------------------------------------------


@dataclass
class Scope:
    """What the dashboard is asked about: a date range (inclusive) and optional filters."""

    first: date
    last: date
    team_id: int | None = None
    user_id: int | None = None
    model_id: str = ""

    @property
    def filtered(self) -> bool:
        return bool(self.team_id or self.user_id or self.model_id)

    def filters(self) -> dict:
        found: dict = {}
        if self.team_id:
            found["team_id"] = self.team_id
        if self.user_id:
            found["user_id"] = self.user_id
        if self.model_id:
            found["model_id"] = self.model_id
        return found

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


class Source:
    """Where each day of a scope is read from: roll-ups for rolled-up days, else the ledger."""

    def __init__(self, scope: Scope):
        self.scope = scope
        rolled = set(
            UsageRollup.objects.filter(day__gte=scope.first, day__lte=scope.last).values_list(
                "day", flat=True
            )
        )
        raw = Q(pk__in=[])
        for first, last in _runs([d for d in scope.days() if d not in rolled]):
            start, end = day_bounds(first, last)
            raw |= Q(created_at__gte=start, created_at__lt=end)
        self.has_raw = len(rolled) < len(scope.days())
        self.ledger = Usage.objects.filter(raw, **scope.filters())
        start, end = day_bounds(scope.first, scope.last)
        self.whole = Usage.objects.filter(created_at__gte=start, created_at__lt=end)
        self.whole = self.whole.filter(**scope.filters())
        # Exactly the days found rolled up: one finished meanwhile is read from the ledger.
        self.rolled = UsageDay.objects.filter(day__in=sorted(rolled))

    def rollups(self, table: str) -> QuerySet:
        filters = self.scope.filters()
        if table == "reason":
            grain = "failure" if filters else "reason"
        else:
            needed = set(KEYS[table]) | set(filters)
            grain = next(g for g, keys in GRAINS.items() if needed - {"day"} <= set(keys))
        return self.rolled.filter(grain=grain, **filters)

    def table(self, name: str) -> dict:
        """{key tuple: Figures} for one table (see KEYS); the model table has latencies."""
        keys, latency = KEYS[name], name == "model"
        if name in LEDGER_ONLY:
            return self._by_token(keys)
        found = summarize(self.ledger, keys, latency) if self.has_raw else {}
        rollups = self.rollups(name).order_by()
        if latency:  # histograms are merged here, not in SQL
            for row in rollups.values(*keys, *SUMMED, "latency"):
                figures = from_row(row, prefix="")
                figures.latency = {int(b): n for b, n in row["latency"].items()}
                found.setdefault(tuple(row[k] for k in keys), Figures()).add(figures)
        else:
            for row in rollups.values(*keys).annotate(**ROLLUP_SUMS):
                found.setdefault(tuple(row[k] for k in keys), Figures()).add(from_row(row))
        return found

    def _by_token(self, keys: tuple[str, ...]) -> dict:
        """Each token's rows (whoever's, in whichever team), and one row for all made from the
        pages: the ledger keeps who asked, roll-ups do not, so the whole range is summed here."""
        found: dict[tuple, Figures] = {}
        for key, figures in summarize(self.whole, keys).items():
            key = key if key[1] else (None, "", "", "")
            found.setdefault(key, Figures()).add(figures)
        return found

    def reasons(self) -> dict[str, int]:
        found: dict[str, int] = {}
        if self.has_raw:
            for (reason,), count in failures(self.ledger, ()).items():
                found[reason] = found.get(reason, 0) + count
        rollups = self.rollups("reason").order_by().values("reason").annotate(n=Sum("failed"))
        for row in rollups:
            found[row["reason"]] = found.get(row["reason"], 0) + row["n"]
        return found


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days (in order) as (first, last) pairs."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def used_by(key: str, since: datetime, name: str) -> dict:
    """What each person or team (key "user" / "team") used since a local midnight: images or
    cost_usd, summed like `Usage.used` but from roll-ups where a day has them."""
    scope = Scope(timezone.localtime(since).date(), timezone.localdate())
    source = Source(scope)
    found: dict = {}
    if source.has_raw:
        raw = source.ledger.filter(**{key + "__isnull": False}).order_by()
        for pk, total in (
            raw.values_list(key + "_id").annotate(t=Sum(name)).values_list(key + "_id", "t")
        ):
            found[pk] = found.get(pk, 0) + (total or 0)
    rolled = source.rolled.filter(grain=key, **{key + "__isnull": False}).order_by()
    for pk, total in (
        rolled.values_list(key + "_id").annotate(t=Sum(name)).values_list(key + "_id", "t")
    ):
        found[pk] = found.get(pk, 0) + (total or 0)
    return found


def standing(threshold: float = 0.8, used_by=None) -> list[Standing]:
    """Every person and team at or above `threshold` of a limit, the closest first.

    `used_by(key, since, field)` -> {pk: total} says what each used (the dashboard passes one
    that reads daily roll-ups); by default the ledger is summed.
    """
    used_by = used_by or Usage.used_by
    site = SiteSettings.load()
    found: list[Standing] = []
    for scope, everyone in (("user", get_user_model().objects.all()), ("team", Team.objects.all())):
        budgets = {getattr(b, scope + "_id"): b for b in Budget.objects.exclude(**{scope: None})}
        for kind, (field, since, summed) in KINDS.items():
            used = used_by(scope, since(), summed)
            own = {pk for pk, b in budgets.items() if getattr(b, field) is not None}
            ids = set(used) | own
            names = dict(everyone.filter(pk__in=ids).values_list("pk", _name_field(scope)))
            for pk in ids:
                limit = own_limit(kind, scope, budgets.get(pk), site)
                if limit is None or pk not in names:
                    continue
                entry = Limit(names[pk], kind, limit, used.get(pk) or 0)
                if entry.ratio >= threshold:
                    found.append(Standing(scope, names[pk], entry))
    return sorted(found, key=lambda s: -s.limit.ratio)


def _name_field(scope: str) -> str:
    return get_user_model().USERNAME_FIELD if scope == "user" else "name"
