"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret.

Signed with the `standardwebhooks` package itself, so what we send is what its `verify` checks.
"""

from datetime import UTC, datetime

from standardwebhooks import Webhook


def headers(msg_id: str, timestamp: int, body: str, secrets: list[str]) -> dict[str, str]:
    """The three headers; during a rotation's overlap one signature per secret, space-separated
    (a receiver accepts the message if any of them matches its secret)."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
