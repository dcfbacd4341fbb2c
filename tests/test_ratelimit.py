"""Rate windows end on time on every cache backend the app supports; the client address."""

import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from gallery import ratelimit

BACKENDS = ["file", "redis", "locmem"]


def cache_settings(backend: str, tmp_path) -> dict:
    if backend == "file":  # the embedded default
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
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
