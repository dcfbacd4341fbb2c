"""A site of several processes for bench/load.py, built on `Stack` (bench/harness/stack.py).

What `Stack` gives (a temporary VAR_DIR, a private PostgreSQL database, migrate, private queue
names, Django set up in this process, tear-down on exit or a signal), plus:
- moto's S3 server (`ThreadedMotoServer`, in this process) with a private bucket: all media;
- a sandbox server: its own gunicorn, as a provider is another site (its sync model sleeps the
  latency in a thread, which must not be a thread of the web processes measured);
- two web processes (gunicorn, each on its own port) and two Celery workers, and beat.
"""

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import uuid

import boto3
import httpx
from moto.server import ThreadedMotoServer

from bench.harness.stack import Stack, StackError, free_port

REGION = "us-east-1"
# Stopped in this order: nothing new is scheduled, taken or asked for while the rest goes.
ORDER = ("beat", "worker-1", "worker-2", "web-1", "web-2", "sandbox")


class Fleet(Stack):
    def __init__(
        self, *, latency: float, web_workers: int, web_threads: int, concurrency: int, keep: bool
    ) -> None:
        super().__init__(
            "load",
            latency=latency,
            concurrency=concurrency,
            web_workers=web_workers,
            web_threads=web_threads,
            keep=keep,
        )
        self.ports: list[int] = []
        self.store: ThreadedMotoServer | None = None
        self.bucket = ""

    # -- set up ---------------------------------------------------------------------------

    def _start(self) -> None:
        self._start_store()
        super()._start()  # migrate, Django here, then _start_web and _start_worker below

    def _start_store(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        port = free_port()
        self.store = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.store.start()
        keys = {"AWS_ACCESS_KEY_ID": "atelier-bench", "AWS_SECRET_ACCESS_KEY": "atelier-bench"}
        self.bucket = f"atelier-load-{uuid.uuid4().hex[:12]}"
        url = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=self.bucket)
        os.environ.update(
            AWS_STORAGE_BUCKET_NAME=self.bucket,
            AWS_S3_ENDPOINT_URL=url,
            AWS_S3_REGION_NAME=REGION,
            **keys,
        )

    def _start_web(self) -> None:
        # Stack chose self.port and pointed SANDBOX_BASE_URL at it: the sandbox's server.
        self._gunicorn("sandbox", self.port, workers=1, threads=16, app="webapp.wsgi")
        for n in (1, 2):
            port = free_port()
            self._gunicorn(f"web-{n}", port, self.web_workers, self.web_threads, asgi=True)
            self.ports.append(port)

    def _gunicorn(
        self, name: str, port: int, workers: int, threads: int, app: str = "", asgi: bool = False
    ) -> None:
        """The web processes serve the product as the site runs it (ASGI, uvicorn's worker:
        sync views each in a thread of their own), enqueueing to this run's private queues;
        the sandbox is another site, on gunicorn's threads."""
        app = app or ("bench.harness.asgi" if asgi else "bench.harness.wsgi")
        command = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", str(workers), "--no-control-socket"]
        command += ["-k", "uvicorn_worker.UvicornWorker"] if asgi else ["--threads", str(threads)]
        process = self._spawn(name, command)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"{name} (gunicorn) exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/login/", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise StackError(f"{name} (gunicorn) did not answer within 90 s")

    def _start_worker(self) -> None:
        queues = ",".join(self.queues.values())
        for n in (1, 2):
            name = f"worker-{n}"
            process = self._spawn(
                name,
                [
                    *(sys.executable, "-m", "bench.harness.worker", "worker", "-n", f"load-{n}@%h"),
                    *("-Q", queues, "--pool", self.pool, "--concurrency", str(self.concurrency)),
                    *("--loglevel", "INFO", "--without-gossip", "--without-mingle"),
                ],
            )
            self._wait_log(name, process, " ready.")
        beat = self._spawn(
            "beat", [sys.executable, "-m", "bench.harness.worker", "beat", "--loglevel", "INFO"]
        )
        self._wait_log("beat", beat, "beat: Starting")

    def _wait_log(self, name: str, process: subprocess.Popen, text: str) -> None:
        log = self.var_dir / f"{name}.log"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"{name} exited with {process.returncode}")
            if text in log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise StackError(f"{name} was not ready within 90 s")

    # -- while running --------------------------------------------------------------------

    @property
    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def description(self) -> str:
        return (
            f"{self.database} + {self.broker} broker + moto S3; 2 web processes (gunicorn + "
            f"uvicorn's worker, {self.web_workers} each), 2 Celery workers (--pool {self.pool} "
            f"--concurrency {self.concurrency}) + beat; sandbox (own gunicorn) latency "
            f"{self.latency:g} s"
        )

    def bucket_keys(self) -> set[str]:
        from django.core.files.storage import default_storage

        client = default_storage.connection.meta.client
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def print_logs(self, lines: int = 30) -> None:
        for name in ORDER:
            path = self.var_dir / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                print(f"--- last lines of {name}.log", *tail, sep="\n", file=sys.stderr)

    # -- tear down ------------------------------------------------------------------------

    def _stop(self) -> None:
        for name in ORDER:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        super()._stop()  # queues, database, directory
        if self.store is not None:
            self.store.stop()
