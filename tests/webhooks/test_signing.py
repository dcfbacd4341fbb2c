"""Signatures as the Standard Webhooks specification defines them, and a rotation's overlap."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gallery.webhooks.models import Endpoint, new_secret
from jobs import webhooks


def test_it_signs_the_specifications_example():
    # The example in the Standard Webhooks specification (its "Signature scheme" section).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    found = webhooks.signed_headers(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}', [secret]
    )
    assert found["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44
    assert new_secret() != secret


@pytest.mark.django_db
def test_both_secrets_sign_during_the_overlap_and_only_the_new_one_after(studio, settings):
    endpoint = Endpoint(team=studio, url="https://example.com/hook", events=[])
    old = endpoint.set_new_secret()
    endpoint.save()
    new = endpoint.rotate_secret()
    body = '{"type": "x"}'
    now = int(timezone.now().timestamp())
    headers = webhooks.signed_headers("msg_1", now, body, endpoint.signing_secrets())
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "x"}
    endpoint.previous_until = timezone.now() - timedelta(seconds=1)
    headers = webhooks.signed_headers("msg_1", now, body, endpoint.signing_secrets())
    assert Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


@pytest.mark.django_db
def test_a_secret_is_stored_encrypted_when_field_encryption_is_set(studio, settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    endpoint = Endpoint(team=studio, url="https://example.com/hook", events=[])
    secret = endpoint.set_new_secret()
    endpoint.save()
    stored = Endpoint.objects.values_list("secret", flat=True).get()
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    assert Endpoint.objects.get().signing_secrets() == [secret]
