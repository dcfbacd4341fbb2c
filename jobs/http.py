"""The one place outgoing HTTP clients are made: explicit timeouts, no implicit redirects.

One client per process and timeout is kept and reused: making one costs more than most
requests (it loads the CA bundle), and it keeps connections to a provider alive.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import httpx
from django.conf import settings


@contextmanager
def client(read_timeout: float | None = None) -> Iterator[httpx.Client]:
    yield _shared(settings.PROVIDER_TIMEOUT if read_timeout is None else read_timeout)


@lru_cache(maxsize=8)
def _shared(read_timeout: float) -> httpx.Client:
    timeout = httpx.Timeout(connect=10.0, read=read_timeout, write=30.0, pool=10.0)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": "Atelier/0.1"},
    )
