"""Sign-up, login throttling, password reset and the generated admin password."""

import importlib
import os
import stat
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model, password_validation
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from gallery.models import (
    Budget,
    Generation,
    Invitation,
    Membership,
    SiteSettings,
    Team,
    personal_team,
)

User = get_user_model()
PASSWORD = "a-long-pass-phrase"
HERE, THERE = "203.0.113.5", "198.51.100.7"


def client_at(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def open_signup(**fields) -> None:
    SiteSettings.objects.update_or_create(pk=1, defaults={"signup_enabled": True, **fields})


def sign_up(client: Client, username: str = "erin", query: str = "", **data):
    form = {"username": username, "email": "", "password1": PASSWORD, "password2": PASSWORD}
    return client.post(f"/signup/{query}", form | data)


def log_in(client: Client, username: str, password: str, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password})


# --- Sign-up ------------------------------------------------------------------------------------


def test_sign_up_is_closed_on_a_fresh_site(client, db):
    assert client.get("/signup/").status_code == 403
    response = sign_up(client)
    assert response.status_code == 403 and "Sign-up is closed" in response.content.decode()
    assert not User.objects.filter(username="erin").exists()
    assert "Create an account" not in client.get("/login/").content.decode()


def test_an_admin_opens_sign_up_under_site_settings(client, db):
    open_signup()
    assert "Create an account" in client.get("/login/").content.decode()
    response = sign_up(client)
    assert response.status_code == 302
    assert personal_team(response.wsgi_request.user).name == "erin"


def test_new_accounts_get_the_sites_budget_for_new_people(client, db):
    User.objects.create_user("before", password=PASSWORD)  # made while none was set
    open_signup(new_user_images_per_day=20, new_user_usd_per_month=Decimal("5.00"))
    sign_up(client)
    budget = Budget.objects.get()  # nothing for accounts made before, nor for any team
    assert budget.user == User.objects.get(username="erin")
    assert (budget.images_per_day, budget.usd_per_month) == (20, Decimal("5.00"))


def test_a_new_accounts_budget_follows_them_into_a_team_they_make(client, db):
    """It was written as their personal team's budget: a team of their own escaped it."""
    open_signup(new_user_images_per_day=0)
    sign_up(client)
    client.post("/teams/", {"name": "Side project"})  # switches to it
    response = client.post("/generate", {"model": "sandbox/flux-sync", "prompt": "a fox"})
    assert response.status_code == 403
    assert "You have made 0 of 0 images allowed today" in response.content.decode()
    assert not Generation.objects.exists()


def test_sign_up_is_limited_per_address(settings, db):
    settings.SIGNUP_RATE = (2, 3600)
    open_signup()
    here = client_at(HERE)
    codes = [sign_up(here, f"user{i}").status_code for i in range(3)]
    assert codes == [302, 302, 429]
    response = sign_up(here, "user9")
    assert "Too many sign-ups from here. Try again in" in response.content.decode()
    assert sign_up(client_at(THERE), "other").status_code == 302
    assert not User.objects.filter(username__in=["user2", "user9"]).exists()


def test_all_four_password_validators_are_on(client, db):
    names = {type(v).__name__ for v in password_validation.get_default_password_validators()}
    assert names == {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }
    open_signup()
    numeric = sign_up(client, password1="8301947265", password2="8301947265")
    assert "entirely numeric" in numeric.content.decode()
    similar = sign_up(client, "fernando", password1="fernando1", password2="fernando1")
    assert "too similar to the username" in similar.content.decode()
    assert not User.objects.filter(username__in=["erin", "fernando"]).exists()


# --- Sign-up through an invitation ------------------------------------------------------------


def invitation(team: Team, **fields) -> Invitation:
    fields.setdefault("expires_at", timezone.now() + timezone.timedelta(days=7))
    fields.setdefault("role", "viewer")
    return Invitation.objects.create(team=team, token=f"tok-{Invitation.objects.count()}", **fields)


def test_an_invitation_lets_someone_sign_up_while_sign_up_is_closed(client, studio):
    invite = invitation(studio)
    page = client.get(f"/invitations/{invite.token}").content.decode()
    assert f"/signup/?invitation={invite.token}" in page
    assert client.get(f"/signup/?invitation={invite.token}").status_code == 200
    response = sign_up(client, "erin", f"?invitation={invite.token}", email="erin@example.com")
    assert response.status_code == 302
    erin = User.objects.get(username="erin")
    assert studio.role_of(erin) == "viewer" and erin.email == "erin@example.com"
    invite.refresh_from_db()
    assert invite.accepted_by == erin
    assert client.session["team"] == str(studio.uuid)
    # Used once: it opens sign-up for no one else.
    client.logout()
    assert sign_up(client, "frank", f"?invitation={invite.token}").status_code == 410
    assert not User.objects.filter(username="frank").exists()


def test_signing_up_through_an_emailed_invitation_gives_the_account_its_address(client, studio):
    invite = invitation(studio, email="Erin@Example.com")
    page = client.get(f"/signup/?invitation={invite.token}").content.decode()
    assert 'name="email"' not in page and "Erin@Example.com" in page
    sign_up(client, "erin", f"?invitation={invite.token}", email="someone-else@example.com")
    erin = User.objects.get(username="erin")
    assert erin.email.lower() == "erin@example.com" and studio.role_of(erin) == "viewer"


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"revoked_at": timezone.now()}, "was revoked"),
        ({"accepted_at": timezone.now()}, "was already used"),
        ({"expires_at": timezone.now() - timezone.timedelta(minutes=1)}, "expired on"),
    ],
)
def test_an_invitation_that_no_longer_works_opens_no_sign_up(client, studio, change, reason):
    invite = invitation(studio)
    Invitation.objects.filter(pk=invite.pk).update(**change)
    response = sign_up(client, "erin", f"?invitation={invite.token}")
    assert response.status_code == 410 and reason in response.content.decode()
    assert not User.objects.filter(username="erin").exists()
    unknown = client.get("/signup/?invitation=nope")
    assert unknown.status_code == 410 and "not valid" in unknown.content.decode()


def test_an_invitation_revoked_while_the_form_was_open_keeps_no_account(client, studio):
    invite = invitation(studio)
    assert client.get(f"/signup/?invitation={invite.token}").status_code == 200
    Invitation.objects.filter(pk=invite.pk).update(revoked_at=timezone.now())
    response = sign_up(client, "erin", f"?invitation={invite.token}")
    assert response.status_code == 410 and "was revoked" in response.content.decode()
    assert not User.objects.filter(username="erin").exists()
    assert not Team.objects.filter(name="erin").exists()


def test_an_invitation_added_in_the_admin_gets_a_secret_token_shown_once(client, studio):
    """The admin's form left the token out, so the invitation was saved with token=""."""
    client.force_login(User.objects.create_superuser("root", "", PASSWORD))
    expires = timezone.localtime() + timezone.timedelta(days=7)
    form = {
        "team": studio.pk,
        "email": "",
        "role": "owner",
        "expires_at_0": f"{expires:%Y-%m-%d}",
        "expires_at_1": f"{expires:%H:%M:%S}",
    }
    response = client.post("/admin/gallery/invitation/add/", form, follow=True)
    invite = Invitation.objects.get()
    assert len(invite.token) >= 32 and invite.created_by.username == "root"
    assert f"/invitations/{invite.token}" in response.content.decode()
    client.logout()
    assert sign_up(client, "mallory", "?invitation=").status_code == 403
    assert sign_up(client, "erin", f"?invitation={invite.token}").status_code == 302
    assert studio.role_of(User.objects.get(username="erin")) == "owner"


def test_an_empty_invitation_token_is_no_invitation(client, studio):
    """One saved by the admin before it made tokens: ?invitation= (empty) found it."""
    made = invitation(studio, role="owner")
    Invitation.objects.filter(pk=made.pk).update(token="")
    response = sign_up(client, "mallory", "?invitation=")
    assert response.status_code == 403 and "Sign-up is closed" in response.content.decode()
    assert not User.objects.filter(username="mallory").exists()


# --- Login throttling ---------------------------------------------------------------------------


@pytest.fixture
def strict(settings):
    settings.LOGIN_RATE = (3, 300)
    settings.LOGIN_ADDRESS_RATE = (5, 300)
    return settings


def test_failed_logins_are_limited_per_username_and_address(strict, alice):
    here = client_at(HERE)
    codes = [log_in(here, "alice", "wrong").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    refused = log_in(here, "alice", "password")  # refused before the password is checked
    assert refused.status_code == 429
    assert "Too many failed logins from here. Try again in" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 300


def test_look_alike_usernames_count_as_the_username_they_log_in_as(strict, alice):
    """Django logs "alice" in full-width letters in as alice, and counted the failure for
    "alice", but the check before the password looked up the counter of what was typed."""
    full_width = "\uff41\uff4c\uff49\uff43\uff45"
    here = client_at(HERE)
    for name in (full_width, "ALICE", " \uff41lice"):
        assert log_in(here, name, "wrong").status_code == 200
    assert log_in(here, full_width, "password").status_code == 429
    assert log_in(here, "alice", "password").status_code == 429


def test_someone_guessing_elsewhere_does_not_lock_the_owner_out(strict, alice):
    for _ in range(6):
        log_in(client_at(HERE), "alice", "wrong")
    assert log_in(client_at(HERE), "alice", "password").status_code == 429
    assert log_in(client_at(THERE), "alice", "password").status_code == 302


def test_successful_logins_never_count(strict, alice):
    here = client_at(HERE)
    for _ in range(6):
        assert log_in(here, "alice", "password").status_code == 302
        here.post("/logout/")


def test_a_successful_login_forgets_the_failures_before_it(strict, alice):
    here = client_at(HERE)
    for _ in range(2):
        log_in(here, "alice", "wrong")
    assert log_in(here, "alice", "password").status_code == 302
    here.post("/logout/")
    for _ in range(2):
        assert log_in(here, "alice", "wrong").status_code == 200
    assert log_in(here, "alice", "password").status_code == 302


def test_an_address_trying_many_usernames_is_held_by_its_own_higher_limit(strict, alice, bob):
    here = client_at(HERE)
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert log_in(here, name, "wrong").status_code == 200
    assert log_in(here, "bob", "password").status_code == 429
    assert log_in(client_at(THERE), "bob", "password").status_code == 302


def test_behind_a_proxy_each_client_has_its_own_counters(strict, alice):
    strict.PROXY_HOPS = 1
    proxy = "10.0.0.2"
    for _ in range(3):
        Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=HERE).post(
            "/login/", {"username": "alice", "password": "wrong"}
        )
    from_here = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{THERE}, {HERE}")
    assert log_in(from_here, "alice", "password").status_code == 429  # a made-up entry is ignored
    from_there = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=THERE)
    assert log_in(from_there, "alice", "password").status_code == 302


def test_without_a_proxy_a_forwarded_header_changes_nothing(strict, alice):
    for i in range(3):
        Client(REMOTE_ADDR=HERE, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").post(
            "/login/", {"username": "alice", "password": "wrong"}
        )
    dodging = Client(REMOTE_ADDR=HERE, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert log_in(dodging, "alice", "password").status_code == 429


def test_the_admin_login_is_throttled_as_login_is(strict, db):
    User.objects.create_superuser("root", "", "right-password")
    here = client_at(HERE)
    assert log_in(here, "root", "wrong", "/admin/login/").status_code == 200
    assert log_in(here, "root", "wrong", "/login/").status_code == 200  # the same counters
    assert log_in(here, "root", "wrong", "/admin/login/").status_code == 200
    refused = log_in(here, "root", "right-password", "/admin/login/")
    assert refused.status_code == 429
    assert "Too many failed logins from here. Try again in" in refused.content.decode()
    assert "Retry-After" in refused
    there = client_at(THERE)
    assert log_in(there, "root", "right-password", "/admin/login/").status_code == 302
    assert there.get("/admin/").status_code == 200


# --- Password reset ----------------------------------------------------------------------------


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


# --- The generated admin password --------------------------------------------------------------


def test_a_generated_admin_password_is_printed_once_and_kept_until_the_first_login(
    settings, tmp_path, monkeypatch, capsys, alice
):
    settings.VAR_DIR = tmp_path
    settings.ADMIN_USERNAME = "admin"
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    password = (tmp_path / "admin_password").read_text().strip()
    assert f"password {password}" in capsys.readouterr().out
    assert stat.S_IMODE(os.stat(tmp_path / "admin_password").st_mode) == 0o600
    call_command("ensure_admin")  # a second run prints nothing secret
    assert password not in capsys.readouterr().out
    assert log_in(Client(), "alice", "password").status_code == 302
    assert (tmp_path / "admin_password").exists()  # someone else's login leaves it
    assert log_in(Client(), "admin", "wrong").status_code == 200
    assert (tmp_path / "admin_password").exists()
    assert log_in(Client(), "admin", password, "/admin/login/").status_code == 302
    assert not (tmp_path / "admin_password").exists()
    assert Membership.objects.filter(user__username="admin").exists()


# --- Upgrading a site ---------------------------------------------------------------------------

close_signup_nobody_chose = importlib.import_module(
    "gallery.migrations.0017_signup_closed_site_cap"
).close_signup_nobody_chose


def test_upgrading_closes_a_sign_up_that_is_open_only_by_the_old_default(db):
    SiteSettings.objects.create(pk=1, signup_enabled=True)  # made on first use, never edited
    close_signup_nobody_chose(apps, None)
    assert not SiteSettings.load().signup_enabled


def test_upgrading_keeps_the_choice_of_an_admin_who_saved_site_settings(db):
    site = SiteSettings.objects.create(pk=1, signup_enabled=True)
    admin = User.objects.create_superuser("root", "", "pw")
    LogEntry.objects.log_actions(
        admin.pk, [site], CHANGE, change_message="Changed Sign-up open to anyone."
    )
    close_signup_nobody_chose(apps, None)
    assert SiteSettings.load().signup_enabled
