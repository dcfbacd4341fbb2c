"""Password reset: the mail with its link, and its limits per client and per address asked for."""

from django.contrib.auth import get_user_model

from tests.factories import client_at

User = get_user_model()
HERE, THERE = "203.0.113.5", "198.51.100.7"


def test_password_reset_mails_a_link(client, alice, mailoutbox):
    client.post("/password/reset/", {"email": "alice@example.com"})
    assert len(mailoutbox) == 1 and "/password/reset/" in mailoutbox[0].body


def test_password_reset_is_limited_per_address(settings, alice, mailoutbox):
    settings.PASSWORD_RESET_RATE = (2, 3600)
    here = client_at(HERE)
    codes = [
        here.post("/password/reset/", {"email": email}).status_code
        for email in ("alice@example.com", "x@example.com", "alice@example.com")
    ]
    assert codes == [302, 302, 429]
    assert len(mailoutbox) == 1
    refused = here.post("/password/reset/", {"email": "y@example.com"})
    assert (
        "Too many reset requests. A reset mail already sent still works" in refused.content.decode()
    )


def test_password_reset_is_limited_per_email_address_asked_for(settings, alice, mailoutbox):
    settings.PASSWORD_RESET_RATE = (2, 3600)
    codes = [
        client_at(f"192.0.2.{i}").post("/password/reset/", {"email": "ALICE@example.com"})
        for i in range(3)
    ]
    assert [r.status_code for r in codes] == [302, 302, 429]
    assert len(mailoutbox) == 2


def test_a_reset_refused_for_its_client_address_does_not_count_the_address_asked_for(
    settings, alice, mailoutbox
):
    """Each refused request left a counter for the email address it named: a flood of made-up
    addresses from one client filled the cache with fresh counters."""
    settings.PASSWORD_RESET_RATE = (2, 3600)
    here = client_at(HERE)
    for email in ("x@example.com", "y@example.com"):
        here.post("/password/reset/", {"email": email})
    assert here.post("/password/reset/", {"email": "alice@example.com"}).status_code == 429
    there = client_at(THERE)
    codes = [there.post("/password/reset/", {"email": "alice@example.com"}) for _ in range(2)]
    assert [r.status_code for r in codes] == [302, 302]
    assert len(mailoutbox) == 2
