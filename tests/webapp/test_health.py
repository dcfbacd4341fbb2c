"""/healthz answers without touching anything; /readyz names each dependency that does not."""

import socket

import pytest
from django.test import override_settings

CLOSED = "redis://127.0.0.1:{port}/0"


def closed_port() -> int:
    """A port on this machine where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthz_answers_without_a_query_or_a_session(alice_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = alice_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_needs_no_login(client):
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {name: "ok" for name in ("database", "broker", "cache", "storage")}


@pytest.mark.django_db
def test_readyz_names_the_cache_and_broker_when_redis_does_not_answer(client):
    url = CLOSED.format(port=closed_port())
    redis = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    # Undone inside the test: the suite's own cache is cleared after it.
    with override_settings(CELERY_BROKER_URL=url, CELERY_BROKER_TRANSPORT_OPTIONS={}, CACHES=redis):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker", "cache"]
    assert body["checks"]["database"] == body["checks"]["storage"] == "ok"
    # Why is for the log, not for whoever asks.
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_names_the_storage_when_media_cannot_be_written(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.MEDIA_ROOT = str(blocker / "media")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


@pytest.mark.django_db
def test_readyz_names_the_embedded_broker_when_its_folder_is_gone(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "atomicfs://"
    missing = str(tmp_path / "gone" / "queue")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": missing,
        "data_folder_out": missing,
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
