"""Failures on request: the sandbox misbehaves the way real providers do.

Only with SANDBOX_FAULTS on (the test suite sets it); otherwise a marker is just prompt text.
Choose one per request with a marker anywhere in the prompt, `[sandbox:NAME]`, or
`[sandbox:NAME:N]` where the failure counts something (N replaces its default). The setting
`SANDBOX_FAILURE = "NAME"` (or "NAME:N") applies one to every request without a marker.
An unknown name is answered 400, like any other bad input.

    marker            acts on        what the sandbox does
    ----------------  -------------  ----------------------------------------------------------
    429               submit         429 with Retry-After: 1 the first N (2) times for this
                                     prompt, then answers normally
    5xx-then-ok       submit         503 the first N (2) times for this prompt, then answers
    500-then-ok       submit         500 with a reason the first N (3) times for this prompt,
                                     then answers
    500               submit         500 with a reason, every time
    400-policy        submit         400 {"error": {"message": POLICY_REASON}}
    401               submit         401 {"error": {"message": "Invalid API key."}}
    slow              submit         waits SLOW_SECONDS (3 s) before answering: longer than a
                                     lowered PROVIDER_TIMEOUT
    bad-json          submit         200 with the text "<html>oops"
    empty             answer         200 with no image: {"images": []} or {"data": []}
    task-stuck        relay task     the async task stays "running" for ever
    task-failed       relay task     the async task ends "failed" with TASK_FAILED_REASON
    private-url       image URL      http://10.0.0.1/x.png
    loopback-url      image URL      http://127.0.0.2:9/x.png (127.0.0.1 is the sandbox's own
                                     host, which the worker trusts)
    metadata-url      image URL      http://169.254.169.254/latest/meta-data
    redirect-chain    file           redirects N (2) times to itself, then the picture
    redirect-private  file           redirects to http://10.0.0.1/x.png
    huge              file           Content-Length: 10 GB over a small body
    huge-stream       file           no Content-Length, streams DOWNLOAD_MAX_BYTES + 64 KiB
    trickle           file           streams the picture one byte per second
    slow-file         file           streams the picture in 4 parts, 0.75 s apart
    bomb              file           a PNG whose header claims 30000 x 30000 pixels
    not-image         file           HTML labelled Content-Type: image/png
    bad-base64        base64 image   a b64_json or Relay image that is not valid base64
    huge-base64       base64 image   base64 that decodes to more than DOWNLOAD_MAX_BYTES

"Submit" is `POST /v1/images/generations` and `POST /v2/image/generate` (sync or async);
"answer" is the images of a sync answer or of a completed task. Image URL and file failures
need an answer that carries URLs (sandbox/flux-sync, sandbox/openai-sync with
response_format=url); base64 failures one that carries base64 (sandbox/openai-sync with
b64_json, sandbox/relay-async). Counts per prompt live in Django's cache, for an hour; only
the worker can make them, since the sandbox answers nothing else (`jobs.sandbox.auth`).

`submissions` and `file_requests` count, per prompt, what reached this process, so tests can
check that work was sent once; they are never served over HTTP, are kept only with
SANDBOX_FAULTS on, and hold the latest COUNTED_PROMPTS prompts at most.
"""

import re
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from hashlib import sha256

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

MARKER = re.compile(r"\[sandbox:([a-z0-9-]+)(?::(\d+))?\]")
POLICY_REASON = "The prompt was flagged by the content policy."
TASK_FAILED_REASON = "The sandbox task failed: the prompt was flagged by the content policy."
BROKEN = "Internal server error: the sandbox broke on purpose."
SLOW_SECONDS = 3.0
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
    "slow": ("submit", 0),
    "bad-json": ("submit", 0),
    "empty": ("answer", 0),
    "task-stuck": ("task", 0),
    "task-failed": ("task", 0),
    "private-url": ("url", 0),
    "loopback-url": ("url", 0),
    "metadata-url": ("url", 0),
    "redirect-chain": ("file", 2),
    "redirect-private": ("file", 0),
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

_lock = threading.Lock()


class PromptCounts(Counter[str]):
    """Counts per prompt, of the latest COUNTED_PROMPTS prompts only, so memory stays bounded."""

    def add(self, prompt: str) -> None:
        with _lock:
            self[prompt] += 1
            if len(self) > COUNTED_PROMPTS:
                del self[next(iter(self))]  # the prompt counted first


submissions = PromptCounts()
file_requests = PromptCounts()


class UnknownFailure(ValueError):
    pass


@dataclass(frozen=True)
class Failure:
    name: str
    stage: str
    count: int


def parse(prompt: str) -> Failure | None:
    """The failure a prompt's marker (or else the SANDBOX_FAILURE setting) asks for."""
    if not settings.SANDBOX_FAULTS:
        return None
    if match := MARKER.search(prompt):
        name, count = match.group(1), match.group(2) or ""
    elif setting := settings.SANDBOX_FAILURE:
        name, _, count = setting.partition(":")
    else:
        return None
    if name not in FAILURES or not (count == "" or count.isdigit()):
        raise UnknownFailure(f"Unknown sandbox failure {name!r}: use one of {', '.join(FAILURES)}.")
    stage, default = FAILURES[name]
    return Failure(name, stage, int(count) if count else default)


def _at(stage: str, prompt: str) -> Failure | None:
    failure = parse(prompt)
    return failure if failure is not None and failure.stage == stage else None


def record(counts: PromptCounts, prompt: str) -> None:
    if settings.SANDBOX_FAULTS:
        counts.add(prompt)


def _nth_time(failure: Failure, prompt: str) -> int:
    """How many times this prompt has asked for this failure, this one included."""
    key = f"sandbox-failure:{failure.name}:{sha256(prompt.encode()).hexdigest()}"
    cache.add(key, 0, COUNT_SECONDS)
    return cache.incr(key)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": {"message": message}}, status=status)


def _rate_limited(failure: Failure, prompt: str) -> HttpResponse | None:
    if _nth_time(failure, prompt) > failure.count:
        return None
    response = _error(429, "Rate limit exceeded; slow down.")
    response["Retry-After"] = "1"
    return response


def _unavailable_at_first(failure: Failure, prompt: str) -> HttpResponse | None:
    if _nth_time(failure, prompt) > failure.count:
        return None
    return _error(503, "The service is temporarily overloaded.")


def _broken_at_first(failure: Failure, prompt: str) -> HttpResponse | None:
    if _nth_time(failure, prompt) > failure.count:
        return None
    return _error(500, BROKEN)


def _slow(failure: Failure, prompt: str) -> None:
    time.sleep(SLOW_SECONDS)


SUBMIT: dict[str, Callable[[Failure, str], HttpResponse | None]] = {
    "429": _rate_limited,
    "5xx-then-ok": _unavailable_at_first,
    "500-then-ok": _broken_at_first,
    "500": lambda f, p: _error(500, BROKEN),
    "400-policy": lambda f, p: _error(400, POLICY_REASON),
    "401": lambda f, p: _error(401, "Invalid API key."),
    "slow": _slow,
    "bad-json": lambda f, p: HttpResponse("<html>oops", content_type="text/html"),
}


def submit_response(prompt: str) -> HttpResponse | None:
    """Count a submission, then answer instead of the sandbox when a failure says so."""
    record(submissions, prompt)
    failure = _at("submit", prompt)
    return SUBMIT[failure.name](failure, prompt) if failure else None


def empty(prompt: str) -> bool:
    return _at("answer", prompt) is not None


def output_url(prompt: str) -> str | None:
    failure = _at("url", prompt)
    return OUTPUT_URLS[failure.name] if failure else None


def b64_image(prompt: str) -> str | None:
    failure = _at("base64", prompt)
    if failure is None:
        return None
    if failure.name == "bad-base64":
        return "%%% this is not base64 %%%"
    # Valid base64 ("AAAA" is three zero bytes) that decodes past the download cap.
    return "AAAA" * (settings.DOWNLOAD_MAX_BYTES // 3 + 2)


def task_answer(prompt: str, done: bool) -> dict | None:
    """What a Relay task says instead of its own state: stuck running, or failed when done."""
    failure = _at("task", prompt)
    if failure is None:
        return None
    if failure.name == "task-failed" and done:
        return {"status": "failed", "error_detail": TASK_FAILED_REASON}
    return {"status": "running"} if failure.name == "task-stuck" else None


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


def _redirect(location: str) -> HttpResponse:
    response = HttpResponse(status=302)
    response["Location"] = location
    return response


def _redirect_chain(
    f: Failure, request: HttpRequest, picture: Callable[[], bytes], ct: str
) -> HttpResponse | None:
    given = request.GET.get("hop", "")
    hop = int(given) if given.isdigit() else 0
    if hop >= f.count:
        return None
    return _redirect(request.build_absolute_uri(f"{request.path}?hop={hop + 1}"))


def _huge(f: Failure, request: HttpRequest, picture: Callable[[], bytes], ct: str) -> HttpResponse:
    response = HttpResponse(picture()[:1024], content_type=ct)
    response["Content-Length"] = str(HUGE_LENGTH)
    return response


FileAnswer = Callable[[Failure, HttpRequest, Callable[[], bytes], str], HttpResponseBase | None]
FILE: dict[str, FileAnswer] = {
    "redirect-chain": _redirect_chain,
    "redirect-private": lambda f, r, picture, ct: _redirect(PRIVATE_REDIRECT),
    "huge": _huge,
    "huge-stream": lambda f, r, picture, ct: StreamingHttpResponse(
        _past_the_cap(picture()), content_type=ct
    ),
    "trickle": lambda f, r, picture, ct: StreamingHttpResponse(
        _trickle(picture()), content_type=ct
    ),
    "slow-file": lambda f, r, picture, ct: StreamingHttpResponse(
        _in_parts(picture()), content_type=ct
    ),
    "bomb": lambda f, r, picture, ct: HttpResponse(bomb_png(), content_type="image/png"),
    "not-image": lambda f, r, picture, ct: HttpResponse(NOT_AN_IMAGE, content_type="image/png"),
}


def file_response(
    request: HttpRequest, prompt: str, picture: Callable[[], bytes], content_type: str
) -> HttpResponseBase | None:
    """Count a file request, then answer instead of the sandbox when a failure says so."""
    record(file_requests, prompt)
    failure = _at("file", prompt)
    return FILE[failure.name](failure, request, picture, content_type) if failure else None
