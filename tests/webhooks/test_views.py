"""The owners' webhook pages: add (secret shown once), change, rotate, remove, the log, resend."""

import pytest

from gallery.models import Attempt, Delivery, Endpoint, Event
from jobs import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_dns(monkeypatch):
    """example.com resolves to a public address without asking a resolver (unit tests only)."""
    monkeypatch.setattr(
        "socket.getaddrinfo", lambda host, port, **kw: [(2, 1, 6, "", ("93.184.215.14", port))]
    )


def add(client, team, **data):
    fields = {"url": "https://hooks.example.com/in", "events": ["generation.succeeded"]}
    return client.post(f"/teams/{team.uuid}/webhooks/", fields | data)


def test_it_shows_the_secret_once_and_never_again(alice_client, studio, public_dns):
    response = add(alice_client, studio, active="on")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    endpoint = Endpoint.objects.get()
    [secret] = endpoint.signing_secrets()
    assert secret.encode() in response.content
    assert endpoint.events == ["generation.succeeded"] and endpoint.active
    for page in (f"/teams/{studio.uuid}/", f"/teams/{studio.uuid}/webhooks/{endpoint.uuid}"):
        shown = alice_client.get(page)
        assert shown.status_code == 200
        assert b"hooks.example.com" in shown.content and secret.encode() not in shown.content


def test_it_refuses_a_private_address_in_words(alice_client, studio):
    response = add(alice_client, studio, url="http://127.0.0.1:9/in")
    assert response.status_code == 400
    assert b"points to a private network (127.0.0.1)" in response.content
    assert b"WEBHOOK_ALLOWED_HOSTS" in response.content
    assert not Endpoint.objects.exists()


def test_it_asks_for_an_event_and_a_web_address(alice_client, studio, public_dns):
    response = add(alice_client, studio, url="ftp://hooks.example.com/in", events=[])
    assert response.status_code == 400
    assert b"Choose at least one event" in response.content
    assert b"Enter a web address starting with https://" in response.content


def test_rotating_shows_a_new_secret_and_keeps_the_old_one_signing(
    alice_client, studio, public_dns
):
    add(alice_client, studio)
    endpoint = Endpoint.objects.get()
    [old] = endpoint.signing_secrets()
    response = alice_client.post(f"/teams/{studio.uuid}/webhooks/{endpoint.uuid}/rotate")
    assert response.status_code == 200
    endpoint.refresh_from_db()
    new, previous = endpoint.signing_secrets()
    assert previous == old and new != old
    assert new.encode() in response.content and old.encode() not in response.content


def test_owners_change_and_remove_an_endpoint(alice_client, studio, public_dns):
    add(alice_client, studio)
    endpoint = Endpoint.objects.get()
    page = f"/teams/{studio.uuid}/webhooks/{endpoint.uuid}"
    data = {"url": "https://other.example.com/in", "events": ["budget.exceeded"]}
    assert alice_client.post(page, data).status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.active) == (
        "https://other.example.com/in",
        ["budget.exceeded"],
        False,
    )
    assert alice_client.post(page + "/delete").status_code == 302
    assert not Endpoint.objects.exists()


def test_the_log_shows_attempts_and_resend_sends_again(
    alice_client, studio, public_dns, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.deliver_webhook, "delay", enqueued.append)
    add(alice_client, studio)
    endpoint = Endpoint.objects.get()
    event = Event.objects.create(team=studio, type="generation.failed")
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, status="failed", attempts=7)
    Attempt.objects.create(delivery=delivery, number=7, status_code=503, excerpt="busy", seconds=1)
    page = alice_client.get(f"/teams/{studio.uuid}/webhooks/{endpoint.uuid}")
    assert b"HTTP 503" in page.content and b"busy" in page.content
    assert event.msg_id.encode() in page.content and b"Resend" in page.content
    resend = f"/teams/{studio.uuid}/webhooks/{endpoint.uuid}/deliveries/{delivery.pk}/resend"
    with django_capture_on_commit_callbacks() as sent:
        assert alice_client.post(resend).status_code == 302
    assert len(sent) == 1
    assert enqueued == []  # only once it commits
    sent[0]()
    assert enqueued == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 0
    # Already on its way: a second resend does nothing.
    with django_capture_on_commit_callbacks() as sent:
        alice_client.post(resend)
    assert sent == []
