"""Failures on request: one engine, one marker language, for the sandbox and the tests' fakes.

The built-in sandbox provider and the fake AI/ML API, Relay and A1111 servers of the tests
(tests/e2e/fakes.py, which import this module) misbehave the way real providers do when a
prompt carries a marker: `[sandbox:NAME]`, or `[sandbox:NAME:N]` where the failure counts
something (N replaces its default). An unknown name is answered 400, like any other bad input.

The sandbox acts on markers only with SANDBOX_FAULTS on (the test suite sets it); otherwise a
marker is just prompt text. There the setting `SANDBOX_FAILURE = "NAME"` (or "NAME:N") applies
one to every request without a marker. The fakes exist only in tests and always act on markers.

    marker              acts on      what the provider does
    ------------------  -----------  ------------------------------------------------------------
    429                 submit       429 with Retry-After: 1 the first N (2) times for this prompt
    5xx-then-ok         submit       503 the first N (2) times for this prompt
    500-then-ok         submit       500 with a reason the first N (3) times for this prompt
    500                 submit       500 with a reason
    400-policy          submit       400 {"error": {"message": POLICY_REASON}}
    401                 submit       401 {"error": {"message": "Invalid API key."}}
    echo-key            submit       400 whose message quotes the key it was sent, as some
                                     providers quote the credentials they were given
    bad-json            submit       200 with the text "<html>oops"
    slow                submit       answers SLOW_SECONDS (5 s) late: longer than a lowered
                                     PROVIDER_TIMEOUT
    empty               answer       200 with no image: {"images": []} or {"data": []}
    task-stuck          relay task   the async task stays "running" for ever
    task-failed         relay task   the async task ends "failed" with TASK_FAILED_REASON
    private-url         image URL    http://10.0.0.1/x.png
    loopback-url        image URL    http://127.0.0.2:9/x.png (127.0.0.1 may be the provider's
                                     own host, which the worker trusts)
    metadata-url        image URL    http://169.254.169.254/latest/meta-data
    elsewhere-url       image URL    the picture's own URL on the other loopback name (localhost
                                     and 127.0.0.1 swapped): served, but not by the provider's host
    redirect-chain      file         redirects N (2) times to itself, then the picture
    redirect-private    file         redirects to http://10.0.0.1/x.png
    redirect-elsewhere  file         redirects once to itself on the other loopback name
    huge                file         Content-Length: 10 GB over a small body
    huge-stream         file         no Content-Length, streams DOWNLOAD_MAX_BYTES + 64 KiB
    trickle             file         streams the picture one byte per second
    slow-file           file         streams the picture in 4 parts, 0.75 s apart
    bomb                file         a PNG whose header claims 30000 x 30000 pixels
    not-image           file         HTML labelled Content-Type: image/png
    bad-base64          base64 image a b64_json or Relay image that is not valid base64
    huge-base64         base64 image base64 that decodes to more than DOWNLOAD_MAX_BYTES

A submit failure acts every time, or with N only the first N times for this prompt; after that
the provider answers normally. "Submit" is a request for images (`POST /v1/images/generations`
and `/v1/images/edits`, Relay's `POST /v2/...`, A1111's txt2img and img2img); "answer" is the
images of a sync answer or of a completed task. Image URL and file failures need an answer that
carries URLs, base64 failures one that carries base64.

Counts per prompt live, for the sandbox, in Django's cache for an hour (only the worker can
make them: the sandbox answers nothing else, `jobs.sandbox.auth`); for the fakes, in memory.
The sandbox's `submissions` and `file_requests` count, per prompt, what reached this process, so
tests can check that work was sent once; they are never served over HTTP, are kept only with
SANDBOX_FAULTS on, and hold the latest COUNTED_PROMPTS prompts at most.
"""

import json
import re
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache

MARKER = re.compile(r"\[sandbox:([a-z0-9-]+)(?::(\d+))?\]")
POLICY_REASON = "The prompt was flagged by the content policy."
TASK_FAILED_REASON = "The sandbox task failed: the prompt was flagged by the content policy."
BROKEN = "Internal server error: the sandbox broke on purpose."
ECHOED = "Unknown parameter for the key {key}"
SLOW_SECONDS = 5.0
TRICKLE_SECONDS = 1.0
SLOW_FILE_PARTS, SLOW_FILE_PAUSE = 4, 0.75
HUGE_LENGTH = 10 * 1024**3
STREAM_CHUNK = 64 * 1024
BOMB_SIDE = 30_000
NOT_AN_IMAGE = b"<!doctype html><html><body><h1>Not Found</h1></body></html>"
COUNT_SECONDS = 3600
COUNTED_PROMPTS = 1000

# name: (what it acts on, the default N)
FAILURES: dict[str, tuple[str, int]] = {
    "429": ("submit", 2),
    "5xx-then-ok": ("submit", 2),
    "500-then-ok": ("submit", 3),
    "500": ("submit", 0),
    "400-policy": ("submit", 0),
    "401": ("submit", 0),
    "echo-key": ("submit", 0),
    "bad-json": ("submit", 0),
    "slow": ("submit", 0),
    "empty": ("answer", 0),
    "task-stuck": ("task", 0),
    "task-failed": ("task", 0),
    "private-url": ("url", 0),
    "loopback-url": ("url", 0),
    "metadata-url": ("url", 0),
    "elsewhere-url": ("url", 0),
    "redirect-chain": ("file", 2),
    "redirect-private": ("file", 0),
    "redirect-elsewhere": ("file", 0),
    "huge": ("file", 0),
    "huge-stream": ("file", 0),
    "trickle": ("file", 0),
    "slow-file": ("file", 0),
    "bomb": ("file", 0),
    "not-image": ("file", 0),
    "bad-base64": ("base64", 0),
    "huge-base64": ("base64", 0),
}

OUTPUT_URLS = {
    "private-url": "http://10.0.0.1/x.png",
    "loopback-url": "http://127.0.0.2:9/x.png",
    "metadata-url": "http://169.254.169.254/latest/meta-data",
}
PRIVATE_REDIRECT = "http://10.0.0.1/x.png"
OTHER_LOOPBACK = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}

_lock = threading.Lock()


class PromptCounts(Counter[str]):
    """Counts per prompt, of the latest COUNTED_PROMPTS prompts only, so memory stays bounded."""

    def add(self, prompt: str) -> int:
        with _lock:
            self[prompt] += 1
            count = self[prompt]
            if len(self) > COUNTED_PROMPTS:
                del self[next(iter(self))]  # the prompt counted first
            return count


class UnknownFailure(ValueError):
    pass


@dataclass(frozen=True)
class Failure:
    name: str
    stage: str
    count: int


@dataclass(frozen=True)
class Answer:
    """What a provider sends instead of its own answer, in no web framework's terms: the
    sandbox makes a Django response of it, the fakes write it to their socket."""

    status: int
    body: bytes | Iterable[bytes] = b""  # an iterable is streamed, without a Content-Length
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def error(status: int, message: str, **headers: str) -> Answer:
    """An error in the shape both providers use: {"error": {"message": ...}}."""
    return Answer(status, json.dumps({"error": {"message": message}}).encode(), headers=headers)


class Faults:
    """The engine: which failure a prompt asks for, and what the provider does instead.

    `nth_time(key)` counts how often a key was seen, this time included; `active` and
    `fallback` say whether markers act at all and which failure applies without one.
    """

    def __init__(
        self,
        nth_time: Callable[[str], int],
        *,
        active: Callable[[], bool] = lambda: True,
        fallback: Callable[[], str] = lambda: "",
    ):
        self.nth_time, self.active, self.fallback = nth_time, active, fallback

    def parse(self, prompt: str) -> Failure | None:
        """The failure a prompt's marker (or else the fallback) asks for."""
        if not self.active():
            return None
        if match := MARKER.search(prompt):
            name, count = match.group(1), match.group(2) or ""
        elif default := self.fallback():
            name, _, count = default.partition(":")
        else:
            return None
        if name not in FAILURES or not (count == "" or count.isdigit()):
            raise UnknownFailure(
                f"Unknown sandbox failure {name!r}: use one of {', '.join(FAILURES)}."
            )
        stage, default_count = FAILURES[name]
        return Failure(name, stage, int(count) if count else default_count)

    def _at(self, stage: str, prompt: str) -> Failure | None:
        failure = self.parse(prompt)
        return failure if failure is not None and failure.stage == stage else None

    def _acts(self, failure: Failure, prompt: str) -> bool:
        """Every time, or with a count only the first `count` times for this prompt."""
        if not failure.count:
            return True
        return (
            self.nth_time(f"{failure.name}:{sha256(prompt.encode()).hexdigest()}") <= failure.count
        )

    def submit(self, prompt: str, headers: Mapping[str, str]) -> Answer | None:
        """The answer to a request for images, instead of the provider's own (None for `slow`:
        see `submit_delay`). `headers`, with lower-case names, carry the key it was sent."""
        failure = self._at("submit", prompt)
        if failure is None or failure.name == "slow" or not self._acts(failure, prompt):
            return None
        return SUBMIT[failure.name](headers.get("x-api-key") or headers.get("authorization", ""))

    def submit_delay(self, prompt: str) -> float:
        """How many seconds late to answer a request for images (0 when on time)."""
        failure = self._at("submit", prompt)
        slow = failure is not None and failure.name == "slow" and self._acts(failure, prompt)
        return SLOW_SECONDS if slow else 0.0

    def empty(self, prompt: str) -> bool:
        return self._at("answer", prompt) is not None

    def output_url(self, prompt: str, url: str) -> str:
        """The address to hand out for a picture whose own address is `url`."""
        failure = self._at("url", prompt)
        if failure is None:
            return url
        return elsewhere(url) if failure.name == "elsewhere-url" else OUTPUT_URLS[failure.name]

    def b64_image(self, prompt: str) -> str | None:
        failure = self._at("base64", prompt)
        if failure is None:
            return None
        if failure.name == "bad-base64":
            return "%%% this is not base64 %%%"
        # Valid base64 ("AAAA" is three zero bytes) that decodes past the download cap.
        return "AAAA" * (settings.DOWNLOAD_MAX_BYTES // 3 + 2)

    def task_answer(self, prompt: str, done: bool) -> dict | None:
        """What a Relay task says instead of its own state: stuck running, or failed when done."""
        failure = self._at("task", prompt)
        if failure is None:
            return None
        if failure.name == "task-failed" and done:
            return {"status": "failed", "error_detail": TASK_FAILED_REASON}
        return {"status": "running"} if failure.name == "task-stuck" else None

    def file(
        self, prompt: str, url: str, picture: Callable[[], bytes], content_type: str
    ) -> Answer | None:
        """The answer to a download of `url` (absolute, with its query) instead of `picture`."""
        failure = self._at("file", prompt)
        return FILE[failure.name](failure, url, picture, content_type) if failure else None


SUBMIT: dict[str, Callable[[str], Answer]] = {
    "429": lambda key: error(429, "Rate limit exceeded; slow down.", **{"Retry-After": "1"}),
    "5xx-then-ok": lambda key: error(503, "The service is temporarily overloaded."),
    "500-then-ok": lambda key: error(500, BROKEN),
    "500": lambda key: error(500, BROKEN),
    "400-policy": lambda key: error(400, POLICY_REASON),
    "401": lambda key: error(401, "Invalid API key."),
    "echo-key": lambda key: error(400, ECHOED.format(key=key)),
    "bad-json": lambda key: Answer(200, b"<html>oops", "text/html"),
}


def elsewhere(url: str) -> str:
    """The same address on the other loopback name (localhost for any other host)."""
    parts = urlsplit(url)
    host = OTHER_LOOPBACK.get(parts.hostname or "", "localhost")
    return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A well-formed PNG header claiming side x side RGB pixels, over a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def _trickle(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        if i:
            time.sleep(TRICKLE_SECONDS)
        yield data[i : i + 1]


def _in_parts(data: bytes) -> Iterator[bytes]:
    size = -(-len(data) // SLOW_FILE_PARTS)
    for i in range(0, len(data), size):
        if i:
            time.sleep(SLOW_FILE_PAUSE)
        yield data[i : i + size]


def _past_the_cap(head: bytes) -> Iterator[bytes]:
    yield head
    total = settings.DOWNLOAD_MAX_BYTES + STREAM_CHUNK
    for _ in range(len(head), total, STREAM_CHUNK):
        yield b"\0" * STREAM_CHUNK


def _redirect(location: str) -> Answer:
    return Answer(302, content_type="text/plain", headers={"Location": location})


def _hop(url: str) -> tuple[int, str]:
    """Which hop of a redirect this is (from `?hop=N`), and the address of the next one."""
    parts = urlsplit(url)
    given = parts.query.removeprefix("hop=")
    hop = int(given) if given.isdigit() else 0
    return hop, urlunsplit(parts._replace(query=f"hop={hop + 1}"))


def _redirect_chain(f: Failure, url: str, picture: Callable[[], bytes], ct: str) -> Answer | None:
    hop, following = _hop(url)
    return _redirect(following) if hop < f.count else None


def _redirect_elsewhere(
    f: Failure, url: str, picture: Callable[[], bytes], ct: str
) -> Answer | None:
    hop, following = _hop(url)
    return None if hop else _redirect(elsewhere(following))


FileAnswer = Callable[[Failure, str, Callable[[], bytes], str], Answer | None]
FILE: dict[str, FileAnswer] = {
    "redirect-chain": _redirect_chain,
    "redirect-private": lambda f, url, picture, ct: _redirect(PRIVATE_REDIRECT),
    "redirect-elsewhere": _redirect_elsewhere,
    "huge": lambda f, url, picture, ct: Answer(
        200, picture()[:1024], ct, {"Content-Length": str(HUGE_LENGTH)}
    ),
    "huge-stream": lambda f, url, picture, ct: Answer(200, _past_the_cap(picture()), ct),
    "trickle": lambda f, url, picture, ct: Answer(200, _trickle(picture()), ct),
    "slow-file": lambda f, url, picture, ct: Answer(200, _in_parts(picture()), ct),
    "bomb": lambda f, url, picture, ct: Answer(200, bomb_png(), "image/png"),
    "not-image": lambda f, url, picture, ct: Answer(200, NOT_AN_IMAGE, "image/png"),
}


# --- The sandbox's own use: behind SANDBOX_FAULTS, counted in the cache ----------------------


def _cached_nth_time(key: str) -> int:
    key = f"sandbox-failure:{key}"
    cache.add(key, 0, COUNT_SECONDS)
    return cache.incr(key)


sandbox = Faults(
    _cached_nth_time,
    active=lambda: settings.SANDBOX_FAULTS,
    fallback=lambda: settings.SANDBOX_FAILURE,
)
submissions = PromptCounts()
file_requests = PromptCounts()


def record(counts: PromptCounts, prompt: str) -> None:
    if settings.SANDBOX_FAULTS:
        counts.add(prompt)


def submit_answer(prompt: str, headers: Mapping[str, str]) -> Answer | None:
    """Count a submission, then answer instead of the sandbox when a failure says so."""
    record(submissions, prompt)
    if delay := sandbox.submit_delay(prompt):
        time.sleep(delay)
    return sandbox.submit(prompt, headers)


def file_answer(
    prompt: str, url: str, picture: Callable[[], bytes], content_type: str
) -> Answer | None:
    """Count a file request, then answer instead of the sandbox when a failure says so."""
    record(file_requests, prompt)
    return sandbox.file(prompt, url, picture, content_type)
