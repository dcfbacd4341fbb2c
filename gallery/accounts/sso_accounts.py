"""The Atelier account behind a single sign-on login, made just in time, and its teams.

A person is found by their identity at the provider (issuer and subject) once they have logged
in through it. The first time, an existing account is used only when the provider says the
email address is verified (`email_verified` true) and exactly one account has it, and that
account is not staff (an administrator's account is never taken over); otherwise a new account
is made, with a username from `preferred_username` or the address, made unique.
New accounts get their personal team as every account does (gallery.accounts.signals). Sign-up
being closed does not stop this: the provider vouches for the person.
"""

import re
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from gallery.accounts.models import SsoIdentity
from gallery.accounts.sso_sync import sync_memberships


class Refused(Exception):
    """This login cannot be given an account; the message says why, to the person."""


@transaction.atomic
def account_for(issuer: str, claims: dict[str, Any]) -> tuple[Any, list[str]]:
    """The account these claims log in to, its teams brought in line with their groups, and
    what the groups changed, in words."""
    subject = str(claims["sub"])[:255]
    identity = SsoIdentity.objects.filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["last_login_at"])
        user = identity.user
    else:
        user = _by_verified_email(claims) or _new_account(claims)
        SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    groups = claims.get(settings.OIDC_GROUPS_CLAIM)
    # No claim at all is not "no groups": the provider may not have been asked for it, and
    # taking it as none would drop the person from every team at once.
    return user, [] if groups is None else sync_memberships(user, _names(groups))


def verified_email(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    verified = claims.get("email_verified") in (True, "true")
    return email.strip() if verified and isinstance(email, str) and "@" in email else ""


def _by_verified_email(claims: dict[str, Any]):
    email = verified_email(claims)
    if not email:
        return None
    users = list(get_user_model().objects.filter(email__iexact=email)[:2])
    if len(users) > 1:
        raise Refused(
            f"More than one account here has the address {email}, so single sign-on cannot "
            "tell which is yours. Ask an administrator to give the address to one account only."
        )
    if users and (users[0].is_staff or users[0].is_superuser):
        # Whoever can set a "verified" address at the provider must not become an admin here.
        raise Refused(
            f"The address {email} belongs to an administrator account, which single sign-on "
            "does not take over. Sign in to it with its password."
        )
    return users[0] if users else None


def _new_account(claims: dict[str, Any]):
    email = verified_email(claims)
    name = claims.get("preferred_username") or email.split("@")[0] or claims.get("email") or ""
    user = get_user_model().objects.create_user(
        unique_username(str(name)),
        email=email,
        first_name=str(claims.get("given_name") or "")[:150],
        last_name=str(claims.get("family_name") or "")[:150],
    )
    return user


def unique_username(wanted: str) -> str:
    """`wanted` in the characters Django allows in a username, with -2, -3… if it is taken."""
    base = re.sub(r"[^\w.@+-]", "", wanted.strip().replace(" ", "."))[:140] or "user"
    taken = get_user_model().objects.filter(username__iexact=base).exists()
    suffix = 1
    name = base
    while taken:
        suffix += 1
        name = f"{base}-{suffix}"
        taken = get_user_model().objects.filter(username__iexact=name).exists()
    return name


def _names(groups: Any) -> list[str]:
    """The groups claim as a list of names: a list of strings, or one string."""
    if isinstance(groups, str):
        return [groups]
    if isinstance(groups, list):
        return [group for group in groups if isinstance(group, str)]
    return []
