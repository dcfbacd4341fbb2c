"""Sending webhook deliveries (recorded by gallery/webhooks/events.py): claim one, sign the event
with `standardwebhooks`, POST it through the SSRF guard, record the answer, schedule the retry.

At most one worker sends a delivery at a time (a compare-and-set claim with a lease longer than
the request's timeout), and a 2xx is written before anything else could send it again; a worker
that dies mid-request leaves a claim that lapses, and the sweeper hands the delivery on. The
receiver then sees the same `webhook-id` again and de-duplicates on it, as the spec asks.
"""

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook

from gallery.webhooks.models import Attempt, Delivery, Event, EventType
from jobs import http, images, links
from webapp import counters

logger = logging.getLogger(__name__)
Status = Delivery.Status
EXCERPT = 300


class Refused(Exception):
    """A webhook address the SSRF guard will not send to; the message is for the team's owners."""


def check_url(url: str) -> None:
    """Refuse, in words, an address that is not plain http(s) or that reaches a private network
    not listed in WEBHOOK_ALLOWED_HOSTS. Checked when it is saved and again before each send."""
    resolve(url)


def resolve(url: str) -> str | None:
    """The address to connect to (None: an allowed host, by name), as downloads do."""
    try:
        images.web_url(url)
    except images.ImageError:
        raise Refused(
            "Enter a web address starting with https:// (or http://), without a user name or "
            "password."
        ) from None
    trusted = {images.origin_of(o) for o in settings.WEBHOOK_ALLOWED_HOSTS}
    try:
        return images.resolve_download(url, trusted)
    except images.ImageError as e:
        # The guard speaks of images; here it is the receiver's address.
        raise Refused(str(e).replace("image ", "webhook ")) from None


def payload(event: Event) -> str:
    """The body: the event as recorded, with links to its pictures signed now, for an hour."""
    data = dict(event.data)
    if event.type == EventType.GENERATION_SUCCEEDED:
        data["images"] = [
            {**image, "url": links.public_link("image", image["id"]) or None}
            for image in data.get("images", [])
        ]
    when = event.created_at.isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event.type, "timestamp": when, "data": data})


def signed_headers(msg_id: str, timestamp: int, body: str, secrets: list[str]) -> dict[str, str]:
    """Standard Webhooks' three headers, signed by the `standardwebhooks` package itself (so what
    we send is what its `verify` checks): `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one
    per secret, space-separated, during a rotation's overlap (a receiver accepts any match)."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def claim(delivery: Delivery) -> bool:
    """Take a due delivery (waiting, or lapsed), as loaded; False if another worker has it."""
    lease = timezone.now() + timedelta(seconds=settings.WEBHOOK_CLAIM_LEASE)
    updated = (
        Delivery.objects.due()
        .filter(pk=delivery.pk, attempts=delivery.attempts)
        .update(status=Status.SENDING, claimed_until=lease, attempts=F("attempts") + 1)
    )
    if updated:
        delivery.status, delivery.claimed_until = Status.SENDING, lease
        delivery.attempts += 1
    return updated == 1


@dataclass
class Answer:
    status_code: int | None
    excerpt: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(delivery: Delivery) -> Answer:
    """One POST of the event to the endpoint; no transaction is held meanwhile."""
    endpoint, event = delivery.endpoint, delivery.event
    try:
        address = resolve(endpoint.url)
        body = payload(event)
        headers = signed_headers(
            event.msg_id, int(time.time()), body, endpoint.signing_secrets()
        ) | {"content-type": "application/json"}
        with http.client(read_timeout=settings.WEBHOOK_TIMEOUT) as client:
            request = images.pinned_request(
                client, images.web_url(endpoint.url), address, "POST", content=body, headers=headers
            )
            response = client.send(request, stream=True)
            try:
                return Answer(response.status_code, _excerpt(response))
            finally:
                response.close()
    except Refused as e:
        return Answer(None, str(e))
    except httpx.TimeoutException:
        return Answer(None, f"No answer within {settings.WEBHOOK_TIMEOUT:g} seconds.")
    except httpx.HTTPError as e:
        return Answer(None, f"Could not connect: {type(e).__name__}.")


def _excerpt(response: httpx.Response) -> str:
    data = b""
    for chunk in response.iter_raw():
        data += chunk
        if len(data) >= EXCERPT:
            break
    return data[:EXCERPT].decode("utf-8", "replace")


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next try after `attempts` tries; None when they are used up."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    if attempts > len(delays):
        return None
    return delays[attempts - 1] * random.uniform(0.9, 1.1)


def deliver(delivery: Delivery) -> float | None:
    """Try a delivery once if it is due; the seconds until the next try, or None."""
    if not claim(delivery):
        return None
    number = delivery.attempts
    attempt = Attempt.objects.create(delivery=delivery, number=number)
    started = time.monotonic()
    answer = post(delivery)
    now = timezone.now()
    mine = Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, attempts=number)
    delay = None if answer.ok else retry_delay(number)
    if answer.ok:
        # Written first: once it is here, no claim can take this delivery again.
        mine.update(status=Status.SUCCEEDED, delivered_at=now, claimed_until=None)
    elif delay is None:
        mine.update(status=Status.FAILED, claimed_until=None)
    else:
        next_at = now + timedelta(seconds=delay)
        mine.update(status=Status.PENDING, next_attempt_at=next_at, claimed_until=None)
    if answer.status_code is not None and not answer.ok:
        counters.add(counters.WEBHOOK_REFUSALS)
    Attempt.objects.filter(pk=attempt.pk).update(
        status_code=answer.status_code,
        excerpt=answer.excerpt or (f"HTTP {answer.status_code}" if answer.status_code else ""),
        seconds=time.monotonic() - started,
    )
    logger.info(
        "webhook %s attempt %s to endpoint %s: %s",
        delivery.event.msg_id,
        number,
        delivery.endpoint.uuid,
        answer.status_code or "no answer",
    )
    return delay
