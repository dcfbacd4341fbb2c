"""Team provider keys at rest: Fernet keys from FIELD_ENCRYPTION_KEY (comma-separated).

The first key encrypts; every key decrypts, so keys can be rotated by putting a new one first
and running `manage.py rotate_keys`.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretError(Exception):
    pass


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEY.split(",") if k.strip()]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set; team keys cannot be stored.")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be Fernet keys.") from None


def configured() -> bool:
    return bool(settings.FIELD_ENCRYPTION_KEY.strip())


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretError(
            "A stored key could not be decrypted with FIELD_ENCRYPTION_KEY."
        ) from None


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


def mask(value: str) -> str:
    """Enough to recognise a key, never enough to use it."""
    if len(value) <= 8:
        return "•" * len(value)
    return f"{value[:3]}…{value[-4:]}"
