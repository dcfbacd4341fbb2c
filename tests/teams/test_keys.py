"""Team provider keys: encrypted at rest, shown masked, used by the worker, never leaked."""

import base64
import logging
from pathlib import Path

import httpx
import pytest
import redis
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from gallery.models import Generation
from gallery.teams import encryption
from jobs import http, pipeline
from tests.factories import logged_in
from webapp.celery import app

SECRET = "sk-team-SECRET-0123456789"


@pytest.fixture
def encryption_key(settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    return settings


def set_key(client, team):
    return client.post(f"/teams/{team.uuid}/keys", {"aimlapi_key": SECRET})


def test_team_keys_are_encrypted_at_rest_and_shown_masked(client, studio, alice, encryption_key):
    set_key(logged_in(client, alice), studio)
    studio.refresh_from_db()
    assert studio.aimlapi_key and SECRET not in studio.aimlapi_key
    assert encryption.decrypt(studio.aimlapi_key) == SECRET
    html = client.get(f"/teams/{studio.uuid}/").content.decode()
    assert SECRET not in html and "sk-…6789" in html
    # The form's own inputs: labelled password boxes that never hold a value.
    for name, label in (("aimlapi_key", "AI/ML API key"), ("relay_key", "Relay key")):
        assert f'<label for="id_{name}">{label}</label>' in html
        assert f'<input type="password" name="{name}" autocomplete="new-password"' in html
    assert "value=" not in html.split('name="aimlapi_key"')[1].split(">")[0]


def test_team_keys_can_be_rotated(client, studio, alice, encryption_key, settings):
    set_key(logged_in(client, alice), studio)
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new},{settings.FIELD_ENCRYPTION_KEY}"

    call_command("rotate_keys")
    studio.refresh_from_db()
    settings.FIELD_ENCRYPTION_KEY = new  # the old key is gone now
    assert encryption.decrypt(studio.aimlapi_key) == SECRET


def test_without_an_encryption_key_team_keys_are_refused(client, studio, alice, settings):
    settings.FIELD_ENCRYPTION_KEY = ""
    response = set_key(logged_in(client, alice), studio)
    studio.refresh_from_db()
    assert studio.aimlapi_key == ""
    assert "FIELD_ENCRYPTION_KEY" in client.get(response["Location"]).content.decode()


def test_a_team_key_is_used_by_the_worker_and_never_leaks(
    client,
    studio,
    alice,
    encryption_key,
    settings,
    caplog,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Pages, logs and the broker's messages never carry the key; the provider gets it."""

    settings.AIMLAPI_API_KEY = ""  # only the team's key makes the model usable
    caplog.set_level(logging.DEBUG)
    set_key(logged_in(client, alice, studio), studio)
    pages = "".join(
        client.get(path).content.decode()
        for path in ("/", f"/teams/{studio.uuid}/", "/generate/fields?model=flux/schnell")
    )
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("provider")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/generate", {"model": "flux/schnell", "prompt": "a key test"})
    assert response.status_code == 302, response.content.decode()[:500]
    generation = Generation.objects.get()
    messages = broker_messages(app, "provider")
    assert messages and str(generation.pk).encode() in b"".join(messages)

    seen = []
    monkeypatch.setattr(
        http,
        "client",
        lambda read_timeout=None: httpx.Client(
            transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(401, json={}))
        ),
    )
    pipeline.submit(generation)
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    generation.refresh_from_db()
    admin_client = Client()

    admin_client.force_login(get_user_model().objects.create_superuser("root", "", "pw"))
    admin = "".join(
        admin_client.get(path).content.decode()
        for path in (
            f"/admin/gallery/team/{studio.pk}/change/",
            "/admin/gallery/generation/",
            f"/admin/gallery/generation/{generation.pk}/change/",
        )
    )
    for text in (pages, admin, caplog.text, generation.error, b"".join(messages).decode("latin-1")):
        assert SECRET not in text
    for encoded in (base64.b64encode(SECRET.encode()).decode(),):
        assert encoded not in b"".join(messages).decode("latin-1")


def broker_messages(app, queue: str) -> list[bytes]:
    """The raw messages waiting in a queue, read without consuming them."""
    if django_settings.REDIS_URL:
        return redis.Redis.from_url(django_settings.REDIS_URL).lrange(queue, 0, -1)
    folder = Path(django_settings.BROKER_DIR) / "queue"
    return [p.read_bytes() for p in folder.glob("*") if queue in p.name]


def test_a_key_the_server_can_no_longer_read_is_shown_as_stored(
    client, studio, alice, encryption_key, settings
):
    """Rotated away without `rotate_keys`, or the setting removed: the page still opens."""
    set_key(logged_in(client, alice), studio)
    for key in (Fernet.generate_key().decode(), ""):
        settings.FIELD_ENCRYPTION_KEY = key
        response = client.get(f"/teams/{studio.uuid}/")
        html = response.content.decode()
        assert response.status_code == 200 and SECRET not in html
        assert "stored (cannot be read with the current FIELD_ENCRYPTION_KEY)" in html
