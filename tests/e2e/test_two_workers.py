"""Hosts that share nothing: one web process, two workers and beat, each with a VAR_DIR of its
own, sharing only PostgreSQL, Redis and the media storage. One worker is SIGKILLed halfway
through 50 generations made through the web; the other takes its work over within a minute,
and every generation ends succeeded with its image stored once.

Every process is started as an operator starts it (tests/e2e/started.py), with the default
CLAIM_LEASE and SWEEP_INTERVAL: the takeover is waited out, not simulated. The processes use
queues of their own (tests/e2e/routed.py), so the session's worker takes none of their work.
The storage is a parameter, handed to every process as its environment.
"""

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection

from gallery.models import Generation, Image
from tests.e2e import conftest
from tests.e2e.started import started_app, started_celery
from webapp.celery import app as celery_app

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="hosts that share nothing share PostgreSQL; SQLite is one machine's database",
    ),
    pytest.mark.skipif(
        not django_settings.REDIS_URL,
        reason="workers on two hosts share Redis; the filesystem broker is one machine's",
    ),
]
COUNT = 50
PASSWORD = "a-long-pass-phrase"
FORM = {"model": "sandbox/relay-async", "p_width": "64", "p_height": "64"}
TAKEOVER_LIMIT = 60.0  # seconds from the kill until the dead worker's work moves again


def routes(prefix: str) -> dict[str, dict[str, str]]:
    """The product's routes, on this test's own queues."""
    return {
        task: {**route, "queue": f"{prefix}-{route['queue']}"}
        for task, route in django_settings.CELERY_TASK_ROUTES.items()
    }


def purge(queues: set[str]) -> None:
    with celery_app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


def local_storage(folder: Path, request) -> tuple[dict[str, str], Callable[[], list[str]]]:
    """A media folder every process mounts, as a shared volume would be."""
    root = folder / "media"

    def stored() -> list[str]:
        return sorted(
            str(p.relative_to(root)) for p in (root / "originals").rglob("*") if p.is_file()
        )

    return {"MEDIA_ROOT": str(root)}, stored


def s3_storage(folder: Path, request) -> tuple[dict[str, str], Callable[[], list[str]]]:
    """A private bucket on the test S3 server (moto's, over HTTP), as hosts share it in
    production; each process's own MEDIA_ROOT must stay empty."""
    bucket = request.getfixturevalue("s3_server").new_bucket()

    def stored() -> list[str]:
        return sorted(name for name in bucket.names() if name.startswith("originals/"))

    return {**bucket.env, "MEDIA_ROOT": str(folder / "unused-media")}, stored


# Each storage: the environment every process gets, and how to list the originals stored.
STORAGES = {"s3": s3_storage, "local": local_storage}


def log_in(client: httpx.Client, username: str) -> str:
    page = client.get("/login/")
    token = client.cookies["csrftoken"]
    assert page.status_code == 200
    data = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    assert client.post("/login/", data=data).status_code == 302
    return client.cookies["csrftoken"]


def snapshot() -> dict[int, tuple]:
    rows = Generation.objects.values_list("pk", "status", "touched_at", "attempts")
    return {pk: rest for pk, *rest in rows}


def moved(before: tuple, now: tuple) -> bool:
    """A worker acted on it: a new state, or news from the worker in the same state (the
    sweeper touches a queued row it sends again: that is not a worker taking it)."""
    (status, touched, attempts), (new_status, new_touched, new_attempts) = before, now
    if new_status != status or new_attempts != attempts:
        return True
    return status != Generation.Status.QUEUED and new_touched != touched


@pytest.mark.parametrize("storage", STORAGES)
def test_a_worker_killed_halfway_is_taken_over_and_nothing_is_lost(
    transactional_db, tmp_path, settings, storage, request
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    get_user_model().objects.create_user("hana", password=PASSWORD)
    storage_env, stored = STORAGES[storage](tmp_path, request)
    prefix = f"hosts-{uuid.uuid4().hex[:8]}"
    routed = routes(prefix)
    queues = {route["queue"] for route in routed.values()}
    shared = {
        "REDIS_URL": django_settings.REDIS_URL,
        "SECRET_KEY": "shared by every host " + uuid.uuid4().hex,
        "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
        "SANDBOX_ENABLED": "1",
        "SANDBOX_LATENCY": "1.0",
        "GENERATE_RATE_COUNT": str(COUNT * 2),
        "ATELIER_TEST_ROUTES": json.dumps(routed),
        **storage_env,
    }
    database = conftest.test_database_url()
    worker_args = ["-Q", ",".join(sorted(queues)), "--pool", "threads", "--concurrency", "4"]
    worker_args += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    purge(queues)
    web = started_app(
        database, tmp_path / "web", shared, wsgi="tests.e2e.routed:application", asgi=False
    )
    with web as site:
        sandbox = {**shared, "SANDBOX_BASE_URL": site.url("/sandbox")}
        celery = {"module": "tests.e2e.routed"}
        hosts = [
            started_celery(
                database,
                tmp_path / name,
                ["worker", *worker_args, "--hostname", f"worker@{name}"],
                sandbox,
                **celery,
            )
            for name in ("host-a", "host-b")
        ]
        beat = started_celery(
            database, tmp_path / "beat", ["beat", "-l", "INFO"], sandbox, **celery
        )
        with hosts[0] as doomed, hosts[1] as survivor, beat:
            try:
                report = run(site, doomed)
            finally:
                purge(queues)
            print(survivor.log()[-3000:])
    kill_delay, takeovers, finished = report
    print(
        f"\n{COUNT} generations, worker killed with {kill_delay} done; "
        f"the dead worker's work moved again {max(takeovers, default=0):.1f} s after the kill "
        f"(CLAIM_LEASE {django_settings.CLAIM_LEASE} s, SWEEP_INTERVAL "
        f"{django_settings.SWEEP_INTERVAL:g} s); all done {finished:.1f} s after it"
    )
    generations = Generation.objects.filter(owner__username="hana")
    assert generations.count() == COUNT
    assert set(generations.values_list("status", flat=True)) == {"succeeded"}, [
        g.error for g in generations.exclude(status="succeeded")
    ]
    # Each image once: one row per generation, one file per row, no second copy under
    # another name.
    images = Image.objects.filter(generation__in=generations)
    assert images.count() == COUNT
    assert sorted(images.values_list("generation", flat=True)) == sorted(
        generations.values_list("pk", flat=True)
    )
    assert stored() == sorted(images.values_list("original", flat=True))
    assert not any((tmp_path / "unused-media").rglob("*"))  # with S3 on, nothing on disk
    # Work was in flight at the kill, and all of it moved again in time. (How much of it the
    # dead worker held depends on the moment; on a quiet machine the survivor may have had it.)
    assert takeovers, "nothing was in flight when the worker was killed"
    assert max(takeovers) <= TAKEOVER_LIMIT, takeovers


def run(site, doomed) -> tuple[int, list[float], float]:
    """Make COUNT generations through the web, kill `doomed` when half are done, make the rest
    and wait for all.

    Returns how many were done at the kill, how long after it each generation then in flight
    first moved again, and when the last one ended.
    """
    done = Generation.objects.filter(status="succeeded")
    with site.client() as client:
        token = log_in(client, "hana")

        def generate(n: int) -> None:
            data = {**FORM, "prompt": f"a harbour at dawn, take {n}"}
            answer = client.post("/generate", data=data, headers={"X-CSRFToken": token})
            assert answer.status_code == 302, answer.text[:1000]

        posted, deadline = 0, time.monotonic() + 120
        while done.count() < COUNT // 2:
            assert time.monotonic() < deadline, f"{done.count()} done in 120 s:\n{doomed.log()}"
            if posted < COUNT:
                generate(posted)
                posted += 1
            else:
                time.sleep(0.05)
        doomed.kill()
        killed_at, done_at_kill = time.monotonic(), done.count()
        before = {pk: row for pk, row in snapshot().items() if row[0] in Generation.IN_FLIGHT}
        first_moved: dict[int, float] = {}

        def look() -> dict[int, tuple]:
            now = snapshot()
            for pk, row in before.items():
                if pk not in first_moved and moved(row, now[pk]):
                    first_moved[pk] = time.monotonic() - killed_at
            return now

        for n in range(posted, COUNT):  # the rest, while one worker is gone
            generate(n)
            look()
    while time.monotonic() - killed_at < TAKEOVER_LIMIT + 30:
        now = look()
        if len(now) == COUNT and {row[0] for row in now.values()} == {"succeeded"}:
            break
        time.sleep(0.25)
    finished = time.monotonic() - killed_at
    stalled = set(before) - set(first_moved)
    assert not stalled, f"never moved after the kill: {stalled}"
    return done_at_kill, list(first_moved.values()), finished
