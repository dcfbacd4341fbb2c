"""A worker that dies, a task delivered twice, a transaction rolled back: each generation still
runs at most once, with one submission to the provider and one set of images.

These tests kill their worker, so they use one of their own (on its own queues), not the
session's. A SIGKILLed worker's message is not delivered again in test time (the filesystem
broker has already taken it off disk; Redis holds it for its one-hour visibility timeout):
recovery is the sweeper's job, as in production, where beat runs it every SWEEP_INTERVAL. Beat
is not running here, so the tests call `sweep()` themselves, after moving the row's `touched_at`
and lease back past the sweeper's windows instead of waiting them out (tests/e2e/
test_two_workers.py waits them out, with beat).
"""

import io
import time
import uuid
from datetime import timedelta
from functools import partial

import pytest
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Generation, Image
from jobs import tasks
from jobs.sandbox import failures
from tests.e2e.conftest import FLUX, RELAY, generate, route_web_tasks, start_worker, wait_for
from tests.factories import make_generation

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def crash_worker(django_db_setup, django_db_blocker, live_server, tmp_path_factory):
    # A short claim, so a submission cut short by a kill is picked up again within the test.
    worker = start_worker(
        "crash", tmp_path_factory, django_db_blocker, live_server, CLAIM_LEASE="2"
    )
    yield worker
    worker.stop()
    print(worker.log())


@pytest.fixture
def live(crash_worker, transactional_db, settings, monkeypatch, client, alice):
    settings.MEDIA_ROOT = str(crash_worker.media)
    settings.SANDBOX_LATENCY = 0
    settings.SANDBOX_FAILURE = ""
    route_web_tasks(monkeypatch, crash_worker.prefix)
    if crash_worker.process is None or crash_worker.process.poll() is not None:
        crash_worker.start()  # an earlier test failed between its kill and its restart
    client.force_login(alice)
    return client


def until(condition, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def status_of(generation: Generation) -> str:
    return Generation.objects.values_list("status", flat=True).get(pk=generation.pk)


def sweep_as_if_left_for_long(generation: Generation) -> None:
    """What beat's sweeper would do once the row has sat untouched past its window."""
    long_ago = timezone.now() - timedelta(minutes=10)
    Generation.objects.filter(pk=generation.pk).update(touched_at=long_ago, lease_until=long_ago)
    tasks.sweep()


def assert_one_set_of_images(generation: Generation, count: int) -> None:
    assert generation.status == "succeeded", generation.error
    images = list(Image.objects.filter(generation=generation).order_by("index"))
    assert [image.index for image in images] == list(range(count))
    for image in images:
        with image.original.open("rb") as f:
            assert PILImage.open(io.BytesIO(f.read())).size == (image.width, image.height)
        for thumbnail in (image.thumbnail, image.thumbnail_small):
            with thumbnail.open("rb") as f:
                assert PILImage.open(io.BytesIO(f.read())).format == "WEBP"


def unique(prompt: str) -> str:
    return f"{prompt} {uuid.uuid4().hex[:8]}"


def test_it_finishes_once_when_the_worker_dies_while_polling(live, settings, crash_worker):
    settings.SANDBOX_LATENCY = 4  # the sandbox's task runs 4 s: time to kill mid-poll
    prompt = unique("a city of glass")
    generation = generate(live, **RELAY, prompt=prompt)
    until(lambda: status_of(generation) == "running", what="running")
    crash_worker.kill()
    crash_worker.start()
    sweep_as_if_left_for_long(generation)
    generation = wait_for(generation, 30)
    assert_one_set_of_images(generation, 1)
    assert failures.submissions[prompt] == 1
    assert generation.attempts == 1


def test_it_finishes_once_when_the_worker_dies_while_downloading(live, crash_worker):
    prompt = unique("a lighthouse [sandbox:slow-file]")
    generation = generate(live, **FLUX, p_num_images="2", prompt=prompt)
    # Each file takes ~2 s to arrive; the second has started, so the first is stored.
    until(lambda: failures.file_requests[prompt] == 2, what="the second download")
    crash_worker.kill()
    assert status_of(generation) == "fetching"
    assert Image.objects.filter(generation=generation).count() == 1
    crash_worker.start()
    sweep_as_if_left_for_long(generation)
    generation = wait_for(generation, 30)
    assert_one_set_of_images(generation, 2)
    assert failures.submissions[prompt] == 1
    assert failures.file_requests[prompt] == 3  # only the interrupted image was fetched again


def test_a_sync_submit_cut_short_by_a_dying_worker_is_not_sent_again(live, crash_worker):
    """Once its claim lapses (CLAIM_LEASE), a sync submit cut short is not sent again: with no
    idempotency key the provider would do, and bill, the work twice. It ends failed, saying the
    image may still have been made."""
    prompt = unique("a harbour [sandbox:slow]")  # the sandbox answers after 5 s
    generation = generate(live, **FLUX, prompt=prompt)
    until(lambda: failures.submissions[prompt] == 1, what="the submission")
    crash_worker.kill()
    crash_worker.start()
    leased = Generation.objects.values_list("lease_until", flat=True).get(pk=generation.pk)
    until(lambda: timezone.now() > leased, what="the claim to lapse")
    tasks.sweep()
    generation = wait_for(generation, 30)
    assert generation.status == "failed" and "was not sent again" in generation.error
    assert failures.submissions[prompt] == 1
    assert generation.attempts == 2 and generation.sent_at is not None  # charged as sent


def test_it_runs_once_when_each_task_is_delivered_twice(live, crash_worker):
    fetches = crash_worker.finished("fetch")
    prompt = unique("a teapot [sandbox:slow-file]")
    generation = generate(live, **FLUX, prompt=prompt)  # the form enqueues submit once
    tasks.submit.delay(generation.pk)
    tasks.submit.delay(generation.pk)
    until(lambda: failures.file_requests[prompt] >= 1, what="the download")
    # While the first fetch (a small image: made by the submit task itself) still downloads.
    tasks.fetch.delay(generation.pk)
    tasks.fetch.delay(generation.pk)
    generation = wait_for(generation, 30)
    # Two fetches of a slow file, queued behind the first: on a busy machine more than 30 s.
    until(lambda: crash_worker.finished("fetch") == fetches + 2, 90, what="both extra fetches")
    assert_one_set_of_images(generation, 1)
    assert failures.submissions[prompt] == 1
    assert generation.attempts == 1


def test_it_runs_nothing_for_a_generation_rolled_back_after_enqueueing(live, alice):
    prompt = unique("a boat that never was")
    with pytest.raises(RuntimeError), transaction.atomic():
        ghost = make_generation(alice, prompt=prompt, params={"image_size": "square"})
        transaction.on_commit(partial(tasks.submit.delay, ghost.pk))
        raise RuntimeError("rolled back")
    # A generation enqueued after it runs to the end: the worker has seen everything before.
    control = wait_for(generate(live, **FLUX, prompt=unique("a boat that was")), 30)
    assert control.status == "succeeded", control.error
    assert failures.submissions[prompt] == 0
    assert not Generation.objects.filter(prompt=prompt).exists()
    # Not by its pk: SQLite hands a rolled-back pk out again, here to the control generation.
    assert not Generation.objects.filter(uuid=ghost.uuid).exists()
    assert Image.objects.count() == 1
