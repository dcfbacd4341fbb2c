"""A webhook receiver on loopback that checks every delivery with the `standardwebhooks` package."""

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gallery.webhooks import endpoints


class Receiver:
    """Answers `fail_first` requests with 500, then accepts each webhook-id once (a repeat is
    answered 200 and not counted again, as the spec tells receivers to de-duplicate).

    `hold_first`: the first request waits until `release` is set, then is accepted.
    """

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.fail_first = 0
        self.hold_first = False
        self.holding = threading.Event()
        self.release = threading.Event()
        self.requests: list[dict] = []
        self.accepted: Counter[str] = Counter()
        self.events: list[dict] = []
        self.unverified = 0
        self.repeats = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                status = receiver.receive(body, {k.lower(): v for k, v in self.headers.items()})
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"ok": %s}' % (b"true" if status == 200 else b"false"))
                except OSError:  # the sender is gone (a killed worker)
                    pass

            def log_message(self, *args) -> None:
                pass

        return Handler

    def receive(self, body: str, headers: dict) -> int:
        with self._lock:
            self.requests.append(headers)
            number = len(self.requests)
        if number == 1 and self.hold_first:
            self.holding.set()
            self.release.wait(30)
        try:
            event = self.verify(body, headers)
        except WebhookVerificationError:
            self.unverified += 1
            return 401
        if number <= self.fail_first:
            return 500
        with self._lock:
            if headers["webhook-id"] in self.accepted:
                self.repeats += 1
            else:
                self.accepted[headers["webhook-id"]] = 1
                self.events.append(event)
        return 200

    def verify(self, body: str, headers: dict) -> dict:
        """Any of the secrets known to the receiver may match (a rotation's overlap)."""
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        raise WebhookVerificationError("no secret matched")

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    """A receiver on loopback, which WEBHOOK_ALLOWED_HOSTS lets through the SSRF guard."""
    with Receiver() as found:
        settings.WEBHOOK_ALLOWED_HOSTS = [f"http://127.0.0.1:{found.server.server_port}"]
        yield found


@pytest.fixture
def hook(studio, alice, receiver):
    """The studio's endpoint to the receiver, for every event; the receiver knows its secret."""
    events = ["generation.succeeded", "generation.failed", "budget.near_limit", "budget.exceeded"]
    endpoint, secret = endpoints.add(studio, alice, url=receiver.url, events=events)
    receiver.secrets.append(secret)
    return endpoint
