"""Signed links to stored pictures, for whoever holds one for an hour: providers that take only
URLs, and webhook receivers. Knows nothing of Django models; served by `gallery:input-link`."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

INPUT_LINK_SALT = "atelier.input-link"
INPUT_LINK_SECONDS = 3600


def public_link(kind: str, uuid: str, base: str = "") -> str:
    """A link that works for an hour ("upload" or "image"), on PUBLIC_BASE_URL or else on
    `base` (the site as the caller reached it); "" with neither."""
    base = settings.PUBLIC_BASE_URL or base.rstrip("/")
    if not base:
        return ""
    token = signing.dumps([kind, uuid], salt=INPUT_LINK_SALT)
    return base + reverse("gallery:input-link", args=[token])


def read_input_link(token: str) -> tuple[str, str] | None:
    try:
        kind, uuid = signing.loads(token, salt=INPUT_LINK_SALT, max_age=INPUT_LINK_SECONDS)
    except signing.BadSignature:
        return None
    return kind, uuid
