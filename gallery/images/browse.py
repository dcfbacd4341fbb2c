"""Finding images in a team's gallery: filters held in the URL, prompt search, keyset pages.

No OFFSET and no COUNT: a page is "the next N after this (created_at, uuid)", which stays
stable while new images arrive and costs the same at any depth.
"""

import uuid
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import urlencode

from gallery.models import Generation, Image, Team

PAGE_SIZE = 48
# Tiles a long scroll keeps in the page; rows above the screen beyond this are dropped.
MAX_TILES = 480
STATUSES = {
    "in_flight": Generation.IN_FLIGHT,
    "failed": (Generation.Status.FAILED,),
    "cancelled": (Generation.Status.CANCELLED,),
}


@dataclass
class Filters:
    q: str = ""
    by_model: str = ""
    provider: str = ""
    author: str = ""
    gallery: str = ""
    status: str = ""
    since: date | None = None
    until: date | None = None
    favorites: bool = False
    api: bool = False  # made through the API

    @classmethod
    def from_query(cls, query: QueryDict) -> "Filters":
        def text(name: str) -> str:
            return query.get(name, "").strip()[:200]

        gallery = text("gallery")
        return cls(
            q=text("q"),
            by_model=text("by_model"),
            provider=text("provider"),
            author=text("author"),
            gallery=gallery if _is_uuid(gallery) else "",
            status=text("status") if text("status") in STATUSES else "",
            since=day(text("since")),
            until=day(text("until")),
            favorites=query.get("favorites") in ("1", "on", "true"),
            api=query.get("api") in ("1", "on", "true"),
        )

    def as_query(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                values[f.name] = "1" if value is True else str(value)
        return values

    def urlencode(self, **extra: str) -> str:
        return urlencode({**self.as_query(), **extra})

    @property
    def active(self) -> bool:
        return bool(self.as_query())


def day(text: str) -> date | None:
    """A date from the URL; None when it is malformed or does not exist (2024-02-30)."""
    try:
        return parse_date(text)
    except ValueError:
        return None


def moment(text: str) -> datetime | None:
    """A date and time from the URL; None when it is malformed, does not exist, or falls outside
    the years 1 to 9999 once turned into UTC (as the database stores it)."""
    try:
        found = parse_datetime(text)
        if found is not None and timezone.is_aware(found):
            found.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return found


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _day_range(filters: Filters) -> tuple[datetime | None, datetime | None]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(filters.since, time.min, tz) if filters.since else None
    # Until the end of the day asked for; the last day there is has no day after it.
    last = filters.until is not None and filters.until == date.max
    end = (
        datetime.combine(filters.until + timedelta(days=1), time.min, tz)
        if filters.until and not last
        else None
    )
    return start, end


def _narrow(qs: QuerySet, filters: Filters, via: str) -> QuerySet:
    """The filters images and generations share; `via` leads from the row to its generation."""
    if filters.by_model:
        qs = qs.filter(**{f"{via}model_id": filters.by_model})
    if filters.provider:
        qs = qs.filter(**{f"{via}provider": filters.provider})
    if filters.author:
        qs = qs.filter(**{f"{via}owner__username": filters.author})
    if filters.api:
        qs = qs.filter(**{f"{via}api_token__isnull": False})
    start, end = _day_range(filters)
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lt=end)
    return qs


def images(team: Team, user: Any, filters: Filters) -> QuerySet[Image]:
    """The team's images matching the filters (the team was access-checked by the caller)."""
    qs = _narrow(Image.objects.shown().filter(team=team), filters, "generation__")
    if filters.gallery:
        qs = qs.filter(gallery__uuid=filters.gallery)
    if filters.favorites:
        qs = qs.filter(favorites__user=user)
    if filters.q:
        qs = qs.filter(generation__in=search(Generation.objects.filter(team=team), filters.q))
    return qs


def generations(team: Team, filters: Filters) -> QuerySet[Generation]:
    """Generations by status (in flight, failed, cancelled), for the status filter."""
    qs = _narrow(team.generations.filter(status__in=STATUSES[filters.status]), filters, "")
    if filters.q:
        qs = search(qs, filters.q)
    return qs


def search(qs: QuerySet[Generation], q: str) -> QuerySet[Generation]:
    """Prompt search: PostgreSQL full-text (GIN-indexed, web-search syntax), else every word."""
    if connection.vendor == "postgresql":
        vector = SearchVector("prompt", config="english")
        query = SearchQuery(q, config="english", search_type="websearch")
        return qs.annotate(prompt_vector=vector).filter(prompt_vector=query)
    for word in q.split():
        qs = qs.filter(prompt__icontains=word)
    return qs


def page(qs: QuerySet, after: str | None, size: int | None = None) -> tuple[list, str | None]:
    """One page newest first, after the cursor of the previous page's last item."""
    size = size or PAGE_SIZE
    qs = qs.order_by("-created_at", "-uuid")
    if cursor := decode_cursor(after):
        created_at, last = cursor
        # The plain `created_at <=` bound lets the index start at the cursor; the OR alone
        # would make PostgreSQL walk the index from the top, slower the deeper the page.
        qs = qs.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(uuid__lt=last)
        )
    items = list(qs[: size + 1])
    more = len(items) > size
    items = items[:size]
    return items, encode_cursor(items[-1]) if more else None


def encode_cursor(item: Any) -> str:
    return f"{item.created_at.isoformat()}~{item.uuid}"


def decode_cursor(value: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not value or "~" not in value:
        return None
    stamp, _, ident = value.partition("~")
    created_at = moment(stamp.replace(" ", "+"))
    if created_at is None or not _is_uuid(ident):
        return None
    return created_at, uuid.UUID(ident)


def neighbours(image: Image, user: Any, filters: Filters) -> tuple[Image | None, Image | None]:
    """The images just newer and just older than this one in the same filtered list."""
    qs = images(image.team, user, filters)
    at, me = image.created_at, image.uuid
    newer = (
        qs.filter(Q(created_at__gt=at) | Q(created_at=at, uuid__gt=me))
        .order_by("created_at", "uuid")
        .first()
    )
    older = (
        qs.filter(Q(created_at__lt=at) | Q(created_at=at, uuid__lt=me))
        .order_by("-created_at", "-uuid")
        .first()
    )
    return newer, older


def uuid_or_404(value: str) -> uuid.UUID:
    from django.http import Http404

    if not _is_uuid(value):
        raise Http404
    return uuid.UUID(value)
