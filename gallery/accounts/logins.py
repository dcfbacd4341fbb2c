"""Login throttling that slows down guessing without locking anyone out.

Only failed logins count (Django's `user_login_failed`), per (username, client address) and
per address alone, the second with a higher limit. A login is refused before its password is
checked while either counter is over its limit; a successful login forgets the failures of
that (username, address). Someone guessing from one address cannot lock the account's owner
out of it from another. The same counters serve /login/ and /admin/login/; their forms
(`gallery.accounts.forms.LoginForm`) refuse before the password is checked.
"""

import unicodedata

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from gallery.accounts import ratelimit


def _counters(request: HttpRequest, username: str) -> list[tuple[str, int, int]]:
    """(key, limit, seconds) of each counter a login from here with this username meets.

    The username as Django's login form normalises it (NFKC) before it authenticates: the
    check before the password sees what was typed, the count after it what was tried, and
    "alice" typed in full-width letters logs in as alice, so both must be alice's counter.
    """
    address = ratelimit.client_address(request)
    username = unicodedata.normalize("NFKC", username)
    return [
        (f"login:{ratelimit.digest(username[:150])}:{address}", *settings.LOGIN_RATE),
        (f"login:{address}", *settings.LOGIN_ADDRESS_RATE),
    ]


def wait(request: HttpRequest, username: str) -> int:
    """Seconds until a login from here with this username may be tried; 0 when it may now."""
    return max(
        (
            ratelimit.wait(key, seconds)
            for key, limit, seconds in _counters(request, username)
            if ratelimit.hits(key, seconds) >= limit
        ),
        default=0,
    )


@receiver(user_login_failed)
def count_failure(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    if request is None:  # not a login form (nothing to key on)
        return
    for key, _limit, seconds in _counters(request, str(credentials.get("username", ""))):
        ratelimit.count(key, seconds)


@receiver(user_logged_in)
def forget_failures(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is None:
        return
    key, _limit, seconds = _counters(request, user.get_username())[0]
    ratelimit.reset(key, seconds)


@receiver(user_logged_in)
def forget_generated_admin_password(sender, user, **kwargs) -> None:
    """The password `ensure_admin` generated is kept on disk only until the admin first logs in."""
    if user.get_username() == settings.ADMIN_USERNAME:
        (settings.VAR_DIR / "admin_password").unlink(missing_ok=True)
