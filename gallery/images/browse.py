"""Finding images in a team's gallery: filters held in the URL, prompt search, keyset pages.

No OFFSET and no COUNT: a page is "the next N after this (created_at, uuid)", which stays
stable while new images arrive and costs the same at any depth.
"""

import uuid
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode

from gallery.access import Request, as_uuid
from gallery.models import Generation, Image, Team, card_images
from jobs import catalog

PAGE_SIZE = 48
# Cards and tiles on a page that is not scrolled (in flight, new since, one gallery).
GRID_SIZE = 60
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
        return FilterForm(query).filters()

    def as_query(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                values[f.name] = "1" if value is True else str(value)
        return values

    def urlencode(self, **extra: str) -> str:
        return urlencode({**self.as_query(), **extra}) if extra else self._encoded

    # Asked for by every tile of a page: worked out once.
    @cached_property
    def _encoded(self) -> str:
        return urlencode(self.as_query())

    @cached_property
    def active(self) -> bool:
        return bool(self.as_query())

    @property
    def folded_active(self) -> bool:
        """Whether a filter other than the search words is in use: the page shows the folded
        filters open, so what narrows the grid is in sight."""
        return bool(self.as_query().keys() - {"q"})


class Text(forms.CharField):
    """A filter's text, trimmed, at most 200 characters (a longer one is cut, not refused)."""

    def to_python(self, value: Any) -> str:
        return (super().to_python(value) or "")[:200]


class FilterForm(forms.Form):
    """The filters in the URL. A value that is not one (an unknown status, a malformed gallery
    id, a day that does not exist) is no filter rather than an error: the page still shows."""

    q = Text(required=False)
    by_model = Text(required=False)
    provider = Text(required=False)
    author = Text(required=False)
    gallery = forms.UUIDField(required=False)
    status = forms.ChoiceField(required=False, choices=[(s, s) for s in ("", *STATUSES)])
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    favorites = forms.BooleanField(required=False)

    api = forms.BooleanField(required=False)

    def clean_favorites(self) -> bool:
        return self.data.get("favorites") in ("1", "on", "true")

    def clean_api(self) -> bool:
        return self.data.get("api") in ("1", "on", "true")

    def filters(self) -> Filters:
        self.is_valid()
        kept = {name: value for name, value in self.cleaned_data.items() if value is not None}
        if "gallery" in kept:
            kept["gallery"] = str(kept["gallery"])
        return Filters(**kept)


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
    last = as_uuid(ident)
    if created_at is None or last is None:
        return None
    return created_at, last


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


def working_on(team: Team) -> list[Generation]:
    """What is still in flight, and what failed today: shown above the images."""
    recent = timezone.now() - timedelta(days=1)
    return list(
        team.generations.filter(
            Q(status__in=Generation.IN_FLIGHT)
            | Q(status__in=Generation.TERMINAL, created_at__gte=recent)
            & ~Q(status=Generation.Status.SUCCEEDED)
        )
        .select_related("owner")
        .order_by("-created_at", "-id")[:GRID_SIZE]
    )


def cards_since(team: Team, since: datetime) -> list[Generation]:
    """The team's cards made after `since`, newest first (one indexed query, and their images)."""
    return list(
        team.generations.filter(created_at__gt=since)
        .select_related("owner")
        .prefetch_related(card_images())
        .order_by("-created_at", "-id")[:GRID_SIZE]
    )


def cards(team: Team, uuids: list[uuid.UUID]) -> list[Generation]:
    """These cards of the team as they are now; others' are not found."""
    found = team.generations.filter(uuid__in=uuids).select_related("owner")
    return list(found.prefetch_related(card_images()))


def grid(request: Request, team: Team) -> dict:
    """One page of the team's images (or of generations, with the status filter)."""
    filters = Filters.from_query(request.GET)
    after = request.GET.get("after")
    if filters.status:
        found = generations(team, filters).select_related("owner")
        items, cursor = page(found.prefetch_related(card_images()), after)
        return {"filters": filters, "cards": items, "tiles": [], "cursor": cursor}
    tiles, cursor = page(
        images(team, request.user, filters).select_related("generation__owner"), after
    )
    favorites = set(
        request.user.favorites.filter(image__in=tiles).values_list("image_id", flat=True)
    )
    for tile in tiles:
        tile.is_favorite = tile.pk in favorites
    cards = [] if after or filters.active else working_on(team)
    return {
        "filters": filters,
        "cards": cards,
        "tiles": tiles,
        "cursor": cursor,
        "max_tiles": MAX_TILES,
    }


def choices(team: Team) -> dict:
    """What the filters offer to choose from."""
    return {
        "authors": team.memberships.select_related("user").order_by("user__username"),
        "galleries": team.galleries.all(),
        "models": catalog.offered(),
        "providers": catalog.PROVIDERS,
    }
