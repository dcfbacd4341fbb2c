"""The one place outgoing HTTP clients are made: explicit timeouts, no implicit redirects."""

import httpx
from django.conf import settings


def client(read_timeout: float | None = None) -> httpx.Client:
    timeout = httpx.Timeout(
        connect=10.0,
        read=read_timeout if read_timeout is not None else settings.PROVIDER_TIMEOUT,
        write=30.0,
        pool=10.0,
    )
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": "Atelier/0.1"},
    )
