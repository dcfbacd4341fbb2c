"""Fixed-window rate limits in the shared cache (Redis when configured, else files or memory).

A counter lives under a key that names its window (`rate:KEY:<window number>`), so a window
ends when the clock says so on every cache backend: Django's file cache rewrites a key's
expiry on `incr`, which with one key per limit made a window last as long as someone kept
trying. Each key's windows are shifted by a fixed offset drawn from the key, so that not every
counter on the site starts again in the same second.
"""

import hashlib
import ipaddress
import time
import zlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _window(key: str, seconds: int) -> tuple[str, float]:
    """The cache key of the window we are in now, and the seconds left until it ends."""
    shifted = time.time() + zlib.crc32(key.encode()) % seconds
    number = int(shifted // seconds)
    return f"rate:{key}:{number}", (number + 1) * seconds - shifted


def count(key: str, seconds: int) -> int:
    """Count one hit in the current window; the hits in it so far, this one included."""
    name, left = _window(key, seconds)
    timeout = int(left) + 1
    cache.add(name, 0, timeout)
    try:
        hits = cache.incr(name)
    except ValueError:  # expired between add and incr: the window has just ended
        cache.set(name, 1, timeout)
        return 1
    # The file and database caches write their default expiry back on incr; an hour's window
    # must not be forgotten after five quiet minutes.
    cache.touch(name, timeout)
    return hits


def hits(key: str, seconds: int) -> int:
    """The hits counted in the current window, without counting one."""
    return cache.get(_window(key, seconds)[0], 0)


def reset(key: str, seconds: int) -> None:
    cache.delete(_window(key, seconds)[0])


def too_many(key: str, limit: int, seconds: int) -> bool:
    """Count one hit; True once the window holds more than `limit`."""
    return count(key, seconds) > limit


def wait(key: str, seconds: int) -> int:
    """Whole seconds until this key's current window ends (at least 1)."""
    return max(1, round(_window(key, seconds)[1]))


def in_words(seconds: int) -> str:
    """A wait said for people: "a minute", "5 minutes", "30 seconds", "an hour"."""
    if seconds >= 3600 and seconds % 3600 < 60:
        hours = round(seconds / 3600)
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds >= 60:
        minutes = -(-seconds // 60)
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    return "a second" if seconds == 1 else f"{seconds} seconds"


def digest(text: str) -> str:
    """Something a person typed (a username, an email), made safe and short for a cache key."""
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()[:32]


def forwarded_address(request: HttpRequest) -> str:
    """Where a request comes from, as far as the trusted proxies in front of us can tell.

    With PROXY_HOPS = N, each of our N proxies appends the address it saw to X-Forwarded-For,
    so the client is the N-th entry from the right; anything to its left could be made up by
    the client. With 0 (no proxy) the header is ignored.
    """
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.PROXY_HOPS
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        forwarded = [part.strip() for part in forwarded if part.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return address


def client_address(request: HttpRequest) -> str:
    """The client a limit counts (`forwarded_address`). An IPv6 client is its /64 network: one
    home or phone has a whole /64 to pick addresses from."""
    address = forwarded_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
