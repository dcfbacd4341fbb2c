"""/healthz and /readyz of the app as an operator starts it, with real dependencies down."""

import socket

import pytest

pytestmark = pytest.mark.e2e


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readyz_is_503_naming_broker_and_cache_when_redis_is_unreachable(start_app):
    app = start_app({"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}, up_path="/healthz")
    with app.client() as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.json()["failed"] == ["broker", "cache"]
    assert "readyz: the cache is unreachable" in app.log()


def test_readyz_is_503_and_healthz_200_when_the_database_is_unreachable(start_app):
    database = f"postgres://nobody@127.0.0.1:{closed_port()}/atelier"
    app = start_app({"DATABASE_URL": database}, up_path="/healthz")
    with app.client() as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]


def test_probes_are_not_redirected_to_https(start_app):
    app = start_app({"HTTPS": "1", "ALLOWED_HOSTS": "127.0.0.1"})
    with app.client() as client:
        assert client.get("/login/").status_code == 301  # everything else is
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
