"""Who is calling: an API token from `Authorization: Bearer <token>`, checked on every request.

`authenticate()` knows nothing of the web framework, so every API shares it (the REST API
here, the OpenAI-compatible endpoint, webhooks' management routes): each turns `Refused` and
`Forbidden` into its own error shape. The token acts with its owner's role in its team as it
is now, looked up per request, so a changed role counts at once.

A token whose owner has left its team is refused as a bad token (401), not as a lack of
permission (403): it no longer says who is calling in which team, exactly as a revoked one, and
a script should stop and ask for a new token rather than retry.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import formats
from ninja.security.base import AuthBase

from gallery.access import EDIT_ROLES
from gallery.api.models import ApiToken
from gallery.teams.models import Membership, Team

HOW = "Send an API token as `Authorization: Bearer atl_…` (make one under API tokens)."


class Refused(Exception):
    """No valid token: 401, with why in words."""


class Forbidden(Exception):
    """A valid token that may not do this: 403, with why in words."""


@dataclass
class Caller:
    token: ApiToken
    user: User
    team: Team
    role: str

    @property
    def can_write(self) -> bool:
        return not self.token.read_only and self.role in EDIT_ROLES

    def require_change(self) -> None:
        """Any change, even one of the person's own (a favorite): not with a read-only token."""
        if self.token.read_only:
            raise Forbidden("This token is read only: it can look, not change anything.")

    def require_write(self) -> None:
        """A change to the team's things: an editor's or owner's token, not read only."""
        self.require_change()
        if self.role not in EDIT_ROLES:
            raise Forbidden(
                f"You are a {self.role} in {self.team.name}: a {self.role} can look, "
                "not change anything."
            )

    def require_owner(self) -> None:
        """What only the team's owners see or do (its webhooks)."""
        if self.role != Membership.Role.OWNER:
            raise Forbidden(f"Only owners of {self.team.name} manage its webhooks.")


def authenticate(header: str) -> Caller:
    """The caller an Authorization header names; raises Refused when it names none."""
    scheme, _, raw = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Refused(HOW)
    token = ApiToken.find(raw)
    if token is None:
        raise Refused("This API token is not valid. " + HOW)
    if token.revoked_at is not None:
        raise Refused("This API token was revoked.")
    if token.expired and token.expires_at is not None:
        when = formats.date_format(token.expires_at, "DATETIME_FORMAT")
        raise Refused(f"This API token expired on {when} UTC.")
    if not token.owner.is_active:
        raise Refused("The account this API token belongs to is deactivated.")
    role = token.role()
    if role is None:
        raise Refused(
            f"The owner of this API token is no longer in the team {token.team.name}, "
            "so the token no longer works."
        )
    token.mark_used()
    return Caller(token=token, user=token.owner, team=token.team, role=role)


class BearerToken(AuthBase):
    """django-ninja's hook: every route of the API opens with this (see gallery/api/v1.py)."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_bearerFormat = "atl_<prefix>_<secret>"

    def __call__(self, request: HttpRequest) -> Any:
        caller = authenticate(request.headers.get("Authorization", ""))
        # The person the token stands for, for the domain code that reads request.user; never
        # a session: the API ignores cookies, so no page's session can call it (no CSRF).
        request.user = caller.user
        return caller
