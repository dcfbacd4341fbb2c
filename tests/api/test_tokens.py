"""API tokens: made on the person's settings page (shown once, stored hashed), listed with
their last use, revoked; and by `manage.py create_api_token`."""

import hashlib
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from gallery.api.models import USED_EVERY
from gallery.models import ApiToken, Usage, personal_team

TOKEN = re.compile(r"atl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def create(client, **data):
    return client.post("/settings/api-tokens/", {"expires": "30", **data})


def test_it_shows_a_new_token_once_and_keeps_only_its_digest(client, alice, studio):
    client.force_login(alice)
    response = create(client, name="nightly batch", team=str(studio.uuid))
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    shown = TOKEN.findall(response.content.decode())
    assert len(shown) == 1
    token = ApiToken.objects.get()
    assert (token.owner, token.team, token.name, token.read_only) == (
        alice,
        studio,
        "nightly batch",
        False,
    )
    secret = shown[0].split("_", 2)[2]
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    # Never again: the list shows only the prefix.
    page = client.get("/settings/api-tokens/").content.decode()
    assert not TOKEN.search(page)
    assert f"atl_{token.prefix}_…" in page
    assert ApiToken.find(shown[0]) == token
    assert ApiToken.find(shown[0][:-1] + "x") is None


def test_it_makes_read_only_and_never_expiring_tokens(client, alice, studio):
    client.force_login(alice)
    create(client, name="reader", team=str(studio.uuid), read_only="on", expires="")
    token = ApiToken.objects.get()
    assert token.read_only and token.expires_at is None


def test_it_offers_only_the_persons_own_teams(client, dave, studio):
    client.force_login(dave)
    response = create(client, name="sneaky", team=str(studio.uuid))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_refuses_a_name_with_a_line_break(client, alice, studio):
    client.force_login(alice)
    response = create(client, name="a\nb", team=str(studio.uuid))
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_it_limits_how_many_tokens_a_person_makes(client, alice, studio, settings):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "api_token": (2, 3600)}
    client.force_login(alice)
    for _ in range(2):
        assert create(client, name="x", team=str(studio.uuid)).status_code == 201
    response = create(client, name="x", team=str(studio.uuid))
    assert response.status_code == 429
    assert "more than 2 new API tokens in" in response.content.decode()
    assert ApiToken.objects.count() == 2


def test_it_lists_last_use_and_revokes(client, alice, studio):
    token, _ = ApiToken.issue(alice, studio, "laptop")
    client.force_login(alice)
    assert "never" in client.get("/settings/api-tokens/").content.decode()
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(hours=2))
    assert "2\xa0hours ago" in client.get("/settings/api-tokens/").content.decode()
    response = client.post(f"/settings/api-tokens/{token.uuid}/revoke")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.state == "revoked"


def test_nobody_else_can_revoke_a_token(client, alice, bob, studio):
    token, _ = ApiToken.issue(alice, studio, "laptop")
    client.force_login(bob)
    assert client.post(f"/settings/api-tokens/{token.uuid}/revoke").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_needs_a_login_and_csrf(alice, studio):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get("/settings/api-tokens/").status_code == 302
    strict.force_login(alice)
    response = strict.post("/settings/api-tokens/", {"name": "x", "team": str(studio.uuid)})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_the_account_menu_links_to_the_page(client, alice):
    client.force_login(alice)
    assert 'href="/settings/api-tokens/"' in client.get("/").content.decode()


def test_last_use_is_written_at_most_once_a_minute(alice, studio):
    token, _ = ApiToken.issue(alice, studio, "laptop")
    token.mark_used()
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    ApiToken.objects.get(pk=token.pk).mark_used()
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - USED_EVERY)
    ApiToken.objects.get(pk=token.pk).mark_used()
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def command(*args) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_prints_a_token_for_the_personal_space(alice):
    text = command("alice", "--name", "ci")
    assert TOKEN.fullmatch(text)
    token = ApiToken.find(text)
    assert token is not None
    assert (token.owner, token.team, token.name) == (alice, personal_team(alice), "ci")


@pytest.mark.parametrize("by", ["name", "uuid"])
def test_the_command_takes_a_team_by_name_or_uuid(alice, studio, by):
    text = command("alice", "--team", str(getattr(studio, by)), "--name", "ci", "--read-only")
    token = ApiToken.find(text)
    assert token is not None and token.team == studio and token.read_only


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nobody", "--name", "ci"], "There is no user named 'nobody'."),
        (["dave", "--team", "Studio", "--name", "ci"], "dave is in no team 'Studio'."),
        (["alice", "--name", "ci", "--days", "0"], "--days must be 1 or more."),
        (["alice", "--name", " "], "--name must be 1 to 100 characters."),
    ],
)
def test_the_command_says_what_is_wrong(studio, args, error):
    with pytest.raises(CommandError, match=re.escape(error)):
        command(*args)
    assert not ApiToken.objects.exists()


def test_the_page_shows_what_each_token_used_this_month(client, alice, studio):
    token, _ = ApiToken.issue(alice, studio, "batch")
    other, _ = ApiToken.issue(alice, studio, "idle")
    for images, cost, when in ((2, "0.50", timezone.now()), (3, "1.25", timezone.now())):
        make_usage(alice, studio, token, images, cost, when)
    make_usage(alice, studio, token, 7, "9.00", timezone.now() - timedelta(days=40))
    make_usage(alice, studio, None, 4, "3.00", timezone.now())  # from a page
    client.force_login(alice)
    tokens = {t.name: t for t in client.get("/settings/api-tokens/").context["tokens"]}
    assert (tokens["batch"].images_used, tokens["batch"].usd_used) == (5, Decimal("1.75"))
    assert (tokens["idle"].images_used, tokens["idle"].usd_used) == (0, Decimal(0))
    assert other.pk == tokens["idle"].pk


def make_usage(user, team, token, images, cost, when):
    Usage.objects.create(
        user=user,
        team=team,
        user_name=user.username,
        team_name=team.name,
        api_token=token,
        api_token_name=token.name if token else "",
        provider="aimlapi",
        model_id="x",
        created_at=when,
        images=images,
        cost_usd=Decimal(cost),
        cost_source="estimated",
    )
