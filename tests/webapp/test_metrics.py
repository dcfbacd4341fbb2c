"""/metrics: only for METRICS_TOKEN or METRICS_ALLOWED, with figures every process shares."""

import ipaddress
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Budget, Generation
from jobs import tasks
from tests.factories import make_generation
from webapp.celery import app

pytestmark = pytest.mark.django_db
Status = Generation.Status
TOKEN = "metrics-token-for-tests"
GENERATE = {
    "model": "sandbox/flux-sync",
    "prompt": "a fox",
    "p_image_size": "square",
    "p_num_images": "1",
    "p_output_format": "png",
}


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED = []
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def scrape(client, headers) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def value(text: str, sample: str) -> float:
    """The value of one sample line, e.g. `atelier_generations{provider="x",status="y"}`."""
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in:\n{text}"
    return float(match.group(1))


# --- Who may read them -------------------------------------------------------------------------


def test_it_is_off_when_neither_a_token_nor_addresses_are_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED = []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_it_answers_the_token_and_refuses_any_other(client, token):
    assert client.get("/metrics", **token).status_code == 200
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 403


def test_a_logged_in_staff_member_is_no_reader(client, token, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    assert client.get("/metrics").status_code == 403


def test_it_answers_listed_addresses_only(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED = [ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("::1")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_behind_a_proxy_it_reads_the_address_the_proxy_saw(client, settings):
    settings.PROXY_HOPS = 1
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED = [ipaddress.ip_network("10.1.0.0/16")]
    proxy = {"REMOTE_ADDR": "172.18.0.5"}
    seen = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3", **proxy)
    assert seen.status_code == 200
    # Written by the client itself, left of what the proxy appended: not believed.
    forged = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3, 203.0.113.9", **proxy)
    assert forged.status_code == 403


def test_the_address_list_is_checked_at_start(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from webapp.settings import envnetworks

    monkeypatch.setenv("METRICS_ALLOWED", "10.0.0.0/8, fd00::/8, 192.168.1.7")
    assert [str(n) for n in envnetworks("METRICS_ALLOWED")] == [
        "10.0.0.0/8",
        "fd00::/8",
        "192.168.1.7/32",
    ]
    monkeypatch.setenv("METRICS_ALLOWED", "10.0.0.0/8,prometheus")
    with pytest.raises(ImproperlyConfigured, match="'prometheus' is not an IP address"):
        envnetworks("METRICS_ALLOWED")


# --- What they say -----------------------------------------------------------------------------


def finished(owner, sent: float, result: float, end: float, **fields) -> Generation:
    """A generation sent at 0 s, its result at `result` s, stored at `end` s after `sent`."""
    start = timezone.now() - timedelta(minutes=5)
    at = {"sent_at": start + timedelta(seconds=sent)}
    at["result_at"] = start + timedelta(seconds=result)
    at["finished_at"] = start + timedelta(seconds=end)
    return make_generation(owner, status=Status.SUCCEEDED, created_at=start, **at, **fields)


def test_it_counts_generations_by_status_and_provider(client, token, alice):
    finished(alice, 0, 1, 2)
    finished(alice, 0, 1, 2)
    make_generation(alice, status=Status.FAILED)
    make_generation(alice, status=Status.QUEUED, provider="relay", model_id="relay/x")
    text = scrape(client, token)
    assert value(text, 'atelier_generations{provider="sandbox",status="succeeded"}') == 2
    assert value(text, 'atelier_generations{provider="sandbox",status="failed"}') == 1
    assert value(text, 'atelier_generations{provider="sandbox",status="queued"}') == 0
    assert value(text, 'atelier_generations{provider="relay",status="queued"}') == 1


def test_provider_latency_and_download_are_histograms_from_the_rows(client, token, alice):
    finished(alice, sent=0, result=1.5, end=1.8)
    finished(alice, sent=0, result=7, end=10)
    make_generation(alice, status=Status.RUNNING, sent_at=timezone.now())  # no result yet
    text = scrape(client, token)
    latency = 'atelier_provider_latency_seconds_bucket{le="%s",provider="sandbox"}'
    assert value(text, latency % "1.0") == 0
    assert value(text, latency % "2.0") == 1
    assert value(text, latency % "10.0") == 2
    assert value(text, latency % "+Inf") == 2
    assert value(text, 'atelier_provider_latency_seconds_count{provider="sandbox"}') == 2
    assert value(text, 'atelier_provider_latency_seconds_sum{provider="sandbox"}') == 8.5
    download = 'atelier_download_seconds_bucket{le="%s",provider="sandbox"}'
    assert value(text, download % "0.25") == 0
    assert value(text, download % "0.5") == 1
    assert value(text, download % "5.0") == 2
    assert value(text, 'atelier_download_seconds_sum{provider="sandbox"}') == pytest.approx(3.3)


def test_it_gives_the_age_of_the_oldest_generation_in_flight(client, token, alice):
    text = scrape(client, token)
    assert value(text, "atelier_oldest_in_flight_seconds") == 0
    an_hour_ago = timezone.now() - timedelta(hours=1)
    make_generation(alice, status=Status.SUCCEEDED, created_at=an_hour_ago)  # finished: not it
    make_generation(alice, status=Status.RUNNING, created_at=timezone.now() - timedelta(seconds=90))
    make_generation(alice, status=Status.QUEUED)
    age = value(scrape(client, token), "atelier_oldest_in_flight_seconds")
    assert 90 <= age < 120


def purge(queue: str) -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def test_it_gives_the_depth_of_each_queue_on_the_broker_in_use(client, token):
    for queue in ("provider", "images"):
        purge(queue)
    try:
        for _ in range(3):
            tasks.purge_uploads.apply_async()  # routed to "images"
        tasks.sweep.apply_async()  # "provider"
        text = scrape(client, token)
    finally:
        for queue in ("provider", "images"):
            purge(queue)
    assert value(text, 'atelier_queue_depth{queue="images"}') == 3
    assert value(text, 'atelier_queue_depth{queue="provider"}') == 1


def test_a_budget_refusal_is_counted_and_webhook_refusals_start_at_zero(
    client, token, alice_client, alice
):
    Budget.objects.create(user=alice, images_per_day=0)
    text = scrape(client, token)
    assert value(text, "atelier_budget_refusals_total") == 0
    assert value(text, "atelier_webhook_refusals_total") == 0
    response = alice_client.post("/generate", GENERATE)
    assert response.status_code == 403
    assert "0 of 0 images allowed today" in response.content.decode()
    assert value(scrape(client, token), "atelier_budget_refusals_total") == 1
    assert Generation.objects.count() == 0
