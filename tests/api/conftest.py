import json as jsonlib

import pytest

from gallery.models import ApiToken, Team


@pytest.fixture
def tokens(studio, alice, bob, carol, dave) -> dict[str, str]:
    """A token for each persona in the Studio (dave's acts in his own team), and alice's
    read-only one."""
    daves = Team.objects.get(name="Dave's team")
    return {
        "alice": ApiToken.issue(alice, studio, "alice's script")[1],
        "bob": ApiToken.issue(bob, studio, "bob's script")[1],
        "carol": ApiToken.issue(carol, studio, "carol's script")[1],
        "dave": ApiToken.issue(dave, daves, "dave's script")[1],
        "readonly": ApiToken.issue(alice, studio, "reader", read_only=True)[1],
    }


@pytest.fixture
def call(client):
    """call(token, method, path, json=None, **query): a request to /api/v1 with the token."""

    def send(token: str | None, method: str, path: str, json=None, **query):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"/api/v1{path}"
        if method == "get":
            return client.get(url, query, headers=headers)
        body = "" if json is None else jsonlib.dumps(json)
        return getattr(client, method)(url, body, content_type="application/json", headers=headers)

    return send
