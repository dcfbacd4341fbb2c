"""Media files wherever they are stored: local disk, or an S3-compatible bucket (settings.STORAGES).

Everything that reads or hands out a stored file goes through here, so the file views do the
same thing on either: Atelier checks access first, then the disk answers through Django (or
nginx, with MEDIA_ACCEL_REDIRECT), and a bucket through a link signed for a few minutes (or
streamed through Atelier with MEDIA_STREAM).
"""

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from storages.utils import clean_name

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
# A readiness probe answers in a second or two; a store slower than this is not ready.
PROBE_CONFIG = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})


def is_remote(storage: Storage | None = None) -> bool:
    """Whether files live somewhere other than this host's disk."""
    return not isinstance(storage or default_storage, FileSystemStorage)


def storage_reachable() -> bool:
    """Whether the media storage answers: the bucket exists and our keys may use it, or the
    media folder can be written. Cheap enough for every readiness probe: one HEAD request."""
    storage = default_storage
    if not is_remote(storage):
        root = Path(storage.location)  # type: ignore[attr-defined]
        # A media root not made yet is made on the first save, inside its parent.
        folder = root if root.is_dir() else root.parent
        return folder.is_dir() and os.access(folder, os.W_OK)
    # A client of its own with short timeouts and no retries: a probe must not hang on a dead store.
    probe = storage._create_session().client(  # type: ignore[attr-defined]
        "s3",
        region_name=storage.region_name,  # type: ignore[attr-defined]
        endpoint_url=storage.endpoint_url,  # type: ignore[attr-defined]
        config=storage.client_config.merge(PROBE_CONFIG),  # type: ignore[attr-defined]
    )
    try:
        probe.head_bucket(Bucket=storage.bucket_name)  # type: ignore[attr-defined]
    except (BotoCoreError, ClientError) as error:
        log.warning("media storage unreachable: %s", error)
        return False
    return True


def deliver(
    stored: FieldFile,
    content_type: str,
    *,
    filename: str = "",
    download: bool = False,
    cache_control: str = "private, no-store",
) -> HttpResponseBase:
    """The response that hands `stored` to someone the caller has already let have it.

    A link to the bucket is signed for MEDIA_LINK_SECONDS; the redirect to it is kept by the
    browser for half that, so the link it follows from its cache is still good. The object
    itself is sent with `cache_control`, so its bytes are kept under that link.
    """
    name = stored.name or ""
    disposition = content_disposition_header(download, filename) if filename else None
    response: HttpResponseBase
    if is_remote(stored.storage) and not settings.MEDIA_STREAM:
        parameters = {"ResponseContentType": content_type, "ResponseCacheControl": cache_control}
        if disposition:
            parameters["ResponseContentDisposition"] = disposition
        response = HttpResponseRedirect(
            stored.storage.url(  # type: ignore[call-arg]
                name, parameters=parameters, expire=settings.MEDIA_LINK_SECONDS
            )
        )
        no_store = "no-store" in cache_control
        response["Cache-Control"] = (
            cache_control if no_store else f"private, max-age={settings.MEDIA_LINK_SECONDS // 2}"
        )
        return response
    if is_remote(stored.storage):
        response = _stream(stored, content_type)
    elif settings.MEDIA_ACCEL_REDIRECT:
        # The proxy sends the file; Django only decided that this person may have it.
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT + name
    else:
        response = FileResponse(stored.open("rb"), content_type=content_type)
    if disposition:
        response["Content-Disposition"] = disposition
    response["Cache-Control"] = cache_control
    return response


def _stream(stored: FieldFile, content_type: str) -> HttpResponseBase:
    answer = _get_object(stored)
    response = StreamingHttpResponse(_body_chunks(answer["Body"]), content_type=content_type)
    response["Content-Length"] = str(answer["ContentLength"])
    return response


def _get_object(stored: FieldFile) -> dict:
    """One GET for the object's bytes and length (S3File would HEAD first, then download it all)."""
    storage = stored.storage
    key = storage._normalize_name(clean_name(stored.name or ""))  # type: ignore[attr-defined]
    try:
        return storage.bucket.Object(key).get()  # type: ignore[attr-defined]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise FileNotFoundError(stored.name) from None
        raise


def _body_chunks(body, size: int = CHUNK) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(size)
    finally:
        body.close()


def chunks(stored: FieldFile, size: int = CHUNK) -> Iterator[bytes]:
    """The file's bytes in pieces, read as they are sent: never the whole object at once."""
    if is_remote(stored.storage):
        yield from _body_chunks(_get_object(stored)["Body"], size)
        return
    with stored.open("rb") as f:
        while chunk := f.read(size):
            yield chunk
