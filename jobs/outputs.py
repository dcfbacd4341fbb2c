"""Storing what a provider made: each output decoded, checked, thumbnailed and saved under a
deterministic name in the media storage, once, whichever worker gets there first."""

import logging

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError

from gallery.models import Generation, Image
from jobs import images
from jobs.providers import (
    Output,
)

log = logging.getLogger(__name__)


def discard_images(generation: Generation) -> None:
    """Results that arrived after a cancel: remove them and their files."""
    for image in generation.images.all():
        for stored in (image.original, image.thumbnail, image.thumbnail_small):
            if stored:
                stored.delete(save=False)
        image.delete()


def store(
    generation: Generation,
    index: int,
    output: Output,
    client: httpx.Client,
    trusted: set[images.Origin],
) -> None:
    max_bytes = settings.DOWNLOAD_MAX_BYTES
    if output.b64:
        data = images.decode_base64(output.b64, max_bytes)
    elif output.url:
        data = images.download(
            client,
            output.url,
            max_bytes=max_bytes,
            trusted=trusted,
            deadline=settings.DOWNLOAD_DEADLINE,
        )
    else:
        raise images.ImageError("The provider's answer listed an image without any data.")
    try:
        decoded = images.process(data, settings.THUMBNAIL_SIZES)
    except images.UnreadableImage:
        # Failed with a plain message; the decoder's own error is kept here for whoever looks.
        log.exception("generation %s: output %s could not be decoded", generation.uuid, index)
        raise
    large, small = (decoded.thumbnails[size] for size in settings.THUMBNAIL_SIZES)
    image = Image(
        generation=generation,
        gallery=generation.gallery or generation.team.default_gallery(),
        index=index,
        width=decoded.width,
        height=decoded.height,
        thumb_width=large.width,
        thumb_height=large.height,
        content_type=decoded.content_type,
        byte_size=len(data),
        sha256=decoded.sha256,
        seed=output.seed if output.seed is not None else generation.params.get("seed"),
    )
    ext = images.CONTENT_TYPES_EXT[decoded.content_type]
    base = f"{generation.uuid}/{index}"
    image.original.name = _save(f"originals/{base}.{ext}", data)
    image.thumbnail.name = _save(f"thumbnails/{base}.webp", large.data)
    image.thumbnail_small.name = _save(f"thumbnails/{base}-256.webp", small.data)
    try:
        image.save()
    except IntegrityError:
        log.info("image %s#%s was stored by another worker", generation.uuid, index)


def _save(name: str, data: bytes) -> str:
    """Save under a deterministic name; keep a complete earlier copy, replace a partial one.

    A duplicate delivery finds the file its twin wrote and leaves it alone; an attempt cut off
    mid-write left a shorter file, which is replaced.
    """
    if default_storage.exists(name):
        if default_storage.size(name) == len(data):
            return name
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))
