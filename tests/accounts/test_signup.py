"""Sign-up: closed unless an admin opens it or an invitation allows it; limits; new accounts."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model, password_validation
from django.test import Client
from django.utils import timezone

from gallery.models import Budget, Generation, Invitation, SiteSettings, Team, personal_team
from tests.factories import client_at, make_invitation

User = get_user_model()
PASSWORD = "a-long-pass-phrase"
HERE, THERE = "203.0.113.5", "198.51.100.7"


def open_signup(**fields) -> None:
    SiteSettings.objects.update_or_create(pk=1, defaults={"signup_enabled": True, **fields})


def sign_up(client: Client, username: str = "erin", query: str = "", **data):
    form = {"username": username, "email": "", "password1": PASSWORD, "password2": PASSWORD}
    return client.post(f"/signup/{query}", form | data)


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


def test_an_invitation_lets_someone_sign_up_while_sign_up_is_closed(client, studio):
    invite = make_invitation(studio, role="viewer")
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
    invite = make_invitation(studio, role="viewer", email="Erin@Example.com")
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
    invite = make_invitation(studio, role="viewer")
    Invitation.objects.filter(pk=invite.pk).update(**change)
    response = sign_up(client, "erin", f"?invitation={invite.token}")
    assert response.status_code == 410 and reason in response.content.decode()
    assert not User.objects.filter(username="erin").exists()
    unknown = client.get("/signup/?invitation=nope")
    assert unknown.status_code == 410 and "not valid" in unknown.content.decode()


def test_an_invitation_revoked_while_the_form_was_open_keeps_no_account(client, studio):
    invite = make_invitation(studio, role="viewer")
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
    made = make_invitation(studio, role="owner")
    Invitation.objects.filter(pk=made.pk).update(token="")
    response = sign_up(client, "mallory", "?invitation=")
    assert response.status_code == 403 and "Sign-up is closed" in response.content.decode()
    assert not User.objects.filter(username="mallory").exists()


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
