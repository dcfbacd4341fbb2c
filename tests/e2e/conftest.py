"""A real Celery worker in a subprocess, on the same broker and test database as the live server."""

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from celery.app.routes import Router, prepare
from django.conf import settings
from django.db import connection
from PIL import Image as PILImage

from gallery.models import Generation
from jobs.sandbox.failures import SLOW_SECONDS
from tests.e2e.fakes import FakeProviders
from tests.e2e.oidc import CLIENT_ID as OIDC_CLIENT_ID
from tests.e2e.oidc import CLIENT_SECRET as OIDC_CLIENT_SECRET
from tests.e2e.oidc import OidcProvider
from tests.e2e.started import StartedApp, started_app
from tests.storage_server import Bucket
from webapp.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
FAKE_AIMLAPI_KEY = "fake-aimlapi-key"
FAKE_RELAY_KEY = "fake-relay-key"
# The worker's read timeout: short, so `[sandbox:slow]` answers arrive too late.
WORKER_PROVIDER_TIMEOUT = 3.0
assert SLOW_SECONDS > WORKER_PROVIDER_TIMEOUT + 1
# What every test worker runs with besides its own settings: the sandbox on, with its failure
# markers (as tests/conftest.py sets them for this process), and short waits between retries.
WORKER_ENV = {"SANDBOX_ENABLED": "1", "SANDBOX_FAULTS": "1", "RETRY_INITIAL_DELAY": "0.05"}


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
        for queue in ("provider", "images", "webhooks"):
            try:
                channel.queue_purge(queue)
            except Exception:  # noqa: S112 - a queue that does not exist yet has nothing in it
                continue


@pytest.fixture(scope="session")
def worker_media(tmp_path_factory) -> str:
    """The session worker's MEDIA_ROOT, holding its log: it stores media into worker_bucket."""
    return str(tmp_path_factory.mktemp("worker-media"))


@pytest.fixture(scope="session")
def worker_bucket(s3_server) -> Bucket:
    """Where the session's worker stores media, as a site with AWS_STORAGE_BUCKET_NAME does."""
    return s3_server.new_bucket()


@pytest.fixture(scope="session")
def fake_providers():
    """The AI/ML API, Relay and an A1111 server, faked over real HTTP on 127.0.0.1."""
    with FakeProviders(aimlapi_key=FAKE_AIMLAPI_KEY, relay_key=FAKE_RELAY_KEY) as fake:
        yield fake


def provider_settings(fake: FakeProviders) -> dict[str, str]:
    """Where the providers live and the keys to use: the worker's env, the web's settings."""
    return {
        "AIMLAPI_BASE_URL": fake.aimlapi_url,
        "AIMLAPI_API_KEY": FAKE_AIMLAPI_KEY,
        "RELAY_BASE_URL": fake.relay_url,
        "RELAY_API_KEY": FAKE_RELAY_KEY,
        "A1111_BASE_URL": fake.a1111_url,
    }


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup,
    django_db_blocker,
    live_server,
    worker_media,
    worker_bucket,
    fake_providers,
):
    """Start `celery worker` against the test database; stop it (SIGTERM) at the end.

    It talks to the fake providers, which start first and outlive it, and stores media in
    the S3 server's bucket.
    """
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
        "PROVIDER_TIMEOUT": str(WORKER_PROVIDER_TIMEOUT),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        # As an operator shipping logs runs it (tests/e2e/test_ops_e2e.py reads them).
        "LOG_FORMAT": "json",
        **WORKER_ENV,
        **worker_bucket.env,
        **provider_settings(fake_providers),
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
def e2e(celery_worker, transactional_db, settings, worker_bucket):
    """The live server and the worker share one bucket, as web and worker do in production."""
    worker_bucket.use(settings)
    settings.SANDBOX_LATENCY = 0.4
    return celery_worker


@pytest.fixture
def providers(e2e, settings, fake_providers) -> FakeProviders:
    """`e2e`, with the web process configured for the fakes as the worker is.

    The form refuses models whose key is missing, and lists the A1111 server's checkpoints.
    """
    for name, value in provider_settings(fake_providers).items():
        setattr(settings, name, value)
    return fake_providers


def decode(field) -> PILImage.Image:
    with field.open("rb") as f:
        image = PILImage.open(io.BytesIO(f.read()))
        image.load()
    return image


def assert_stored(
    generation: Generation, count: int, size: tuple[int, int], fmt: str = "PNG"
) -> list:
    """It succeeded; every original decodes at the size asked for, every thumbnail at its own."""
    assert generation.status == "succeeded", generation.error
    assert generation.finished_at is not None
    images = list(generation.images.order_by("index"))
    assert [i.index for i in images] == list(range(count))
    for image in images:
        original = decode(image.original)
        assert original.format == fmt
        assert original.size == size == (image.width, image.height)
        thumb = decode(image.thumbnail)
        assert thumb.format == "WEBP"
        assert max(thumb.size) == min(768, max(size))
        assert thumb.size == (image.thumb_width, image.thumb_height)
        small = decode(image.thumbnail_small)
        assert small.format == "WEBP" and max(small.size) == min(256, max(size))
    return images


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


@pytest.fixture
def start_app(transactional_db, tmp_path):
    """Start Atelier as an operator would (gunicorn, real defaults) with only the given env.

    `start_app({"SANDBOX_ENABLED": "1"})` returns a `StartedApp`; every app started is stopped
    at the end of the test. It shares the test database, so rows made here are seen there.
    """
    with ExitStack() as stack:
        count = 0

        def start(env: dict[str, str] | None = None, **kwargs) -> StartedApp:
            nonlocal count
            count += 1
            var_dir = tmp_path / f"app-{count}"
            return stack.enter_context(started_app(test_database_url(), var_dir, env, **kwargs))

        yield start


class WorkerProcess:
    """A Celery worker subprocess, which a test may SIGKILL and start again; its log is kept."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
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

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""


class WebhookWorker(WorkerProcess):
    """A worker on the `webhooks` queue alone (the session's worker leaves it), with the
    settings a webhook test needs."""

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "webhooks"]
        command += ["--pool", "threads", "--concurrency", "2", "--loglevel", "INFO"]
        return [*command, "--without-gossip", "--without-mingle", "--without-heartbeat"]


@pytest.fixture
def webhook_worker(e2e, receiver, live_server, worker_media, tmp_path):
    """Delivers to the loopback receiver: short retries, a short claim, signed links to the
    live server."""
    env = {
        **os.environ,
        **WORKER_ENV,
        "DATABASE_URL": test_database_url(),
        "MEDIA_ROOT": worker_media,
        "BROKER_DIR": str(settings.BROKER_DIR),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{receiver.server.server_port}",
        "WEBHOOK_RETRY_DELAYS": "0.3,0.3,0.3,0.3,0.3",
        "WEBHOOK_TIMEOUT": "5",
        "WEBHOOK_CLAIM_LEASE": "6",
        "PUBLIC_BASE_URL": live_server.url,
    }
    purge_queues()
    worker = WebhookWorker(env, tmp_path / "webhook-worker.log")
    worker.start()
    yield worker
    worker.stop()
    print(worker.log())


def until(condition, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


@pytest.fixture(scope="session")
def oidc_provider(node_tools, live_server):
    """A real OpenID Connect provider (npm oidc-provider under node) on loopback, for the session.

    Its one client is registered with the live server's `/oidc/callback/`.
    """
    with OidcProvider(node_tools, f"{live_server.url}/oidc/callback/") as provider:
        yield provider


@pytest.fixture
def sso(oidc_provider, settings, transactional_db) -> OidcProvider:
    """Single sign-on turned on, against `oidc_provider`; its groups come with a `groups` scope."""
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_CLIENT_ID = OIDC_CLIENT_ID
    settings.OIDC_CLIENT_SECRET = OIDC_CLIENT_SECRET
    settings.OIDC_SCOPES = "openid email profile groups"
    return oidc_provider


@pytest.fixture
def sign_in(live_server):
    """`sign_in(page, "alice")`: log in through the login page, landing on the gallery."""
    return lambda page, username: log_in(page, live_server, username)


# What axe returns for a page: only the serious and critical violations, each with where.
AXE_SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, help: v.help, nodes: v.nodes.slice(0, 5).map(
      n => n.target.join(" ") + " :: " + (n.failureSummary || "").slice(0, 200))}));
}"""


@pytest.fixture(scope="session")
def axe(node_tools):
    """`axe(page)`: the page's serious and critical accessibility violations, from axe-core.

    The strict CSP refuses an injected <script>; the library's source runs through evaluate,
    and the page's own policy stays in force.
    """
    source = (node_tools / "axe-core" / "axe.min.js").read_text()

    def audit(page) -> list[dict]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(source)
        return page.evaluate(AXE_SERIOUS)

    return audit


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


class Worker(WorkerProcess):
    """A worker on queues of its own (its routes in its environment), for tests that need worker
    settings of their own; a test may kill it and start it again."""

    def __init__(self, prefix: str, media: Path, env: dict[str, str]):
        self.prefix, self.media = prefix, media
        super().__init__(
            {
                **os.environ,
                "MEDIA_ROOT": str(media),
                "BROKER_DIR": str(settings.BROKER_DIR),
                "POLL_INTERVAL": "0.3",
                "DJANGO_SETTINGS_MODULE": "webapp.settings",
                "ATELIER_TEST_ROUTES": json.dumps(routes(prefix)),
                **WORKER_ENV,
                **env,
            },
            media / "worker.log",
        )
        self.starts = 0

    def command(self) -> list[str]:
        self.starts += 1
        queues = ",".join(sorted({route["queue"] for route in routes(self.prefix).values()}))
        return [
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

    def purge(self) -> None:
        with celery_app.connection_for_write() as conn:
            for queue in {route["queue"] for route in routes(self.prefix).values()}:
                try:
                    conn.default_channel.queue_purge(queue)
                except Exception:  # noqa: S112 - a queue never used has nothing in it
                    continue

    def finished(self, task: str) -> int:
        """How many `jobs.tasks.<task>` runs have ended, by the worker's own log."""
        text = self.log_path.read_text() if self.log_path.exists() else ""
        return len(re.findall(rf"Task jobs\.tasks\.{task}\[[^\]]+\] succeeded", text))


def start_worker(prefix: str, tmp_path_factory, django_db_blocker, live_server, **env: str):
    """A started Worker on the test database, calling the live server's sandbox."""
    with django_db_blocker.unblock():
        database_url = test_database_url()
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
    router = Router(prepare(routes(prefix)), celery_app.amqp.queues, True, app=celery_app)
    monkeypatch.setattr(celery_app.amqp, "router", router)


def generate(client, **data) -> Generation:
    """Press Generate with this form data, as a person would; the generation it made."""
    response = client.post("/generate", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Generation.objects.filter(prompt=data.get("prompt", "")).latest("created_at")


# Forms for small, quick sandbox generations.
FLUX = {
    "model": "sandbox/flux-sync",
    "p_image_size": "custom",
    "p_image_size_width": "64",
    "p_image_size_height": "64",
}
RELAY = {"model": "sandbox/relay-async", "p_width": "64", "p_height": "64"}


@pytest.fixture
def page(browser):
    """A fresh browser context and page for one test (downloads accepted)."""
    context = browser.new_context(accept_downloads=True)
    yield context.new_page()
    context.close()


def log_in(page, live_server, username: str) -> None:
    """Log in through the login page as one of the suite's people, landing on the gallery."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("region", name="Gallery")).to_be_attached()
