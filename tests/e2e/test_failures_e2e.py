"""Every sandbox failure through the real path: the form enqueues, a Celery worker calls the
sandbox over HTTP, and the generation ends in the right state with a message a person can read.

The failures need worker settings of their own (a short PROVIDER_TIMEOUT and DOWNLOAD_DEADLINE,
a 1 MB download cap), and a worker's settings are its environment; so this module starts its
own worker, on queues of its own so the session's worker never takes its tasks.
"""

import time
import uuid

import pytest
from django.conf import settings as django_settings

from gallery.models import Generation
from jobs.providers import KEY_MASK
from jobs.sandbox import failures
from tests.e2e.conftest import FLUX, RELAY, generate, route_web_tasks, start_worker, wait_for

pytestmark = [pytest.mark.e2e]

MAX_BYTES = 1 << 20  # 1 MB, as the messages say it


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


OPENAI_B64 = {"model": "sandbox/openai-sync", "p_size": "256x256", "p_response_format": "b64_json"}


def prompt_with(marker: str) -> str:
    """A prompt no other test uses, so per-prompt counts start at zero."""
    return f"a lighthouse {uuid.uuid4().hex[:8]} [sandbox:{marker}]"


def run(client, form: dict, marker: str, timeout: float = 30) -> tuple[Generation, str]:
    prompt = prompt_with(marker)
    return wait_for(generate(client, **form, prompt=prompt), timeout), prompt


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
