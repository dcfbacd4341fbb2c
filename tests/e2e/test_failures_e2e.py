"""Every sandbox failure through the real path: the form enqueues, a Celery worker calls the
sandbox over HTTP, and the generation ends in the right state with a message a person can read.

The failures need worker settings of their own (a short PROVIDER_TIMEOUT and DOWNLOAD_DEADLINE,
a 1 MB download cap), and a worker's settings are its environment; so this module starts its
own worker, on queues of its own so the session's worker never takes its tasks.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery.app.routes import Router, prepare
from django.conf import settings as django_settings

from gallery.models import Generation
from jobs.providers import KEY_MASK
from jobs.sandbox import failures
from tests.e2e import conftest
from tests.e2e.conftest import ROOT, wait_for
from webapp.celery import app

pytestmark = [pytest.mark.e2e]

MAX_BYTES = 1 << 20  # 1 MB, as the messages say it
# Read in the worker, which applies its routes before it starts: its next steps (poll, fetch)
# go to its own queues too.
WORKER_SCRIPT = """
import json, os, sys
from webapp.celery import app
app.conf.task_routes = json.loads(os.environ["ATELIER_TEST_ROUTES"])
app.worker_main(sys.argv[1:])
"""


def routes(prefix: str) -> dict[str, dict[str, str]]:
    return {
        "jobs.tasks.submit": {"queue": f"{prefix}-provider"},
        "jobs.tasks.poll": {"queue": f"{prefix}-provider"},
        "jobs.tasks.sweep": {"queue": f"{prefix}-provider"},
        "jobs.tasks.fetch": {"queue": f"{prefix}-images"},
    }


class Worker:
    """A Celery worker subprocess on its own queues, which a test may kill and start again."""

    def __init__(self, prefix: str, media: Path, env: dict[str, str]):
        self.prefix, self.media = prefix, media
        self.env = {
            **os.environ,
            "MEDIA_ROOT": str(media),
            "BROKER_DIR": str(django_settings.BROKER_DIR),
            "POLL_INTERVAL": "0.3",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "ATELIER_TEST_ROUTES": json.dumps(routes(prefix)),
            **conftest.WORKER_ENV,
            **env,
        }
        self.log_path = media / "worker.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        queues = ",".join(sorted({route["queue"] for route in routes(self.prefix).values()}))
        command = [
            sys.executable,
            "-c",
            WORKER_SCRIPT,
            "worker",
            "-Q",
            queues,
            "--pool",
            "threads",
            "--concurrency",
            "4",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{self.prefix}-{self.starts}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgement, whatever it was doing is cut short."""
        assert self.process is not None and self.process.poll() is None, self.log()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def purge(self) -> None:
        with app.connection_for_write() as conn:
            for queue in {route["queue"] for route in routes(self.prefix).values()}:
                try:
                    conn.default_channel.queue_purge(queue)
                except Exception:  # noqa: S112 - a queue never used has nothing in it
                    continue

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def finished(self, task: str) -> int:
        """How many `jobs.tasks.<task>` runs have ended, by the worker's own log."""
        text = self.log_path.read_text() if self.log_path.exists() else ""
        return len(re.findall(rf"Task jobs\.tasks\.{task}\[[^\]]+\] succeeded", text))


def start_worker(prefix: str, tmp_path_factory, django_db_blocker, live_server, **env: str):
    """A started Worker on the test database, calling the live server's sandbox."""
    with django_db_blocker.unblock():
        database_url = conftest.test_database_url()
    worker = Worker(
        prefix,
        tmp_path_factory.mktemp(f"{prefix}-media"),
        {"DATABASE_URL": database_url, "SANDBOX_BASE_URL": f"{live_server.url}/sandbox", **env},
    )
    worker.purge()
    worker.start()
    return worker


def route_web_tasks(monkeypatch, prefix: str) -> None:
    """Send what this process enqueues (the form's submit, a sweep) to the worker's queues."""
    router = Router(prepare(routes(prefix)), app.amqp.queues, True, app=app)
    monkeypatch.setattr(app.amqp, "router", router)


@pytest.fixture(scope="module")
def failures_worker(django_db_setup, django_db_blocker, live_server, tmp_path_factory):
    worker = start_worker(
        "failures",
        tmp_path_factory,
        django_db_blocker,
        live_server,
        PROVIDER_TIMEOUT="1",
        DOWNLOAD_DEADLINE="2",
        DOWNLOAD_MAX_BYTES=str(MAX_BYTES),
    )
    yield worker
    worker.stop()
    print(worker.log())


@pytest.fixture
def live(failures_worker, transactional_db, settings, monkeypatch, client, alice):
    """The web side set up like the worker: same media, same cap; logged in as alice."""
    settings.MEDIA_ROOT = str(failures_worker.media)
    settings.SANDBOX_LATENCY = 0
    settings.SANDBOX_FAILURE = ""
    settings.DOWNLOAD_MAX_BYTES = MAX_BYTES
    route_web_tasks(monkeypatch, failures_worker.prefix)
    client.force_login(alice)
    return client


FLUX = {
    "model": "sandbox/flux-sync",
    "p_image_size": "custom",
    "p_image_size_width": "64",
    "p_image_size_height": "64",
}
OPENAI_B64 = {"model": "sandbox/openai-sync", "p_size": "256x256", "p_response_format": "b64_json"}
RELAY = {"model": "sandbox/relay-async", "p_width": "64", "p_height": "64"}


def prompt_with(marker: str) -> str:
    """A prompt no other test uses, so per-prompt counts start at zero."""
    return f"a lighthouse {uuid.uuid4().hex[:8]} [sandbox:{marker}]"


def generate(client, form: dict, prompt: str) -> Generation:
    response = client.post("/generate", {**form, "prompt": prompt})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Generation.objects.get(prompt=prompt)


def run(client, form: dict, marker: str, timeout: float = 30) -> tuple[Generation, str]:
    prompt = prompt_with(marker)
    return wait_for(generate(client, form, prompt), timeout), prompt


def assert_failed(generation: Generation, *fragments: str) -> None:
    assert generation.status == "failed", generation.status
    for fragment in fragments:
        assert fragment in generation.error
    assert not generation.images.exists()
    assert generation.finished_at is not None


@pytest.mark.parametrize(
    ("marker", "tries"),
    [("429", 3), ("5xx-then-ok", 3), ("500-then-ok:3", 4)],
    ids=["429-twice", "503-twice", "500-three-times"],
)
def test_it_succeeds_after_retrying_a_passing_refusal(live, marker, tries):
    generation, prompt = run(live, FLUX, marker)
    assert generation.status == "succeeded", generation.error
    assert generation.attempts == tries and failures.submissions[prompt] == tries
    assert generation.images.count() == 1 and not generation.error
    assert (generation.images.get().width, generation.images.get().height) == (64, 64)


def test_it_gives_up_on_a_provider_that_keeps_failing_and_says_how_often_it_tried(live):
    generation, prompt = run(live, FLUX, "500")
    tries = django_settings.SUBMIT_ATTEMPTS  # the worker runs with the same default
    assert_failed(
        generation,
        "failed with an internal error (500)",
        "broke on purpose",
        f"Gave up after {tries} tries.",
    )
    assert failures.submissions[prompt] == tries


def test_it_retries_an_idempotent_relay_submit_after_429(live):
    generation, prompt = run(live, RELAY, "429")
    assert generation.status == "succeeded", generation.error
    assert failures.submissions[prompt] == 3 and generation.images.count() == 1


@pytest.mark.parametrize(
    ("marker", "form", "fragments"),
    [
        ("401", FLUX, ["rejected the API key (401)", "Invalid API key."]),
        ("401", RELAY, ["rejected the API key (401)"]),
        ("400-policy", FLUX, ["refused the request (400): " + failures.POLICY_REASON]),
        ("400-policy", RELAY, ["refused the request (400): " + failures.POLICY_REASON]),
        ("echo-key", FLUX, ["Unknown parameter for the key Bearer " + KEY_MASK]),
        ("echo-key", RELAY, ["Unknown parameter for the key " + KEY_MASK]),
        ("bad-json", FLUX, ["something that is not JSON"]),
        ("empty", FLUX, ["answered, but without any image"]),
        ("empty", RELAY, ["answered, but without any image"]),
    ],
)
def test_it_fails_at_once_with_the_providers_reason(live, marker, form, fragments):
    generation, prompt = run(live, form, marker)
    assert_failed(generation, *fragments)
    assert failures.submissions[prompt] == 1  # a permanent refusal is not sent again


def test_it_gives_up_on_a_provider_that_does_not_answer_in_time(live):
    generation, prompt = run(live, FLUX, "slow")
    assert_failed(generation, "did not answer in time", "not sent again")
    assert failures.submissions[prompt] == 1
    # Given up after PROVIDER_TIMEOUT (1 s), not after the sandbox's late answer.
    waited = (generation.finished_at - generation.submitted_at).total_seconds()
    assert waited < failures.SLOW_SECONDS


def test_it_stops_a_task_stuck_running_at_the_deadline(live, settings):
    settings.GENERATION_DEADLINE = 3  # the row's deadline is set when the form saves it
    generation, _ = run(live, RELAY, "task-stuck")
    assert_failed(generation, "took too long")
    assert generation.finished_at >= generation.deadline_at
    assert (generation.finished_at - generation.deadline_at).total_seconds() < 3


def test_it_shows_why_a_task_failed(live):
    generation, _ = run(live, RELAY, "task-failed")
    assert_failed(generation, "could not make the image: " + failures.TASK_FAILED_REASON)


@pytest.mark.parametrize(
    ("marker", "host"),
    [
        ("private-url", "10.0.0.1"),
        ("loopback-url", "127.0.0.2"),
        ("metadata-url", "169.254.169.254"),
    ],
)
def test_it_refuses_an_image_url_on_a_private_network(live, marker, host):
    generation, _ = run(live, FLUX, marker)
    # The address is checked before any connection is made: refused, not "could not connect".
    assert_failed(generation, f"points to a private network ({host}); refused")
    assert generation.outputs[0]["url"] == failures.OUTPUT_URLS[marker]


def test_it_refuses_a_redirect_to_a_private_network(live):
    generation, prompt = run(live, FLUX, "redirect-private")
    assert_failed(generation, "points to a private network (10.0.0.1); refused")
    assert failures.file_requests[prompt] == 1  # the sandbox saw the first hop only


def test_it_follows_two_redirects(live):
    generation, prompt = run(live, FLUX, "redirect-chain")
    assert generation.status == "succeeded", generation.error
    assert failures.file_requests[prompt] == 3
    assert (generation.images.get().width, generation.images.get().height) == (64, 64)


def test_it_refuses_a_long_chain_of_redirects(live):
    generation, prompt = run(live, FLUX, "redirect-chain:5")
    assert_failed(generation, "redirected more than 3 times; refused")
    assert failures.file_requests[prompt] == 4


@pytest.mark.parametrize(
    ("marker", "form", "fragments"),
    [
        ("huge", FLUX, ["larger than the 1 MB limit"]),
        ("huge-stream", FLUX, ["larger than the 1 MB limit"]),
        ("huge-base64", OPENAI_B64, ["larger than the 1 MB limit"]),
        ("huge-base64", RELAY, ["larger than the 1 MB limit"]),
        ("trickle", FLUX, ["took too long"]),
        ("bomb", FLUX, ["too many pixels"]),
        ("not-image", FLUX, ["not a PNG, JPEG or WebP"]),
        ("bad-base64", OPENAI_B64, ["not valid base64"]),
        ("bad-base64", RELAY, ["not valid base64"]),
    ],
)
def test_it_refuses_an_output_that_is_not_a_safe_picture(live, marker, form, fragments):
    started = time.monotonic()
    generation, _ = run(live, form, marker)
    assert_failed(generation, *fragments)
    if marker == "trickle":
        # DOWNLOAD_DEADLINE is 2 s: stopped soon after, not after the whole picture.
        assert time.monotonic() - started < 10
