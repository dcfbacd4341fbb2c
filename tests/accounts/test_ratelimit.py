"""Rate windows end on time on every cache backend the app supports; the client address."""

import json
import os
import pickle
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory

from gallery.accounts import ratelimit
from webapp.cache import CounterFileCache

BACKENDS = ["file", "redis", "locmem"]


def cache_settings(backend: str, tmp_path) -> dict:
    if backend == "file":  # the embedded default
        return {
            "BACKEND": "webapp.cache.CounterFileCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    if backend == "redis":
        if not django_settings.REDIS_URL:
            pytest.skip("Redis is tested when REDIS_URL is set")
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": django_settings.REDIS_URL,
            "KEY_PREFIX": f"ratelimit-test-{uuid.uuid4().hex}",
        }
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rate"}


@pytest.fixture(params=BACKENDS)
def backend(request, settings, tmp_path) -> str:
    settings.CACHES = {"default": cache_settings(request.param, tmp_path)}
    return request.param


def hit_until_refused(key: str, limit: int, seconds: int) -> int:
    """Hit until refused; how many hits that took (a window may end on the way)."""
    for tries in range(1, 50):
        if ratelimit.too_many(key, limit, seconds):
            return tries
    raise AssertionError("never refused")


def test_a_window_ends_on_time_on_every_backend(backend):
    """Django's file cache writes its default expiry (300 s) back on every incr: with one key
    per limit, a 1 s window lasted five minutes, and longer for someone who kept trying."""
    key = f"test:{uuid.uuid4()}"
    assert hit_until_refused(key, 2, 1) >= 3
    assert ratelimit.too_many(key, 2, 1)  # trying again within the window is refused
    time.sleep(1.05)  # the window has passed, whenever in it the last refusal fell
    assert not ratelimit.too_many(key, 2, 1)


def test_failures_counted_without_a_limit_are_forgotten_with_their_window(backend):
    key = f"test:{uuid.uuid4()}"
    for _ in range(3):
        ratelimit.count(key, 1)
    assert ratelimit.hits(key, 1) in (1, 2, 3)  # a window may end between two hits
    time.sleep(1.05)
    assert ratelimit.hits(key, 1) == 0


def test_a_long_window_outlives_the_caches_default_expiry_on_the_file_cache(
    settings, tmp_path, monkeypatch
):
    """The file cache decides expiry by time.time(), so moving that clock is real for it."""
    settings.CACHES = {"default": cache_settings("file", tmp_path)}
    key = next(
        k for k in (f"test:{uuid.uuid4()}" for _ in range(100)) if ratelimit.wait(k, 3600) > 900
    )
    for _ in range(3):
        ratelimit.count(key, 3600)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 400)  # past the 300 s default, same window
    assert ratelimit.hits(key, 3600) == 3


def test_reset_forgets_the_current_window(backend):
    key = f"test:{uuid.uuid4()}"
    ratelimit.count(key, 60)
    ratelimit.reset(key, 60)
    assert ratelimit.hits(key, 60) == 0


@pytest.mark.parametrize(
    "seconds, words",
    [
        (1, "a second"),
        (45, "45 seconds"),
        (60, "a minute"),
        (61, "2 minutes"),
        (300, "5 minutes"),
        (3600, "an hour"),
        (7200, "2 hours"),
    ],
)
def test_waits_are_said_in_words(seconds, words):
    assert ratelimit.in_words(seconds) == words


# --- The client address -------------------------------------------------------------------------


def request_from(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


@pytest.mark.parametrize(
    "hops, remote, forwarded, client",
    [
        # No proxy: the header is whatever the client wrote, so it is ignored.
        (0, "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # One proxy appends the address it saw; anything left of it may be made up.
        (1, "10.0.0.2", "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        # Two proxies (a CDN, then nginx): the client is the second from the right.
        (2, "10.0.0.2", "6.6.6.6, 203.0.113.9, 192.0.2.50", "203.0.113.9"),
        # Fewer entries than proxies: it did not come through them all; trust the socket.
        (2, "10.0.0.2", "203.0.113.9", "10.0.0.2"),
        (1, "10.0.0.2", None, "10.0.0.2"),
        # An IPv6 client is its /64, which one home or phone has to itself.
        (0, "2001:db8:1:2:aaaa::1", None, "2001:db8:1:2::/64"),
        (0, "::ffff:203.0.113.9", None, "203.0.113.9"),
        (1, "10.0.0.2", "not-an-address", "not-an-address"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings, hops, remote, forwarded, client
):
    settings.PROXY_HOPS = hops
    assert ratelimit.client_address(request_from(remote, forwarded)) == client


# --- The embedded default cache under a flood ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def embedded_default_cache(location: Path) -> dict:
    """The cache a site without REDIS_URL runs with, as settings.py makes it, kept at `location`."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"VAR_DIR": str(location)}
    script = "import json, webapp.settings as s; print(json.dumps(s.CACHES['default']))"
    found = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout) | {"LOCATION": str(location / "cache")}


def test_a_flood_of_fresh_counters_does_not_wipe_a_login_limit_on_the_embedded_cache(
    settings, tmp_path, alice
):
    """Django's file cache deleted a random third of its files past 300: ~750 password resets
    asking for made-up addresses wiped the failed-login counters, and the guessing went on."""
    settings.CACHES = {"default": embedded_default_cache(tmp_path)}
    guesser = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(settings.LOGIN_RATE[0]):
        guesser.post("/login/", {"username": "alice", "password": "wrong"})
    assert guesser.post("/login/", {"username": "alice", "password": "guess"}).status_code == 429
    for i in range(2000):  # what requests from many addresses leave: fresh counters, past 300
        ratelimit.count(f"reset:10.0.{i // 250}.{i % 250}", 3600)
    for guess in ("guess1", "guess2", "password"):
        response = guesser.post("/login/", {"username": "alice", "password": guess})
        assert response.status_code == 429


def counter_cache(tmp_path: Path, **options) -> CounterFileCache:
    return CounterFileCache(str(tmp_path / "cache"), {"OPTIONS": {"CULL_EVERY": 0, **options}})


def test_a_cull_removes_expired_entries_before_live_ones(tmp_path):
    cache = counter_cache(tmp_path, MAX_ENTRIES=30)
    for i in range(20):
        cache.set(f"old:{i}", 7, timeout=0)  # expired at once
    for i in range(15):
        cache.set(f"live:{i}", 1, timeout=300)
    assert all(cache.get(f"live:{i}") == 1 for i in range(15))
    assert len(list((tmp_path / "cache").glob("*.djcache"))) == 15


def test_when_live_entries_are_over_the_limit_the_fewest_hits_go_first(tmp_path):
    cache = counter_cache(tmp_path, MAX_ENTRIES=30)
    cache.set("holding-someone-back", 11, timeout=300)
    for i in range(200):
        cache.set(f"flood:{i}", 1, timeout=300)
    assert cache.get("holding-someone-back") == 11
    assert len(list((tmp_path / "cache").glob("*.djcache"))) <= 30


def test_concurrent_increments_are_all_counted_and_keep_their_expiry(tmp_path):
    counter_cache(tmp_path).add("hits", 0, timeout=3600)

    def hit() -> None:
        cache = counter_cache(tmp_path)  # each thread its own, as each web process has
        for _ in range(50):
            cache.incr("hits")

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache = counter_cache(tmp_path)
    assert cache.get("hits") == 400
    [entry] = (tmp_path / "cache").glob("*.djcache")
    with entry.open("rb") as f:
        expiry = pickle.load(f)  # noqa: S301 (the file this test's cache wrote)
    assert expiry > time.time() + 3000  # not the 300 s default written back
