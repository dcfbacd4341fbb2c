"""The sandbox answers only the worker: the key it derives from SECRET_KEY, checked before anything
is read or drawn. File URLs carry their own signed token instead (the downloader sends no key)."""

import json

import pytest
from django.core import signing

from jobs import connections
from jobs.catalog import MODELS
from jobs.sandbox import auth, draw, views

GENERATIONS = "/sandbox/v1/images/generations"
RELAY = "/sandbox/v2/image/generate"
FLUX = {"model": "sandbox/flux-sync", "prompt": "a fox", "image_size": "square"}


@pytest.fixture(autouse=True)
def sandbox(settings, db):
    settings.SANDBOX_LATENCY = 0
    settings.SANDBOX_ENABLED = True


@pytest.fixture
def drawn(monkeypatch) -> list[tuple]:
    """Every picture the sandbox draws, still drawn."""
    calls: list[tuple] = []
    render = draw.render

    def counting(*args):
        calls.append(args)
        return render(*args)

    monkeypatch.setattr(draw, "render", counting)
    return calls


def post(client, path: str, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json", headers=headers)


def refused(response) -> bool:
    return (
        response.status_code == 401
        and "only this site's worker" in response.json()["error"]["message"]
        and response["WWW-Authenticate"].startswith("Bearer")
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sandbox"},  # what the worker sent before there was a key
        {"Authorization": "Bearer "},
        {"X-API-Key": "not-the-key"},
        {"Authorization": "Basic " + "x" * 64},
    ],
    ids=["none", "old-fixed-key", "empty-bearer", "wrong-x-api-key", "basic"],
)
def test_it_refuses_a_request_without_the_key_and_draws_nothing(client, drawn, headers):
    relay_async = {"prompt": "a fox", "width": 64, "height": 64, "async": True}
    for path, body in ((GENERATIONS, FLUX), (RELAY, relay_async)):
        assert refused(post(client, path, body, **headers))
    assert refused(client.get("/sandbox/v2/tasks/sandbox:anything", headers=headers))
    assert drawn == []


def test_it_checks_the_key_before_reading_the_body(client):
    # Not a JSON body at all: a stranger learns nothing from a 400 about it.
    assert refused(post(client, GENERATIONS, "{"))


def test_it_answers_the_key_as_a_bearer_token_or_as_x_api_key(client, drawn):
    bearer = post(client, GENERATIONS, FLUX, Authorization=f"Bearer {auth.key()}")
    assert bearer.status_code == 200 and len(bearer.json()["images"]) == 1
    relay = {"prompt": "a boat", "width": 64, "height": 64}
    keyed = post(client, RELAY, relay, **{"X-API-Key": auth.key()})
    assert keyed.status_code == 200 and len(keyed.json()["images"]) == 1
    assert len(drawn) == 1  # the Relay picture; fal-style answers with URLs, drawn when fetched


def test_the_key_is_derived_from_the_secret_key(settings):
    first = auth.key()
    assert len(first) == 64 and first == auth.key()
    settings.SECRET_KEY = "another site's secret key, long enough to be a real one"
    assert auth.key() != first


def test_the_worker_sends_the_key(settings):
    connection = connections.connection_for(MODELS["sandbox/flux-sync"])
    assert connection.base_url == settings.SANDBOX_BASE_URL
    assert connection.api_key == auth.key()


def test_a_file_needs_its_signed_token_not_the_key(client, drawn):
    url = post(client, GENERATIONS, FLUX, Authorization=f"Bearer {auth.key()}").json()
    path = url["images"][0]["url"].removeprefix("http://testserver")
    assert client.get(path).status_code == 200  # no key: the downloader sends none
    assert len(drawn) == 1


def test_a_forged_or_expired_file_token_draws_nothing(client, drawn, monkeypatch):
    unsigned = signing.dumps(["a fox", 1, 64, 64, "png"], salt="another salt", compress=True)
    assert client.get(f"/sandbox/files/{unsigned}").status_code == 404
    token = signing.dumps(["a fox", 1, 64, 64, "png"], salt=views.FILE_SALT, compress=True)
    later = signing.time.time() + views.FILE_TOKEN_SECONDS + 1
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert client.get(f"/sandbox/files/{token}").status_code == 404
    assert drawn == []


def test_it_is_gone_when_turned_off_whatever_the_key(client, settings):
    settings.SANDBOX_ENABLED = False
    response = post(client, GENERATIONS, FLUX, Authorization=f"Bearer {auth.key()}")
    assert response.status_code == 404
