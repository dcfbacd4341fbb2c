"""Single sign-on without a browser: what is off when unconfigured, accounts made just in time,
group sync, OIDC_ONLY and the settings' checks. The whole flow, against a real provider, is in
tests/e2e/test_sso_browser.py."""

import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation

from gallery.accounts import sso
from gallery.accounts.sso_accounts import Refused, account_for, unique_username
from gallery.accounts.sso_sync import sync_memberships
from gallery.models import Activity, GroupMapping, Membership, SsoIdentity, Team
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.fixture
def configured(settings):
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_CLIENT_ID = "atelier"
    settings.OIDC_CLIENT_SECRET = "secret"
    return settings


@pytest.fixture
def mapped(studio):
    """studio-leads own the Studio, studio-team edit it, everyone views it."""
    GroupMapping.objects.create(group="studio-leads", team=studio, role="owner")
    GroupMapping.objects.create(group="studio-team", team=studio, role="editor")
    GroupMapping.objects.create(group="everyone", team=studio, role="viewer")
    return studio


def member(user, team) -> tuple[str, str] | None:
    membership = Membership.objects.filter(user=user, team=team).first()
    return (membership.role, membership.source) if membership else None


# Off unless configured


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/oidc/authenticate/", "/oidc/callback/?code=x&state=y"])
def test_the_routes_are_not_found_while_oidc_issuer_is_unset(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_the_login_page_offers_sso_only_when_configured(client, settings):
    assert "Sign in with SSO" not in client.get("/login/").text
    settings.OIDC_ISSUER = ISSUER
    assert "Sign in with SSO" in client.get("/login/?next=/teams/").text
    assert 'href="/oidc/authenticate/?next=/teams/"' in client.get("/login/?next=/teams/").text


@pytest.mark.django_db
def test_an_unreachable_provider_is_said_in_words(client, configured):
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 503
    assert "sign-in service cannot be reached" in response.text


@pytest.mark.django_db
def test_logins_started_from_one_address_are_limited(client, configured):
    configured.SSO_RATE = (2, 60)
    assert [client.get("/oidc/authenticate/").status_code for _ in range(3)] == [503, 503, 429]
    assert "Too many sign-ins from here" in client.get("/oidc/authenticate/").text


@pytest.mark.django_db
def test_a_callback_without_a_login_started_is_refused(client, configured):
    response = client.get("/oidc/callback/?code=x&state=y")
    assert response.status_code == 403
    assert "did not log you in" in response.text
    assert "_auth_user_id" not in client.session


# ID tokens (the signing key is made here; its JWKS lookup is the one seam replaced)


@pytest.fixture
def sign(configured, monkeypatch):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    monkeypatch.setitem(sso._discovered, ISSUER, (time.monotonic() + 60, {"issuer": ISSUER}))
    monkeypatch.setattr(sso.Backend, "retrieve_matching_jwk", lambda self, token: jwt.PyJWK(jwk))

    def signed(**claims) -> str:
        base = {"iss": ISSUER, "aud": "atelier", "sub": "s", "nonce": "n", "exp": time.time() + 60}
        return jwt.encode(base | claims, key, algorithm="RS256", headers={"kid": "k"})

    return signed


def test_an_id_token_for_this_client_from_the_issuer_is_accepted(sign):
    assert sso.Backend().verify_token(sign(), nonce="n")["sub"] == "s"
    token = sign(aud=["atelier", "api"], azp="atelier")
    assert sso.Backend().verify_token(token, nonce="n")["sub"] == "s"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "http://127.0.0.1:9/other"},
        {"aud": "another-client"},
        {"aud": ["atelier", "api"], "azp": "api"},
        {"nonce": "replayed"},
        {"exp": time.time() - 600},
    ],
    ids=["issuer", "audience", "authorised-party", "nonce", "expired"],
)
def test_an_id_token_for_someone_else_is_refused(sign, claims):
    with pytest.raises((SuspiciousOperation, jwt.ExpiredSignatureError)):
        sso.Backend().verify_token(sign(**claims), nonce="n")


def test_a_token_signed_with_the_client_secret_is_refused(sign, configured):
    forged = jwt.encode({"iss": ISSUER, "aud": "atelier", "sub": "s", "nonce": "n"}, "secret" * 6)
    with pytest.raises(SuspiciousOperation, match="algorithm"):
        sso.Backend().verify_token(forged, nonce="n")


# Accounts


def test_a_first_login_makes_an_account_with_its_personal_team(db):
    claims = {"sub": "s1", "preferred_username": "Erin Smith", "email": "e@example.com"}
    user, _changes = account_for(ISSUER, claims)
    assert user.username == "Erin.Smith"
    assert user.email == ""  # not verified: not kept
    assert not user.has_usable_password()
    assert Team.objects.filter(personal=True, memberships__user=user).count() == 1
    assert account_for(ISSUER, claims)[0] == user


def test_an_account_is_matched_by_a_verified_email_only(alice):
    unverified = {"sub": "s1", "email": "ALICE@example.com", "email_verified": False}
    assert account_for(ISSUER, unverified)[0] != alice
    verified = {"sub": "s2", "email": "ALICE@example.com", "email_verified": True}
    assert account_for(ISSUER, verified)[0] == alice
    # The link, not the address, finds the account next time.
    alice.email = "alice@elsewhere.example"
    alice.save()
    assert account_for(ISSUER, verified)[0] == alice


def test_an_address_two_accounts_share_is_refused_in_words(alice):
    bob = make_user("bob")
    bob.email = "alice@example.com"
    bob.save()
    with pytest.raises(Refused, match="More than one account"):
        account_for(ISSUER, {"sub": "s", "email": "alice@example.com", "email_verified": True})


def test_an_administrators_account_is_never_taken_over_by_email(alice):
    alice.is_staff = True
    alice.save()
    claims = {"sub": "s", "email": "alice@example.com", "email_verified": True}
    with pytest.raises(Refused, match="administrator account"):
        account_for(ISSUER, claims)
    assert not SsoIdentity.objects.exists()


def test_usernames_are_made_unique(alice):
    assert unique_username("alice") == "alice-2"
    assert unique_username("ALICE") == "ALICE-2"
    assert unique_username("  <b>  ") == "b"
    assert unique_username("") == "user"


# Group sync


def test_groups_give_the_highest_role_they_map_to(mapped, dave):
    assert sync_memberships(dave, ["everyone", "studio-team"]) == ["joined Studio as editor"]
    assert member(dave, mapped) == ("editor", "sso")
    assert Activity.objects.filter(team=mapped, actor=dave, verb="joined").exists()


def test_a_role_follows_the_groups_and_goes_with_them(mapped, dave):
    sync_memberships(dave, ["studio-team"])
    assert sync_memberships(dave, ["studio-leads"]) == ["now owner in Studio"]
    assert member(dave, mapped) == ("owner", "sso")
    assert sync_memberships(dave, ["unmapped"]) == ["left Studio"]
    assert member(dave, mapped) is None


def test_a_missing_groups_claim_changes_nothing(mapped, dave):
    sync_memberships(dave, ["studio-team"])
    account_for(ISSUER, {"sub": "d", "email": "dave@example.com", "email_verified": True})
    assert member(dave, mapped) == ("editor", "sso")
    account_for(ISSUER, {"sub": "d", "groups": []})
    assert member(dave, mapped) is None


def test_memberships_given_by_hand_are_kept(mapped, bob, carol):
    assert sync_memberships(bob, ["studio-leads"]) == []
    assert sync_memberships(carol, []) == []
    assert member(bob, mapped) == ("editor", "manual")
    assert member(carol, mapped) == ("viewer", "manual")


def test_a_role_an_owner_changes_by_hand_becomes_manual(mapped, alice, dave, client):
    sync_memberships(dave, ["studio-team"])
    client.force_login(alice)
    membership = Membership.objects.get(team=mapped, user=dave)
    client.post(f"/teams/{mapped.uuid}/members/{membership.pk}/role", {"role": "viewer"})
    assert member(dave, mapped) == ("viewer", "manual")
    assert sync_memberships(dave, []) == []


def test_the_last_owner_is_kept_and_the_feed_says_so(mapped, alice, dave, caplog):
    sync_memberships(dave, ["studio-leads"])
    Membership.objects.filter(team=mapped, user=alice).delete()
    assert sync_memberships(dave, ["studio-team"]) == ["kept as the last owner of Studio"]
    assert sync_memberships(dave, []) == ["kept as the last owner of Studio"]
    assert member(dave, mapped) == ("owner", "sso")
    entry = Activity.objects.filter(team=mapped, verb="sso").first()
    assert "kept as the team's last owner" in entry.summary
    assert "kept as the team's last owner" in caplog.text


def test_another_owner_lets_a_sync_remove_an_owner(mapped, alice, dave):
    sync_memberships(dave, ["studio-leads"])
    assert sync_memberships(dave, []) == ["left Studio"]


def test_personal_teams_cannot_be_mapped(alice):
    personal = Team.objects.get(personal=True, memberships__user=alice)
    mapping = GroupMapping(group="x", team=personal, role="owner")
    with pytest.raises(Exception, match="personal space"):
        mapping.full_clean()


def test_the_admin_maps_groups(admin_client, studio):
    response = admin_client.post(
        "/admin/gallery/groupmapping/add/",
        {"group": "designers", "team": studio.pk, "role": "editor"},
    )
    assert response.status_code == 302
    assert GroupMapping.objects.get(group="designers").team == studio


# OIDC_ONLY


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_oidc_only_refuses_passwords_but_for_superusers(client, configured, path):
    configured.OIDC_ONLY = True
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    get_user_model().objects.create_superuser("root", "root@example.com", "password")
    response = client.post(path, {"username": "staff", "password": "password"})
    assert response.status_code == 200
    assert "Password login is for site administrators only" in response.text
    assert "_auth_user_id" not in client.session
    response = client.post(path, {"username": "root", "password": "password"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_without_oidc_only_passwords_work(client, configured):
    make_user("bob")
    assert client.post("/login/", {"username": "bob", "password": "password"}).status_code == 302


def check(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VAR_DIR": str(tmp_path)}
    command = [sys.executable, "manage.py", "check"]
    return subprocess.run(
        command, cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"OIDC_ONLY": "1"}, "OIDC_ONLY=1 turns password logins off: set OIDC_ISSUER too"),
        ({"OIDC_ISSUER": "https://idp.example"}, "set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
        ({"OIDC_ISSUER": "idp.example", "OIDC_CLIENT_ID": "a"}, "must be an http(s) URL"),
    ],
)
def test_bad_sso_settings_stop_the_start(env, said, tmp_path):
    result = check(env, tmp_path)
    assert result.returncode != 0
    assert said in result.stderr
