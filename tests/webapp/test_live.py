"""The team version counter and the poll token (webapp/live.py), on each cache Atelier runs on."""

import logging

import pytest
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings

from webapp import live

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "live-test"}


@pytest.fixture(params=["configured", "locmem", "file"])
def any_cache(request, settings, tmp_path):
    """The cache this run is configured with (Redis when REDIS_URL is set), LocMem, and the
    embedded file cache."""
    if request.param == "locmem":
        settings.CACHES = {"default": LOCMEM}
    elif request.param == "file":
        backend = "webapp.cache.CounterFileCache"
        settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": str(tmp_path / "cache")}}
    cache.clear()
    yield request.param
    cache.clear()


def test_a_bump_moves_the_version_once_the_change_commits(
    any_cache, db, django_capture_on_commit_callbacks
):
    before = live.version(7)
    with django_capture_on_commit_callbacks() as callbacks:
        live.bump(7)
        assert live.version(7) == before  # not yet: a tab would not see the change
    for callback in callbacks:
        callback()
    assert live.version(7) == before + 1


def test_a_bump_outside_a_transaction_counts_at_once(any_cache, transactional_db):
    before = live.version(7)
    live.bump(7, 7, None)
    assert live.version(7) == before + 1


def test_a_bump_rolled_back_tells_no_one(any_cache, transactional_db):
    before = live.version(7)
    with pytest.raises(RuntimeError), transaction.atomic():
        live.bump(7)
        raise RuntimeError
    assert live.version(7) == before


def test_teams_have_their_own_counters(any_cache, transactional_db):
    mine, theirs = live.version(1), live.version(2)
    live.bump(1)
    assert (live.version(1), live.version(2)) == (mine + 1, theirs)


def test_a_counter_lost_with_the_cache_comes_back_different(any_cache, transactional_db):
    held = live.version(3)
    for _ in range(5):
        live.bump(3)
    cache.clear()  # a wipe, an eviction, a cache in memory restarted
    assert live.version(3) > held + 5
    cache.clear()
    live.bump(3)  # a bump that finds no counter starts one
    assert live.version(3) > held


def test_a_cache_that_fails_loses_only_the_news(transactional_db, caplog):
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    with (
        override_settings(CACHES={"default": unreachable}),
        caplog.at_level(logging.ERROR, logger="webapp.live"),
    ):
        live.bump(4)  # the change it reports stands: no exception reaches it
    assert "could not bump the version of teams (4,)" in caplog.text


def test_a_token_says_who_may_watch_which_team(settings):
    assert live.read_token(live.token_for(5, 9)) == live.Grant(user_id=5, team_id=9)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        signing.dumps({"u": 5, "t": 9}, salt="another.salt"),
        signing.dumps({"u": 5, "t": 9}, salt=live.SALT, key="not-our-secret-key-at-all-0123456789"),
        signing.dumps({"u": 5}, salt=live.SALT),
        signing.dumps(["u", 5], salt=live.SALT),
    ],
    ids=["empty", "garbage", "other-salt", "other-key", "no-team", "not-a-dict"],
)
def test_a_token_that_is_not_ours_grants_nothing(token):
    assert live.read_token(token) is None


def test_an_old_token_has_expired(settings):
    token = live.token_for(5, 9)
    settings.LIVE_TOKEN_MAX_AGE = -1
    with pytest.raises(live.Expired):
        live.read_token(token)
