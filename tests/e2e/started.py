"""Atelier as an operator starts it: gunicorn in a subprocess, the environment the README gives.

Tests that must hold for the app *as started* (not as the test settings configure it) use
`started_app`: a fresh VAR_DIR, the test database, and only the variables the test names.
Nothing of the test process's own settings reaches it, so its defaults are the real defaults.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
# Variables the app reads; none of them leaks from the test process into a started app.
APP_VARIABLES = (
    "SANDBOX_ENABLED",
    "SANDBOX_FAULTS",
    "SANDBOX_FAILURE",
    "SANDBOX_BASE_URL",
    "SANDBOX_LATENCY",
    "REDIS_URL",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "DEBUG",
    "HTTPS",
    "SECURE_COOKIES",
    "MEDIA_ROOT",
    "BROKER_DIR",
    "VAR_DIR",
    "PORT",
    "AIMLAPI_API_KEY",
    "RELAY_API_KEY",
    "A1111_BASE_URL",
    "PROXY_HOPS",
    "DATABASE_URL",
    "METRICS_TOKEN",
    "METRICS_ALLOWED",
    "LOG_FORMAT",
    "GENERATE_RATE_COUNT",
    "API_WAIT_SECONDS",
    "GENERATE_RATE_SECONDS",
    "LOGIN_RATE_COUNT",
    "LOGIN_RATE_SECONDS",
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StartedApp:
    def __init__(self, base_url: str, var_dir: Path, process: subprocess.Popen) -> None:
        self.base_url = base_url
        self.var_dir = var_dir
        self.process = process

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def log(self) -> str:
        path = self.var_dir / "web.log"
        return path.read_text(errors="replace") if path.exists() else ""


def process_env(database_url: str, var_dir: Path, env: dict[str, str] | None) -> dict[str, str]:
    """A started process's environment: none of the test process's app settings, a VAR_DIR of
    its own, and the keys an operator gives every process of a site on PostgreSQL
    (webapp/hosts.py) unless `env` gives the ones to share."""
    var_dir.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }


@contextmanager
def started_app(
    database_url: str,
    var_dir: Path,
    env: dict[str, str] | None = None,
    *,
    workers: int = 1,
    up_path: str = "/login/",
    wsgi: str = "webapp.wsgi",
    port: int | None = None,
    asgi: bool = True,
) -> Iterator[StartedApp]:
    """gunicorn serving `webapp.asgi` in uvicorn's worker, as `manage.py serve`, compose and
    the Dockerfile run it, on a free port until the block ends; with `asgi=False`, the WSGI
    application `wsgi` in threads (4 per process) instead.

    `database_url` is the test database (already migrated by pytest-django); `env` holds the
    only settings the test chooses, e.g. {"SANDBOX_ENABLED": "1"}. It is up once `up_path`
    answers below 500 (`/healthz` for an app whose database is meant to be unreachable).
    """
    port = port or free_port()  # a given port: the same site started again after a stop
    child_env = {"PORT": str(port), **process_env(database_url, var_dir, env)}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        *(["webapp.asgi", "-k", "uvicorn_worker.UvicornWorker"] if asgi else [wsgi]),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *([] if asgi else ["--threads", "4"]),
        "--no-control-socket",
    ]
    log = open(var_dir / "web.log", "w")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        command, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    app = StartedApp(f"http://127.0.0.1:{port}", var_dir, process)
    try:
        _wait_until_up(app, up_path)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(app: StartedApp, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {app.process.returncode}:\n{app.log()}")
        try:
            if httpx.get(app.url(path), timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer within 60 s:\n{app.log()}")


class StartedCelery:
    """A `celery worker` or `celery beat` subprocess, which a test may kill like a lost host."""

    def __init__(self, var_dir: Path, process: subprocess.Popen) -> None:
        self.var_dir = var_dir
        self.process = process

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgement; whatever it held is cut short."""
        assert self.process.poll() is None, self.log()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def log(self) -> str:
        path = self.var_dir / "celery.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def started_celery(
    database_url: str,
    var_dir: Path,
    args: list[str],
    env: dict[str, str] | None = None,
    *,
    module: str = "celery",
) -> Iterator[StartedCelery]:
    """`python -m <module> -A webapp <args>` (a worker or beat) until the block ends (SIGTERM).

    `module` may be one that sets the app up first, then runs Celery's command line with
    the arguments it is given (tests/e2e/routed.py).
    """
    app = ["-A", "webapp"] if module == "celery" else []
    command = [sys.executable, "-m", module, *app, *args]
    child_env = process_env(database_url, var_dir, env)
    log = open(var_dir / "celery.log", "w")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        command, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    try:
        yield StartedCelery(var_dir, process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
