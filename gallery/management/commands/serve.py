"""Run the whole stack on one machine: web server, Celery worker and beat; Ctrl-C stops all."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and beat; stop them all on Ctrl-C."

    def handle(self, *args, **options) -> None:
        bindir = os.path.dirname(sys.executable)
        port = settings.PORT
        commands = {
            "web": [
                f"{bindir}/gunicorn",
                # ASGI, so POST /v1/images/* can wait minutes for a generation without holding
                # a worker; Django runs the sync views in threads.
                "webapp.asgi",
                "-k",
                "uvicorn_worker.UvicornWorker",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
            "worker": [
                f"{bindir}/celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                "provider,images,webhooks",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
            ],
            "beat": [f"{bindir}/celery", "-A", "webapp", "beat", "--loglevel", "INFO"],
        }
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self._announce(port, processes)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                        stopping = True
                time.sleep(0.5)
        finally:
            self._stop_all(processes)

    def _announce(self, port: int, processes: dict[str, subprocess.Popen]) -> None:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "login/", timeout=2)  # noqa: S310 - our own server
                break
            except OSError:
                if any(p.poll() is not None for p in processes.values()):
                    return
                time.sleep(0.5)
        username = settings.ADMIN_USERNAME
        hint = (settings.VAR_DIR / "admin_password").relative_to(settings.BASE_DIR, walk_up=True)
        self.stdout.write(
            self.style.SUCCESS(f"\nAtelier is running: open {url}\n")
            + f"Log in as {username!r} with ADMIN_PASSWORD, or the password printed on first run "
            f"(saved in {hint} until the first login).\n"
            "Press Ctrl-C to stop the web server, worker and beat.\n"
        )

    def _stop_all(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Stopped.")
