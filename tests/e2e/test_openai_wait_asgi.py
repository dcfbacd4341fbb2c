"""The OpenAI-compatible endpoint as it is served: under ASGI (gunicorn with uvicorn's worker,
one process, as `manage.py serve` runs it). Many more waits than a threaded server has threads
are in flight at once, and an ordinary page still answers at once; with no Celery worker the
generations never run, so every wait ends at API_WAIT_SECONDS with a 504 naming its
generation. With a worker, the SDK gets its images from the ASGI server."""

import base64
import io
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from PIL import Image as PILImage

from gallery.models import ApiToken, Generation, personal_team
from tests.e2e import conftest
from tests.e2e.started import started_celery

pytestmark = [pytest.mark.e2e]

# Well above the 4 threads a gunicorn gthread worker has and asyncio's default pool (cores + 4).
WAITS = 24
WAIT_SECONDS = 25


def test_many_waits_in_flight_do_not_stop_a_page_answering(start_app, alice):
    app = start_app(
        {
            "SANDBOX_ENABLED": "1",
            "API_WAIT_SECONDS": str(WAIT_SECONDS),
            "GENERATE_RATE_COUNT": "500",
        },
        asgi=True,
    )
    _, key = ApiToken.issue(alice, personal_team(alice), "many waits")

    def wait(i: int) -> httpx.Response:
        with httpx.Client(timeout=WAIT_SECONDS + 30) as client:
            return client.post(
                app.url("/v1/images/generations"),
                json={"model": "sandbox/flux-sync", "prompt": f"wait {i}"},
                headers={"Authorization": f"Bearer {key}"},
            )

    with ThreadPoolExecutor(WAITS) as pool:
        started = time.monotonic()
        waits = [pool.submit(wait, i) for i in range(WAITS)]
        deadline = time.monotonic() + WAIT_SECONDS - 5
        while Generation.objects.count() < WAITS:
            assert time.monotonic() < deadline, f"{Generation.objects.count()} started\n{app.log()}"
            time.sleep(0.2)
        # Every wait has started its generation and is waiting; a page still answers.
        with app.client() as client:
            asked = time.monotonic()
            page = client.get("/login/")
            answered = time.monotonic() - asked
        assert page.status_code == 200
        assert answered < 5, answered
        assert not any(w.done() for w in waits), "a wait ended before the page was asked for"
        answers = [w.result() for w in waits]
    took = time.monotonic() - started
    assert took < WAIT_SECONDS + 15, took
    uuids = {str(u) for u in Generation.objects.values_list("uuid", flat=True)}
    for answer in answers:
        assert answer.status_code == 504, answer.text
        error = answer.json()["error"]
        assert error["code"] == "timeout"
        named = [u for u in uuids if u in error["message"]]
        assert len(named) == 1, error["message"]
    assert set(Generation.objects.values_list("status", flat=True)) == {"queued"}


def test_the_sdk_gets_its_images_from_the_asgi_server(start_app, alice, tmp_path):
    # One machine's processes: the filesystem broker and the media folder are shared; the
    # file caches are not, so the wait reads the row on its own (every 5 s at most).
    shared = {
        "SANDBOX_ENABLED": "1",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "BROKER_DIR": str(tmp_path / "broker"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    app = start_app(shared)
    args = ["worker", "-Q", "provider,images", "--pool", "threads", "--concurrency", "2"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    env = {**shared, "SANDBOX_BASE_URL": app.url("/sandbox")}
    _, key = ApiToken.issue(alice, personal_team(alice), "asgi")
    database = conftest.test_database_url()
    with started_celery(database, tmp_path / "worker", args, env) as worker:
        sdk = openai.OpenAI(base_url=app.url("/v1"), api_key=key, max_retries=0, timeout=90)
        with sdk:
            pictures = sdk.images.generate(
                model="sandbox/flux-sync",
                prompt="a kite",
                size="320x256",
                response_format="b64_json",
            )
            linked = sdk.images.generate(model="sandbox/flux-sync", prompt="a kite", n=2)
        assert worker.process.poll() is None, worker.log()
    [item] = pictures.data
    assert PILImage.open(io.BytesIO(base64.b64decode(item.b64_json))).size == (320, 256)
    assert len(linked.data) == 2
    for item in linked.data:
        assert item.url.startswith(app.url("/inputs/"))
        fetched = httpx.get(item.url, timeout=30)
        assert fetched.status_code == 200 and fetched.content.startswith(b"\x89PNG")
    assert set(Generation.objects.values_list("status", flat=True)) == {"succeeded"}
