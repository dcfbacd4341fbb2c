"""Bearer tokens on the REST API: bad, revoked and expired ones get 401 with a JSON error; a
token acts with its owner's role in its team as it is at each request."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import ApiToken, Membership


def test_it_answers_a_missing_or_bad_token_with_401_json(call, tokens):
    for token in (None, "nonsense", tokens["alice"][:-2] + "zz", "atl_00_x"):
        response = call(token, "get", "/galleries")
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/json")
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in response.json()["detail"]


def test_it_ignores_a_logged_in_session(client, alice, call, tokens):
    client.force_login(alice)
    assert call(None, "get", "/galleries").status_code == 401


def test_a_revoked_token_stops_working(call, tokens):
    assert call(tokens["alice"], "get", "/galleries").status_code == 200
    ApiToken.find(tokens["alice"]).revoke()
    response = call(tokens["alice"], "get", "/galleries")
    assert response.status_code == 401
    assert response.json() == {"detail": "This API token was revoked."}


def test_a_token_revoked_in_the_ui_stops_working(client, alice, call, tokens):
    token = ApiToken.find(tokens["alice"])
    client.force_login(alice)
    client.post(f"/settings/api-tokens/{token.uuid}/revoke")
    client.logout()
    assert call(tokens["alice"], "get", "/galleries").status_code == 401


def test_an_expired_token_stops_working(call, tokens):
    token = ApiToken.find(tokens["bob"])
    token.expires_at = timezone.now() + timedelta(seconds=60)
    token.save()
    assert call(tokens["bob"], "get", "/galleries").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    response = call(tokens["bob"], "get", "/galleries")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This API token expired on ")


def test_leaving_the_team_kills_the_token(call, tokens, bob, studio):
    Membership.objects.filter(team=studio, user=bob).delete()
    response = call(tokens["bob"], "get", "/galleries")
    assert response.status_code == 401
    assert "no longer in the team Studio" in response.json()["detail"]


def test_a_deactivated_account_cannot_use_its_tokens(call, tokens, bob):
    bob.is_active = False
    bob.save()
    assert call(tokens["bob"], "get", "/galleries").status_code == 401


def test_it_uses_the_current_role_not_the_one_at_creation(call, tokens, bob, studio):
    assert call(tokens["bob"], "post", "/galleries", {"name": "B"}).status_code == 201
    Membership.objects.filter(team=studio, user=bob).update(role="viewer")
    response = call(tokens["bob"], "post", "/galleries", {"name": "C"})
    assert response.status_code == 403
    assert "a viewer can look, not change anything" in response.json()["detail"]


@pytest.mark.parametrize("persona", ["readonly", "carol"])
def test_read_only_tokens_and_viewers_read_but_do_not_write(call, tokens, persona):
    assert call(tokens[persona], "get", "/galleries").status_code == 200
    assert call(tokens[persona], "get", "/models").status_code == 200
    response = call(tokens[persona], "post", "/galleries", {"name": "New"})
    assert response.status_code == 403
    expected = "read only" if persona == "readonly" else "viewer"
    assert expected in response.json()["detail"]


def test_it_notes_the_last_use(call, tokens):
    token = ApiToken.find(tokens["alice"])
    assert token.last_used_at is None
    call(tokens["alice"], "get", "/galleries")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_openapi_document_and_docs_are_served(client):
    document = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/generations", "/api/v1/images/{image_uuid}/file"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    assert "/static/ninja/swagger-ui-bundle.js" in docs.content.decode()
