"""Liveness and readiness, for load balancers and orchestrators.

`/healthz` says the process answers: it touches nothing else (no database, no session), so a
database outage does not make every web process look dead and get restarted in a loop.
`/readyz` says this process can do its work: the database, the broker, the cache and the
media storage all answer. Otherwise 503, naming what failed; the details go to the log only,
since anyone may ask.
"""

import logging
import os
from collections.abc import Callable

import kombu
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from webapp.storage import storage_reachable

log = logging.getLogger(__name__)
# Seconds each dependency gets to answer: a load balancer asks every few seconds.
TIMEOUT = 2
PROBE = "atelier-readyz-probe"


def database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def broker() -> None:
    """Connect to the broker as Celery would, from the settings read now."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    with kombu.Connection(
        settings.CELERY_BROKER_URL, transport_options=options, connect_timeout=TIMEOUT
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT)
    folder = options.get("data_folder_in")
    if folder and not os.access(folder, os.W_OK):  # the embedded filesystem broker
        raise OSError(f"the broker folder {folder} is not writable")


def cache_store() -> None:
    cache.set(PROBE, "ok", 30)
    if cache.get(PROBE) != "ok":
        raise RuntimeError("the cache did not keep a value")


def storage() -> None:
    """Media storage answers (webapp.storage.storage_reachable): on S3 one HEAD of the bucket
    with short timeouts and no retries, so a dead store fails the probe instead of hanging it;
    on disk, the media folder is there and writable (made if missing, as the first save would)."""
    if isinstance(default_storage, FileSystemStorage):
        os.makedirs(default_storage.location, exist_ok=True)
    if not storage_reachable():
        raise OSError("the media storage does not answer")


CHECKS: dict[str, Callable[[], None]] = {
    "database": database,
    "broker": broker,
    "cache": cache_store,
    "storage": storage,
}


def failures() -> list[str]:
    """The names of the dependencies that do not answer, in CHECKS' order."""
    failed = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:
            log.warning("readyz: the %s is unreachable", name, exc_info=True)
            failed.append(name)
    return failed


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    failed = failures()
    checks = {name: "unreachable" if name in failed else "ok" for name in CHECKS}
    if failed:
        body = {"status": "unavailable", "failed": failed, "checks": checks}
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ready", "checks": checks})
