"""The sandbox's key: only this site's worker holds it, so strangers cannot make the sandbox draw.

The key is derived from SECRET_KEY, so every web process and worker of one site agree on it
without configuration, and it unlocks nothing but the sandbox.
"""

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

KEY_SALT = "atelier.sandbox.key"


def key() -> str:
    return salted_hmac(
        KEY_SALT, "worker", secret=settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def presented(request: HttpRequest) -> str:
    """The key a request carries: Relay's `X-API-Key`, else the AI/ML API's `Bearer` token.

    As on Relay, X-API-Key wins when both are sent.
    """
    if given := request.headers.get("X-API-Key", ""):
        return given
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def allowed(request: HttpRequest) -> bool:
    given = presented(request)
    return bool(given) and constant_time_compare(given, key())
