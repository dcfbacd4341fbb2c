"""Fixed-window rate limits in the shared cache (Redis when configured)."""

from django.core.cache import cache
from django.http import HttpRequest


def too_many(key: str, limit: int, seconds: int) -> bool:
    """Count one hit; True once the window holds more than `limit`."""
    key = f"rate:{key}"
    cache.add(key, 0, seconds)
    try:
        hits = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)
        hits = 1
    return hits > limit


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")
