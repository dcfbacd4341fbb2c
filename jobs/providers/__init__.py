"""One adapter per provider protocol, behind one small interface.

An adapter builds an `httpx.Request` for a submit or a poll and turns the provider's answer into a
`Result` (outputs to download), a `Submitted` (an async task to poll) or `Pending`. It raises
`ProviderError` with a message a person can read. Adapters know nothing of Django models.
"""

import base64
import email.utils
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


@dataclass(frozen=True)
class InputFile:
    """An input picture (to edit, or a reference), resolved by the pipeline from storage."""

    content_type: str
    data: bytes = field(repr=False)
    filename: str = "image.png"
    # A short-lived public link to the same bytes, when the server has a public address.
    url: str = ""

    def b64(self) -> str:
        return base64.b64encode(self.data).decode()

    def data_url(self) -> str:
        return f"data:{self.content_type};base64,{self.b64()}"


def encode_inputs(params: dict[str, Any], encode: Callable[[InputFile], Any]) -> dict[str, Any]:
    """Replace input pictures (alone or in lists) with what a protocol sends for them."""

    def one(value: Any) -> Any:
        if isinstance(value, InputFile):
            return encode(value)
        if isinstance(value, list) and any(isinstance(v, InputFile) for v in value):
            return [encode(v) if isinstance(v, InputFile) else v for v in value]
        return value

    return {name: one(value) for name, value in params.items()}


@dataclass
class Output:
    url: str | None = None
    b64: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Result:
    outputs: list[Output]
    # What the provider told besides the images: seed, revised_prompt, timings, nsfw, usage.
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Submitted:
    task_id: str
    poll_url: str = ""


@dataclass
class Pending:
    status: str  # the provider's word for it: queued, running


class ProviderError(Exception):
    """A failure to show to the person. `transient` ones may succeed if tried again.

    `status` is the HTTP status of an error answer; `refused` says the provider reported that
    the work itself failed (a task that ended "failed"), so it did none it would charge for.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        refused: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.status = status
        self.refused = refused


@dataclass(frozen=True)
class Connection:
    """Where a provider lives and the key to use; built by the pipeline, never serialized.

    The key stays out of its repr, so a traceback or a log line that shows one shows no key.
    """

    base_url: str
    api_key: str = field(default="", repr=False)


class Adapter(Protocol):
    def build_submit(
        self, conn: Connection, model: Any, params: dict, *, idempotency_key: str
    ) -> httpx.Request: ...

    def parse_submit(self, response: httpx.Response) -> Result | Submitted: ...

    def build_poll(self, conn: Connection, task_id: str, poll_url: str) -> httpx.Request: ...

    def parse_poll(self, response: httpx.Response) -> Result | Pending: ...


def error_message(response: httpx.Response) -> str:
    """The provider's own reason, dug out of whichever error shape it uses.

    Whole: it may quote a key, which the pipeline masks before it cuts the text to length
    (a cut here could leave the start of a key that no mask then matches).
    """
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text if text and "<html" not in text.lower() else ""
    return _dig_message(body)


def _dig_message(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return "; ".join(filter(None, (_dig_message(item) for item in body)))
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "msg", "error_detail", "reason"):
            if body.get(key):
                return _dig_message(body[key])
    return ""


# What the official SDKs retry, after openai-python's `_should_retry` (src/openai/_base_client.py):
# never when the server asks to wait longer than MAX_RETRY_AFTER; obey `x-should-retry:
# true|false` when the server sends it; otherwise retry 408 (request timeout), 409 (lock
# timeout), 429 (rate limit) and every status >= 500, 500 included.
RETRIED_STATUSES = (408, 409, 429)
# The longest Retry-After obeyed: openai-python's MAX_RETRY_AFTER_DELAY (src/openai/_constants.py,
# two minutes). It waits as long as the server asks up to that, and does not retry a request
# whose server asks for longer (older versions obeyed up to 60 s and backed off otherwise).
MAX_RETRY_AFTER = 120.0


def should_retry(response: httpx.Response) -> bool:
    if (wait := retry_after(response)) is not None and wait > MAX_RETRY_AFTER:
        return False
    said = response.headers.get("x-should-retry")
    if said in ("true", "false"):
        return said == "true"
    return response.status_code in RETRIED_STATUSES or response.status_code >= 500


def check_status(response: httpx.Response) -> None:
    """Raise a ProviderError a person understands for any non-2xx answer."""
    status = response.status_code
    if status < 400:
        return
    message = _describe(status, error_message(response), response.reason_phrase)
    wait = retry_after(response)
    if wait is not None and wait > MAX_RETRY_AFTER:
        longer = "hours" if wait > 3600 else f"{math.ceil(wait / 60)} minutes"
        message += f" It asked to wait {longer} before trying again, so it was not retried."
    raise ProviderError(message, transient=should_retry(response), retry_after=wait, status=status)


def _describe(status: int, reason: str, phrase: str) -> str:
    said = f" It said: {reason}" if reason else ""
    if status in (401, 403):
        return f"The provider rejected the API key ({status}). Check the key in the settings.{said}"
    if status == 408:
        return f"The provider gave up waiting for the request (408).{said}"
    if status == 409:
        return f"The provider reported a conflict with another request (409).{said}"
    if status == 429:
        return "The provider is rate limiting requests (429)."
    if status in (502, 503, 504):
        return f"The provider is temporarily unavailable ({status})."
    if status >= 500:
        return f"The provider failed with an internal error ({status}).{said}"
    return f"The provider refused the request ({status}): {reason or phrase}"


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a provider asks us to wait, read as openai-python's `_parse_retry_after_header`
    reads them: `retry-after-ms`, else `retry-after` in seconds, else as an HTTP date.
    None when it gives no positive, finite wait (the SDK then backs off on its own); a number
    too big for a float is an endless wait, as the SDK reads one (longer than any it obeys)."""
    seconds: float | None = None
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        said = response.headers.get(header, "")
        try:
            seconds = float(said) / divisor
        except ValueError:
            continue
        if math.isinf(seconds) and said.strip().lower() in INFINITY_WORDS:
            seconds = None  # written as infinity, not a number: no wait given
        break
    if seconds is None:
        try:
            date = email.utils.parsedate_tz(response.headers.get("retry-after", ""))
            seconds = email.utils.mktime_tz(date) - time.time() if date else None
        except (TypeError, ValueError, OverflowError):
            seconds = None
    return seconds if seconds is not None and seconds > 0 else None


INFINITY_WORDS = ("inf", "+inf", "infinity", "+infinity")


KEY_MASK = "[key hidden]"
# Shorter strings are no key a provider issues, and hiding them would garble the message.
SHORTEST_KEY = 8


def scrub(text: str, keys: Iterable[str]) -> str:
    """`text` with every one of `keys` in it replaced by a mask: a provider's error message may
    echo the key it was sent, and messages are shown to people and kept in the ledger."""
    for key in sorted({k for k in keys if len(k) >= SHORTEST_KEY}, key=len, reverse=True):
        text = text.replace(key, KEY_MASK)
    return text


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            "The provider answered with something that is not JSON; it may be having trouble."
        ) from None
