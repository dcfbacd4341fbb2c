"""The usage dashboard's figures, and the daily roll-ups that keep it fast on a big ledger.

Every figure is a sum over ledger rows grouped by some key (day, team, person, provider, model,
failure reason). Days that are rolled up are read from `UsageDay`; the others (today, and any
day not rolled up yet) straight from the ledger with the same sums, so totals stay live and
exact. `rollup(day)` builds a day from `summarize`, the very function the dashboard uses on the
ledger, so a day adds up to the same figures whichever way it is read.

Latency is the total time (queued to done) of succeeded generations, counted in log-spaced
buckets: bucket 0 is under EDGES[0] = 0.1 s, bucket k is [EDGES[k-1], EDGES[k]) with each edge
2^(1/4) (about 1.19) times the one before, and the last bucket is everything from EDGES[-1]
(about 27 minutes) up. p50 and p95 are nearest-rank (the ceil(p * n)-th smallest time) and shown
as the upper edge of the bucket holding that rank: never below the true value, and at most 19 %
above it.
"""

import math
from bisect import bisect_right
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from gallery.models import Generation, Usage, UsageDay, UsageRollup
from jobs import locks

Status = Generation.Status
EDGES = [0.1 * 2 ** (k / 4) for k in range(57)]
NO_REASON = "(no reason given)"

# The key of each table.
KEYS = {
    "day": ("day",),
    "team": ("team_id", "team_name"),
    "user": ("user_id", "user_name"),
    "provider": ("provider",),
    "model": ("provider", "model_id"),
    "reason": ("reason",),
}
FULL = ("team_id", "team_name", "user_id", "user_name", "provider", "model_id")
# Roll-up grains and their keys, fewest rows first: a table is read from the first grain that
# has its key and the filtered columns ("all" has every one).
GRAINS = {
    "model": ("provider", "model_id"),
    "team": ("team_id", "team_name"),
    "user": ("user_id", "user_name"),
    "team_model": ("team_id", "team_name", "provider", "model_id"),
    "all": FULL,
}


@dataclass
class Figures:
    """Sums over some ledger rows."""

    generations: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    in_flight: int = 0
    images: int = 0
    cost_usd: Decimal = Decimal(0)
    reported_usd: Decimal = Decimal(0)
    estimated_usd: Decimal = Decimal(0)
    timed: int = 0
    total_seconds: float = 0.0
    latency: dict[int, int] = field(default_factory=dict)

    def add(self, other: "Figures") -> "Figures":
        for f in SUMMED:
            setattr(self, f, getattr(self, f) + getattr(other, f))
        for bucket, count in other.latency.items():
            self.latency[bucket] = self.latency.get(bucket, 0) + count
        return self

    @property
    def failure_rate(self) -> float | None:
        """Failed among those that ended with or without a picture (cancelled ones aside)."""
        ended = self.succeeded + self.failed
        return self.failed / ended if ended else None

    @property
    def failure_percent(self) -> str:
        rate = self.failure_rate
        return "–" if rate is None else f"{rate * 100:.1f} %"

    @property
    def p50_text(self) -> str:
        return _at_most(self.p50)

    @property
    def p95_text(self) -> str:
        return _at_most(self.p95)

    @property
    def reported_share(self) -> float | None:
        return float(self.reported_usd / self.cost_usd) if self.cost_usd else None

    @property
    def estimated_share(self) -> float | None:
        return float(self.estimated_usd / self.cost_usd) if self.cost_usd else None

    @property
    def mean_seconds(self) -> float | None:
        return self.total_seconds / self.timed if self.timed else None

    @property
    def p50(self) -> float | None:
        return percentile(self.latency, 0.50)

    @property
    def p95(self) -> float | None:
        return percentile(self.latency, 0.95)


SUMMED = [f.name for f in fields(Figures) if f.name != "latency"]


def _at_most(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"≤ {seconds:.3g} s" if seconds < EDGES[-1] else f"≥ {seconds:.0f} s"


def bucket(seconds: float) -> int:
    return bisect_right(EDGES, seconds)


def percentile(histogram: dict[int, int], p: float) -> float | None:
    """Nearest-rank percentile: the upper edge of the bucket holding the ceil(p * n)-th time
    (the last bucket has none: its lower edge is given)."""
    n = sum(histogram.values())
    if not n:
        return None
    rank, seen = max(1, math.ceil(p * n)), 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return EDGES[min(index, len(EDGES) - 1)]
    return None  # not reached


# --- Reading the ledger -----------------------------------------------------------------------


def _timed() -> Q:
    return Q(outcome=Status.SUCCEEDED, total_seconds__isnull=False)


# Named sum_*: an annotation may not shadow a field that a later sum reads.
_SUMS = {
    "generations": Count("id"),
    "succeeded": Count("id", filter=Q(outcome=Status.SUCCEEDED)),
    "failed": Count("id", filter=Q(outcome=Status.FAILED)),
    "cancelled": Count("id", filter=Q(outcome=Status.CANCELLED)),
    "in_flight": Count("id", filter=Q(outcome__in=Generation.IN_FLIGHT)),
    "images": Sum("images"),
    "cost_usd": Sum("cost_usd"),
    "reported_usd": Sum("cost_usd", filter=Q(cost_source=Usage.Source.REPORTED)),
    "estimated_usd": Sum(
        "cost_usd", filter=Q(cost_source__in=(Usage.Source.ESTIMATED, Usage.Source.FAMILY))
    ),
    "timed": Count("id", filter=_timed()),
    "total_seconds": Sum("total_seconds", filter=_timed()),
}
ROLLUP_SUMS = {"sum_" + name: Sum(name) for name in SUMMED}
LEDGER_SUMS = {"sum_" + name: value for name, value in _SUMS.items()}
BUCKET = Case(
    *(When(total_seconds__lt=edge, then=Value(k)) for k, edge in enumerate(EDGES)),
    default=Value(len(EDGES)),
)


def _figures(row: dict, prefix: str = "sum_") -> Figures:
    found = Figures()
    for name in SUMMED:
        value = row.get(prefix + name)
        if value is not None:
            setattr(found, name, type(getattr(found, name))(value))
    return found


def _with_day(ledger: QuerySet) -> QuerySet:
    return ledger.annotate(day=TruncDate("created_at"))


def summarize(ledger: QuerySet, keys: tuple[str, ...], latency: bool = False) -> dict:
    """Ledger rows summed by `keys`: {key tuple: Figures}, with latency histograms if asked."""
    if "day" in keys:
        ledger = _with_day(ledger)
    found: dict[tuple, Figures] = {}
    for row in ledger.order_by().values(*keys).annotate(**LEDGER_SUMS):
        found[tuple(row[k] for k in keys)] = _figures(row)
    if latency:
        timed = ledger.filter(_timed()).order_by().annotate(b=BUCKET)
        for row in timed.values(*keys, "b").annotate(n=Count("id")):
            hist = found[tuple(row[k] for k in keys)].latency
            hist[row["b"]] = hist.get(row["b"], 0) + row["n"]
    return found


def failures(ledger: QuerySet, keys: tuple[str, ...]) -> dict:
    """Failed ledger rows counted by `keys` + (reason,): {key tuple: count}."""
    ledger = ledger.filter(outcome=Status.FAILED)
    if "day" in keys:
        ledger = _with_day(ledger)
    reason = Case(
        When(error="", then=Value(NO_REASON)), default=F("error"), output_field=CharField()
    )
    rows = ledger.order_by().annotate(reason=reason).values(*keys, "reason")
    return {tuple(r[k] for k in (*keys, "reason")): r["n"] for r in rows.annotate(n=Count("id"))}


# --- Roll-ups -------------------------------------------------------------------------------


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of `first` to the start of the day after `last`, in local time."""
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first, time()), zone)
    return start, timezone.make_aware(datetime.combine(last + timedelta(days=1), time()), zone)


def _regroup(full: dict, keys: tuple[str, ...], names: tuple[str, ...]) -> dict:
    grouped: dict[tuple, Figures] = {}
    for key, figures in full.items():
        short = tuple(key[names.index(k)] for k in keys)
        grouped.setdefault(short, Figures()).add(figures)
    return grouped


def rollup(day: date) -> int:
    """Rebuild one day's roll-ups from the ledger (delete and insert: safe to run again)."""
    start, end = day_bounds(day, day)
    ledger = Usage.objects.filter(created_at__gte=start, created_at__lt=end)
    full = summarize(ledger, FULL, latency=True)
    rows = []
    for grain, keys in GRAINS.items():
        for key, f in (full if grain == "all" else _regroup(full, keys, FULL)).items():
            values = {name: getattr(f, name) for name in SUMMED}
            latency = {str(b): n for b, n in sorted(f.latency.items())}
            rows.append(
                UsageDay(
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
            UsageDay(
                day=day,
                grain="failure",
                failed=count,
                **dict(zip((*FULL, "reason"), key, strict=True)),
            )
        )
        by_reason[key[-1:]] = by_reason.get(key[-1:], 0) + count
    for (reason,), count in by_reason.items():
        rows.append(UsageDay(day=day, grain="reason", reason=reason, failed=count))
    # Two at once (a second beat, the command while beat runs) would each delete what the other
    # had not committed yet and both insert: one after the other instead (jobs/locks.py).
    with locks.exclusive("rollup-usage", wait=True), transaction.atomic():
        UsageDay.objects.filter(day=day).delete()
        UsageDay.objects.bulk_create(rows, batch_size=2000)
        UsageRollup.objects.update_or_create(day=day, defaults={"built_at": timezone.now()})
    return len(rows)


def rollup_recent(days: int = 2) -> list[date]:
    """Roll up the `days` whole days before today (a late-settling generation is caught by the
    next run, which rebuilds the same days)."""
    today = timezone.localdate()
    done = [today - timedelta(days=n) for n in range(days, 0, -1)]
    for day in done:
        rollup(day)
    return done


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
        found = summarize(self.ledger, keys, latency) if self.has_raw else {}
        rollups = self.rollups(name).order_by()
        if latency:  # histograms are merged here, not in SQL
            for row in rollups.values(*keys, *SUMMED, "latency"):
                figures = _figures(row, prefix="")
                figures.latency = {int(b): n for b, n in row["latency"].items()}
                found.setdefault(tuple(row[k] for k in keys), Figures()).add(figures)
        else:
            for row in rollups.values(*keys).annotate(**ROLLUP_SUMS):
                found.setdefault(tuple(row[k] for k in keys), Figures()).add(_figures(row))
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
    cost_usd, summed like `usage._used` but from roll-ups where a day has them."""
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
