"""A real Celery worker in a subprocess, on the same broker and test database as the live server."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from gallery.models import Generation

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_queues() -> None:
    from webapp.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("provider", "images"):
            try:
                channel.queue_purge(queue)
            except Exception:  # noqa: S112 - a queue that does not exist yet has nothing in it
                continue


@pytest.fixture(scope="session")
def worker_media(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("worker-media"))


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, live_server, worker_media):
    """Start `celery worker` against the test database; stop it (SIGTERM) at the end."""
    with django_db_blocker.unblock():
        database_url = test_database_url()
    purge_queues()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": worker_media,
        "SANDBOX_BASE_URL": f"{live_server.url}/sandbox",
        "BROKER_DIR": str(settings.BROKER_DIR),
        "POLL_INTERVAL": "0.3",
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "webapp",
        "worker",
        "-Q",
        "provider,images",
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    log_path = Path(worker_media) / "worker.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    print(log_path.read_text()[-4000:])


@pytest.fixture
def e2e(celery_worker, transactional_db, settings, worker_media):
    """The live server and the worker share one media root, as web and worker do in production."""
    settings.MEDIA_ROOT = worker_media
    settings.SANDBOX_LATENCY = 0.4
    return celery_worker


def wait_for(generation: Generation, timeout: float = 60) -> Generation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        generation.refresh_from_db()
        if generation.status in Generation.TERMINAL:
            return generation
        time.sleep(0.2)
    raise AssertionError(f"still {generation.status} after {timeout}s")


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session (never a downloaded browser)."""
    import shutil

    from playwright.sync_api import sync_playwright

    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=flags)
        yield chromium
        chromium.close()
