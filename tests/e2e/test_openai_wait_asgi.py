"""The OpenAI-compatible endpoint waits without holding the server: under ASGI (gunicorn with
uvicorn's worker, one process, as `manage.py serve` runs it), many more waits than a threaded
server has threads are in flight at once, and an ordinary page still answers at once. With no
Celery worker the generations never run, so every wait ends at API_WAIT_SECONDS with a 504
naming its generation."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gallery.models import ApiToken, Generation, personal_team

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
