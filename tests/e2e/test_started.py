"""The app as an operator starts it answers with its real defaults."""

import secrets

import pytest
from django.utils.crypto import salted_hmac

from jobs.sandbox import auth

pytestmark = pytest.mark.e2e


def test_it_serves_the_login_page(start_app):
    app = start_app()
    with app.client() as client:
        response = client.get("/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.text


SUBMITS = {
    "/sandbox/v1/images/generations": {"model": "sandbox/flux-sync", "prompt": "a fox"},
    "/sandbox/v2/image/generate": {"prompt": "a fox", "width": 64, "height": 64, "async": True},
}


def sandbox_key(secret_key: str) -> str:
    """The key the started app's worker would send: derived from its SECRET_KEY."""
    return salted_hmac(auth.KEY_SALT, "worker", secret=secret_key, algorithm="sha256").hexdigest()


def test_the_sandbox_is_off_by_default(start_app):
    app = start_app()
    with app.client() as client:
        for path, body in SUBMITS.items():
            response = client.post(path, json=body)
            assert response.status_code == 404, path
            assert response.json()["error"]["message"] == "The sandbox provider is off."
        assert client.get("/sandbox/files/anything").status_code == 404


def test_when_on_the_sandbox_answers_only_its_worker(start_app):
    secret_key = secrets.token_urlsafe(40)
    app = start_app({"SANDBOX_ENABLED": "1", "SECRET_KEY": secret_key})
    with app.client() as client:
        for path, body in SUBMITS.items():
            for headers in ({}, {"Authorization": "Bearer sandbox"}, {"X-API-Key": "guess"}):
                response = client.post(path, json=body, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert "only this site's worker" in response.json()["error"]["message"]
                assert not {"images", "data", "task_id"} & set(response.json())
        key = sandbox_key(secret_key)
        flux = client.post(
            "/sandbox/v1/images/generations",
            json=SUBMITS["/sandbox/v1/images/generations"],
            headers={"Authorization": f"Bearer {key}"},
        )
        assert flux.status_code == 200 and len(flux.json()["images"]) == 1
        relay = client.post(
            "/sandbox/v2/image/generate",
            json=SUBMITS["/sandbox/v2/image/generate"],
            headers={"X-API-Key": key},
        )
        assert relay.status_code == 202 and relay.json()["task_id"].startswith("sandbox:")
        # A file URL works without the key: its signed token came from a keyed answer.
        picture = client.get(flux.json()["images"][0]["url"].removeprefix(app.base_url))
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")


def test_failure_markers_are_prompt_text_unless_faults_are_on(start_app):
    secret_key = secrets.token_urlsafe(40)
    app = start_app({"SANDBOX_ENABLED": "1", "SECRET_KEY": secret_key})
    headers = {"Authorization": f"Bearer {sandbox_key(secret_key)}"}
    body = {"model": "sandbox/flux-sync", "prompt": "a fox [sandbox:500]"}
    with app.client(headers=headers) as client:
        response = client.post("/sandbox/v1/images/generations", json=body)
    assert response.status_code == 200 and response.json()["prompt"] == body["prompt"]


def open_connections() -> int:
    """Connections to this database other than the test's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_under_asgi_requests_do_not_keep_a_connection_each(start_app, request):
    """Each ASGI request runs in a thread of its own: a kept connection would outlive it, one
    more per request until PostgreSQL refuses (the load test's 500s before webapp/asgi.py)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL's connections")
    app = start_app()
    with app.client() as client:
        assert client.get("/readyz").status_code == 200
        before = open_connections()
        for _ in range(30):
            assert client.get("/readyz").status_code == 200
    assert open_connections() - before < 5
