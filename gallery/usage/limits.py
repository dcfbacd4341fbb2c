"""Limits on making images: how one reads ("3 of 10 images today") and when it refuses.

The limits themselves are data on `Budget` and `SiteSettings`; what is used of them is summed
from the ledger (`Budget.limits`, `SiteSettings.site_limit`).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from gallery.usage.prices import CostSource

CENT = Decimal("0.01")
SITE = "the site"  # whose limit the site-wide cap is


class OverBudget(Exception):
    """A generation that would break a limit; the message says which, for the person."""


@dataclass
class Limit:
    """One limit and how much of it is used: images today, or dollars this month."""

    whose: str  # "You" or the team's name
    kind: str  # "images" | "usd"
    limit: Decimal | int
    used: Decimal | int
    scope: str = "user"  # "user" | "team" | "site"

    @property
    def ratio(self) -> float:
        return float(self.used) / float(self.limit) if self.limit else 1.0

    @property
    def near(self) -> bool:
        return self.ratio >= 0.8

    def __str__(self) -> str:
        if self.kind == "images":
            return f"{self.used} of {self.limit} images today"
        return f"${Decimal(self.used).quantize(CENT)} of ${self.limit} this month"

    def check(self, images: int, cost: Decimal, source: str) -> None:
        owner = {"You": "You have", SITE: "Everyone on this site together has"}.get(
            self.whose, f"The team {self.whose} has"
        )
        if self.kind == "images" and self.used + images > self.limit:
            left = max(0, int(self.limit) - int(self.used))
            raise OverBudget(
                f"{owner} made {self.used} of {self.limit} images allowed today, and this would "
                f"make {images} more ({left} left). The count starts again at midnight "
                f"{timezone.get_current_timezone_name()}."
            )
        if self.kind == "usd" and source == CostSource.UNPRICED:
            raise OverBudget(
                "This model has no price yet, and spending is limited, so it cannot be used "
                "until an admin sets its price."
            )
        if self.kind == "usd" and self.used + cost > self.limit:
            raise OverBudget(
                f"{owner} spent ${Decimal(self.used).quantize(CENT)} of ${self.limit} allowed "
                f"this month, and this would cost about ${cost.quantize(CENT)} more."
                + (" An admin sets this limit under Site settings." if self.whose == SITE else "")
            )


def day_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime | None = None) -> datetime:
    return day_start(now).replace(day=1)


# Each kind of limit: the budget's field, and since when (and what) is summed against it.
KINDS = {
    "images": ("images_per_day", day_start, "images"),
    "usd": ("usd_per_month", month_start, "cost_usd"),
}


def own_limit(kind: str, scope: str, budget, site):
    """A person's or team's own limit of this kind, else the site's default for everyone."""
    field = KINDS[kind][0]
    own = getattr(budget, field, None)
    return getattr(site, f"{scope}_{field}") if own is None else own


@dataclass
class Standing:
    """How close one person or team is to one of their limits, for the admins' overview."""

    scope: str  # "user" | "team"
    name: str
    limit: Limit
