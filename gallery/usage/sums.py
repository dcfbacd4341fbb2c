"""How ledger rows add up: the sums, latency buckets and percentiles that both the usage dashboard
and the daily roll-ups (`UsageDay.objects.rebuild`) use, so a day adds up to the same figures
whichever way it is read.

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

from django.db.models import Case, CharField, Count, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from gallery.images.status import IN_FLIGHT, GenerationStatus
from gallery.usage.prices import CostSource

Status = GenerationStatus
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
    # Spend by API token (none: made from the pages), with whose token it is and in which team.
    "token": ("api_token_id", "api_token_name", "user_name", "team_name"),
}
# Tables no roll-up grain keeps: always summed from the ledger, which keeps every row.
LEDGER_ONLY = ("token",)
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
    "in_flight": Count("id", filter=Q(outcome__in=IN_FLIGHT)),
    "images": Sum("images"),
    "cost_usd": Sum("cost_usd"),
    "reported_usd": Sum("cost_usd", filter=Q(cost_source=CostSource.REPORTED)),
    "estimated_usd": Sum(
        "cost_usd", filter=Q(cost_source__in=(CostSource.ESTIMATED, CostSource.FAMILY))
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


def from_row(row: dict, prefix: str = "sum_") -> Figures:
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
        found[tuple(row[k] for k in keys)] = from_row(row)
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


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of `first` to the start of the day after `last`, in local time."""
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first, time()), zone)
    return start, timezone.make_aware(datetime.combine(last + timedelta(days=1), time()), zone)


def regroup(full: dict, keys: tuple[str, ...], names: tuple[str, ...]) -> dict:
    grouped: dict[tuple, Figures] = {}
    for key, figures in full.items():
        short = tuple(key[names.index(k)] for k in keys)
        grouped.setdefault(short, Figures()).add(figures)
    return grouped
