"""Short-lived signed file URLs for share pages, and the files behind them.

A file URL names the link, the image and which file, signed (Django's TimestampSigner) and
valid for FILE_URL_SECONDS. Each request is also checked against the link's row: a revoked or
expired link answers 404 at once, and a URL copied out of the page stops working within a
minute even while the link lives. Files are read through Django's storage API, so they come
from local disk or an S3 bucket alike.
"""

from collections.abc import Iterable

from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse

from gallery.models import Image, ShareLink

FILE_URL_SECONDS = 60
SALT = "atelier.sharing.file"
KINDS = ("thumbnail", "small", "original", "download")


def file_url(link: ShareLink, image: Image, kind: str) -> str:
    value = signing.TimestampSigner(salt=SALT).sign_object([str(link.uuid), str(image.uuid), kind])
    return reverse("sharing:file", args=[value])


def read_file_url(value: str) -> tuple[str, str, str] | None:
    """(link uuid, image uuid, kind) of a signed value that is genuine and fresh, else None."""
    try:
        link_uuid, image_uuid, kind = signing.TimestampSigner(salt=SALT).unsign_object(
            value, max_age=FILE_URL_SECONDS
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return (link_uuid, image_uuid, kind) if kind in KINDS else None


def sign(link: ShareLink, images: Iterable[Image]) -> None:
    """Give each image its signed `thumb_url` and `small_url`, and the text for its `alt`:
    the prompt only where the link shows prompts."""
    for image in images:
        image.thumb_url = file_url(link, image, "thumbnail")  # type: ignore[attr-defined]
        small = file_url(link, image, "small") if image.thumbnail_small else ""
        image.small_url = small  # type: ignore[attr-defined]
        alt = image.generation.prompt if link.show_prompts else "Shared image"
        image.alt = alt  # type: ignore[attr-defined]


def respond(link: ShareLink, image: Image, kind: str) -> FileResponse:
    """The file itself; an original only where the link allows downloads."""
    if kind == "thumbnail":
        stored, content_type = image.thumbnail, "image/webp"
    elif kind == "small":
        stored, content_type = image.thumbnail_small, "image/webp"
    elif kind in ("original", "download") and link.allow_download:
        stored, content_type = image.original, image.content_type
    else:
        raise Http404
    name = stored.name or ""
    if not name:
        raise Http404
    extension = name.rsplit(".", 1)[-1]
    response = FileResponse(
        default_storage.open(name, "rb"),
        content_type=content_type,
        as_attachment=kind == "download",
        filename=f"atelier-{image.uuid}.{extension}",
    )
    # No browser or proxy keeps it longer than the URL is valid; no search engine lists it.
    response["Cache-Control"] = f"private, max-age={FILE_URL_SECONDS}"
    response["X-Robots-Tag"] = "noindex"
    return response
