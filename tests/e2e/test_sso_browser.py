"""Single sign-on in Chromium against a real OpenID Connect provider (npm oidc-provider).

The provider's development login page takes any password; the accounts and their groups are
what `sso.set_account` wrote last (tests/e2e/oidc.py).
"""

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from gallery.models import GroupMapping, Membership, Team
from tests.factories import make_user

pytestmark = pytest.mark.browser


def sign_in(page, live_server, login: str) -> None:
    """From the login page through the provider; its login form only while it has no session."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.wait_for_url(lambda url: "/interaction/" in url or url == f"{live_server.url}/")
    if "/interaction/" in page.url:
        page.locator("input[name=login]").fill(login)
        page.locator("input[name=password]").fill("anything")
        page.get_by_role("button", name="Sign-in").click()
    page.wait_for_url(f"{live_server.url}/")


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Atelier")).to_be_visible()


def roles(username: str) -> dict[str, tuple[str, str]]:
    memberships = Membership.objects.filter(user__username=username, team__personal=False)
    return {m.team.name: (m.role, m.source) for m in memberships.select_related("team")}


def test_first_login_then_a_role_change_then_a_group_gone(sso, live_server, alice, page):
    studio, design = Team.objects.create(name="Studio"), Team.objects.create(name="Design")
    Membership.objects.create(team=studio, user=alice, role="owner")
    GroupMapping.objects.create(group="studio-editors", team=studio, role="editor")
    GroupMapping.objects.create(group="studio-leads", team=studio, role="owner")
    GroupMapping.objects.create(group="design", team=design, role="viewer")
    sso.set_account(
        "erin-at-idp",
        email="erin@example.com",
        email_verified=True,
        preferred_username="erin",
        groups=["studio-editors", "design", "unmapped"],
    )

    sign_in(page, live_server, "erin-at-idp")
    expect(page.get_by_role("status")).to_contain_text("joined Studio as editor")
    erin = get_user_model().objects.get(username="erin")
    assert erin.email == "erin@example.com" and not erin.has_usable_password()
    assert Team.objects.filter(personal=True, memberships__user=erin).count() == 1
    assert roles("erin") == {"Studio": ("editor", "sso"), "Design": ("viewer", "sso")}

    sso.set_account(
        "erin-at-idp", email="erin@example.com", email_verified=True, groups=["studio-leads"]
    )
    log_out(page)
    sign_in(page, live_server, "erin-at-idp")
    assert roles("erin") == {"Studio": ("owner", "sso")}
    assert get_user_model().objects.filter(email="erin@example.com").count() == 1

    sso.set_account("erin-at-idp", email="erin@example.com", email_verified=True, groups=[])
    log_out(page)
    sign_in(page, live_server, "erin-at-idp")
    assert roles("erin") == {}
    assert roles("alice") == {"Studio": ("owner", "manual")}


def test_an_existing_account_is_used_only_for_a_verified_address(sso, live_server, browser):
    frank = make_user("frank")
    sso.set_account("frank-at-idp", email="frank@example.com", email_verified=True)
    sso.set_account("mallory", email="frank@example.com", email_verified=False)
    for login in ("frank-at-idp", "mallory"):
        context = browser.new_context()
        sign_in(context.new_page(), live_server, login)
        context.close()
    assert frank.sso_identities.get().subject == "frank-at-idp"
    mallory = get_user_model().objects.get(sso_identities__subject="mallory")
    assert mallory != frank and mallory.email == ""


def tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize("field", ["state", "nonce"])
def test_a_tampered_state_or_nonce_is_refused(sso, live_server, page, field):
    """The authorization request is caught on its way to the provider and sent on changed."""
    sso.set_account("erin-at-idp", email="erin@example.com", email_verified=True)
    to_provider = f"{sso.issuer}/auth?"
    page.route(lambda url: url.startswith(to_provider), lambda route: route.abort())
    page.goto(f"{live_server.url}/login/")
    with page.expect_request(lambda request: request.url.startswith(to_provider)) as asked:
        page.get_by_role("link", name="Sign in with SSO").click()
    page.unroute_all()
    assert "code_challenge" in asked.value.url
    page.goto(tampered(asked.value.url, **{field: "forged-by-an-attacker"}))
    page.locator("input[name=login]").fill("erin-at-idp")
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()

    expect(page.get_by_role("alert")).to_contain_text("could not be verified, so it was refused")
    assert "/oidc/callback/" in page.url
    assert not get_user_model().objects.filter(username="erin").exists()
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Log in to Atelier")).to_be_visible()


def test_with_oidc_only_passwords_log_in_superusers_only(sso, live_server, settings, page):
    settings.OIDC_ONLY = True
    make_user("bob")
    get_user_model().objects.create_superuser("root", "root@example.com", "password")
    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_text("Password login is for site administrators only.")).to_be_visible()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Password login is for site administrators")

    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
