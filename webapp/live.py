"""Live updates: one version counter per team in the cache, and the signed token a tab polls it
with.

Every change an open gallery tab shows (a generation created or moving on, an image stored,
deleted, hidden or moved) bumps its team's counter after the change commits. A tab holds the
version it last saw and asks, once a poll interval, whether the counter still says that: the
answer comes from the cache alone, so an idle tab costs no database query. When the counter
moved, the tab fetches what changed through the ordinary, access-checked view.

The counter lives in the shared cache (Redis across hosts; the file cache on one machine). A
counter that is missing (a cache wipe, an eviction, a restart of a cache held in memory) is
created again from the clock in microseconds, so it never comes back as a value a tab already
holds: any value other than the tab's means "fetch what changed", and nothing is missed.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

SALT = "atelier.live.poll"


def _key(team_id: int) -> str:
    return f"live:team:{team_id}"


def _fresh() -> int:
    """A new counter's first value: later than any value an earlier counter reached, unless
    that one was bumped more than a million times a second."""
    return time.time_ns() // 1000


def version(team_id: int) -> int:
    """The team's current version, starting a counter when there is none."""
    key = _key(team_id)
    value = cache.get(key)
    if value is None:
        cache.add(key, _fresh(), timeout=None)
        value = cache.get(key)
    return int(value)


def _incr(team_ids: tuple[int, ...]) -> None:
    for team_id in team_ids:
        key = _key(team_id)
        try:
            cache.incr(key)
        except ValueError:  # missing: start it; a twin that started it first wins, then count
            if not cache.add(key, _fresh(), timeout=None):
                cache.incr(key)


def bump(*team_ids: int | None) -> None:
    """Tell the teams' open tabs that something changed, once the current transaction commits
    (a tab that looks sooner would not see the change yet). A cache that fails only delays the
    news: the change itself is kept, and the cache's own failure is logged."""
    teams = tuple(dict.fromkeys(t for t in team_ids if t is not None))
    if not teams:
        return

    def tell() -> None:
        try:
            _incr(teams)
        except Exception:
            log.exception("live updates: could not bump the version of teams %s", teams)

    transaction.on_commit(tell)


@dataclass(frozen=True)
class Grant:
    """What a valid poll token says: this person may watch this team's counter."""

    user_id: int
    team_id: int


def token_for(user_id: int, team_id: int) -> str:
    """A signed, salted token for the page; valid for LIVE_TOKEN_MAX_AGE seconds."""
    return signing.dumps({"u": user_id, "t": team_id}, salt=SALT, compress=False)


class Expired(Exception):
    """The token was ours but is too old: the tab should fetch a fresh one."""


def read_token(token: str) -> Grant | None:
    """The grant a token carries; None when it is not ours (forged, altered, another salt).

    Raises Expired for one of ours older than LIVE_TOKEN_MAX_AGE.
    """
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.LIVE_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise Expired from None
    except signing.BadSignature:
        return None
    try:
        return Grant(user_id=int(data["u"]), team_id=int(data["t"]))
    except (KeyError, TypeError, ValueError):
        return None
