"""Operating the app as an operator starts it: probes with real dependencies down, metrics."""

import json
import socket
import uuid
from pathlib import Path

import pytest

from gallery.models import Generation
from tests.e2e.conftest import FAKE_AIMLAPI_KEY, FAKE_RELAY_KEY, wait_for

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


def test_metrics_answer_the_token_or_a_listed_address_behind_the_proxy(start_app):
    app = start_app(
        {"METRICS_TOKEN": "scrape-me", "METRICS_ALLOWED": "10.9.0.0/16", "PROXY_HOPS": "1"}
    )
    with app.client() as client:
        assert client.get("/metrics").status_code == 403
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        listed = client.get("/metrics", headers={"X-Forwarded-For": "10.9.1.1"})
        forged = client.get("/metrics", headers={"X-Forwarded-For": "10.9.1.1, 192.0.2.1"})
    assert scraped.status_code == 200
    assert 'atelier_queue_depth{queue="provider"} 0.0' in scraped.text
    assert "atelier_oldest_in_flight_seconds" in scraped.text
    assert listed.status_code == 200 and forged.status_code == 403


def test_metrics_are_off_unless_configured(start_app):
    app = start_app()
    with app.client() as client:
        assert client.get("/metrics").status_code == 404


def test_the_worker_logs_json_lines_naming_the_generation(e2e, client, alice, worker_media):
    """The suite's worker runs with LOG_FORMAT=json; a submit that is refused twice before it
    passes logs its retries from the pipeline."""
    client.force_login(alice)
    prompt = f"a kestrel {uuid.uuid4().hex[:8]} [sandbox:5xx-then-ok]"
    data = {"model": "sandbox/flux-sync", "prompt": prompt, "p_num_images": "1"}
    assert client.post("/generate", data).status_code == 302
    generation = wait_for(Generation.objects.get(prompt=prompt))
    assert generation.status == "succeeded", generation.error
    text = (Path(worker_media) / "worker.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("generation") == str(generation.uuid)]
    retries = [line for line in mine if line["logger"] == "jobs.pipeline"]
    assert len(retries) == 2, mine
    assert all("retrying in" in line["message"] for line in retries)
    # Every pipeline line names its generation; no key reaches the log.
    assert all("generation" in line for line in lines if line["logger"].startswith("jobs."))
    assert FAKE_AIMLAPI_KEY not in text and FAKE_RELAY_KEY not in text
