"""Single sign-on with OpenID Connect, on mozilla-django-oidc.

Everything here is off while OIDC_ISSUER is unset: both routes answer 404 and the login page
shows no button. The provider's endpoints and signing keys come from its discovery document
(`<issuer>/.well-known/openid-configuration`), fetched at first use and kept for an hour.
The code flow always uses PKCE (S256), state and nonce, and RS256-signed ID tokens whose
issuer and audience are checked, which mozilla-django-oidc leaves to its users. Accounts and
team memberships are made in `gallery.accounts.sso_accounts`.
"""

import logging
import threading
import time
from typing import Any

import httpx
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from gallery.accounts import ratelimit
from gallery.accounts.sso_accounts import Refused, account_for

log = logging.getLogger(__name__)
DISCOVERY_SECONDS = 3600
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class Unavailable(Exception):
    """The provider could not be reached, or its discovery document is not one we can use."""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def discovery() -> dict[str, Any]:
    """The issuer's discovery document, fetched at first use and kept for DISCOVERY_SECONDS."""
    issuer = settings.OIDC_ISSUER
    with _lock:
        kept = _discovered.get(issuer)
    if kept and kept[0] > time.monotonic():
        return kept[1]
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as e:
        raise Unavailable(f"{url} could not be read: {e}") from e
    needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    if not isinstance(document, dict) or not all(isinstance(document.get(k), str) for k in needed):
        raise Unavailable(f"{url} lacks one of {', '.join(needed)}")
    # OpenID Connect Discovery 1.0, 4.3: the document must name the issuer it was asked for.
    if document["issuer"].rstrip("/") != issuer.rstrip("/"):
        raise Unavailable(f"{url} names another issuer: {document['issuer']!r}")
    with _lock:
        _discovered[issuer] = (time.monotonic() + DISCOVERY_SECONDS, document)
    return document


def _basic_auth() -> bool:
    """client_secret_basic, the standard's default, unless the provider offers only _post."""
    methods = discovery().get("token_endpoint_auth_methods_supported") or []
    return "client_secret_basic" in methods or "client_secret_post" not in methods


# What mozilla-django-oidc would read from settings: fixed here, so PKCE, nonce and RS256 cannot
# be turned off, and the endpoints come from discovery.
FIXED = {
    "OIDC_RP_SIGN_ALGO": "RS256",
    "OIDC_USE_NONCE": True,
    "OIDC_USE_PKCE": True,
    "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
    "OIDC_AUTHENTICATION_CALLBACK_URL": "sso:callback",
    "OIDC_CREATE_USER": True,
    "OIDC_STORE_ACCESS_TOKEN": False,
    "OIDC_STORE_ID_TOKEN": False,
    "OIDC_ALLOW_UNSECURED_JWT": False,
}
FROM_SETTINGS = {
    "OIDC_RP_CLIENT_ID": "OIDC_CLIENT_ID",
    "OIDC_RP_CLIENT_SECRET": "OIDC_CLIENT_SECRET",
    "OIDC_RP_SCOPES": "OIDC_SCOPES",
    "OIDC_TIMEOUT": "OIDC_TIMEOUT",
}
FROM_DISCOVERY = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def setting(name: str, *default: Any) -> Any:
    if name in FIXED:
        return FIXED[name]
    if name in FROM_SETTINGS:
        return getattr(settings, FROM_SETTINGS[name])
    if name in FROM_DISCOVERY:
        return discovery().get(FROM_DISCOVERY[name])
    if name == "OIDC_TOKEN_USE_BASIC_AUTH":
        return _basic_auth()
    return import_from_settings(name, *default)


class Backend(OIDCAuthenticationBackend):
    """Logs in the person the provider vouches for, from the callback only."""

    get_settings = staticmethod(setting)
    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_IDP_SIGN_KEY = None
    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: setting("OIDC_OP_TOKEN_ENDPOINT"))
    OIDC_OP_USER_ENDPOINT = property(lambda self: setting("OIDC_OP_USER_ENDPOINT"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: setting("OIDC_OP_JWKS_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_CLIENT_ID)
    OIDC_RP_CLIENT_SECRET = property(lambda self: settings.OIDC_CLIENT_SECRET)

    def __init__(self, *args, **kwargs) -> None:
        # The library reads every endpoint here, and Django makes a backend for every
        # authenticate() call, password logins too: they are read when first needed instead.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        # Only the callback passes a nonce; a password login with ?code= in its URL is not ours.
        if request is None or not enabled() or "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token: str, **kwargs) -> dict[str, Any]:
        """The signature and nonce (the library), then issuer and audience (OIDC Core 3.1.3.7)."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != discovery()["issuer"]:
            raise SuspiciousOperation("ID token from another issuer")
        if settings.OIDC_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token meant for another client")
        if len(audiences) > 1 and payload.get("azp") != settings.OIDC_CLIENT_ID:
            raise SuspiciousOperation("ID token authorised for another party")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict) -> dict[str, Any]:
        """The ID token's claims, with the userinfo endpoint's on top when there is one."""
        claims = dict(payload)
        if discovery().get("userinfo_endpoint"):
            info = super().get_userinfo(access_token, id_token, payload)
            if info.get("sub") != payload.get("sub"):  # OIDC Core 5.3.2
                raise SuspiciousOperation("userinfo describes someone else")
            claims.update(info)
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict):
        claims = self.get_userinfo(access_token, id_token, payload)
        if not claims.get("sub"):
            raise SuspiciousOperation("no subject in the claims")
        user, changes = account_for(discovery()["issuer"], claims)
        for change in changes:
            messages.info(self.request, f"Single sign-on: {change}.")
        return user


def _page(request: HttpRequest, reason: str, status: int) -> TemplateResponse:
    return TemplateResponse(
        request, "registration/sso_refused.html", {"reason": reason}, status=status
    )


class Start(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, with fresh state, nonce and PKCE challenge."""

    get_settings = staticmethod(setting)

    def __init__(self, *args, **kwargs) -> None:
        View.__init__(self, *args, **kwargs)  # the endpoint is read per request, from discovery

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404
        count, seconds = settings.SSO_RATE
        key = f"sso:{ratelimit.client_address(request)}"
        if ratelimit.too_many(key, count, seconds):
            wait = ratelimit.in_words(ratelimit.wait(key, seconds))
            return _page(request, f"Too many sign-ins from here. Try again in {wait}.", 429)
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery()["authorization_endpoint"]
        except Unavailable as e:
            log.warning("single sign-on: %s", e)
            return _page(request, UNREACHABLE, 503)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        return super().get(request)


UNREACHABLE = "The sign-in service cannot be reached just now. Try again in a moment."
UNVERIFIED = (
    "The sign-in could not be verified, so it was refused: it may have been tampered with, "
    "or started in another browser or tab. Start again with “Sign in with SSO”."
)


class Callback(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: `<site>/oidc/callback/`."""

    get_settings = staticmethod(setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404
        try:
            return super().get(request)
        except SuspiciousOperation as e:
            log.warning("single sign-on refused: %s", e)
            return _page(request, UNVERIFIED, 400)
        except (Unavailable, requests.RequestException) as e:
            log.warning("single sign-on failed: %s", e)
            return _page(request, UNREACHABLE, 503)
        except Refused as e:
            return _page(request, str(e), 403)

    def login_failure(self) -> HttpResponse:
        said = "The sign-in service did not log you in"
        if self.request.GET.get("error") == "access_denied":
            said += ": it says access was denied"
        return _page(self.request, said + ". Start again with “Sign in with SSO”.", 403)
