"""Removing what is no longer wanted: deleted images after their Undo window, uploads no
generation can send any more, and files no row names. Run hourly by beat (jobs.tasks)."""

import logging
from datetime import datetime, timedelta
from itertools import batched

from django.core.files.storage import default_storage
from django.db.models import Q

from gallery.models import Generation, Image, InputImage

log = logging.getLogger(__name__)


def purge_deleted(before) -> int:
    """Remove images deleted before `before` (their Undo window long over) and unshared files.

    An image an admin has hidden is kept for review, deleted or not.
    """
    purged = 0
    for image in Image.objects.filter(deleted_at__lt=before, hidden_at__isnull=True)[:500]:
        shared = Image.objects.filter(original=image.original.name).exclude(pk=image.pk).exists()
        if not shared:
            for stored in (image.original, image.thumbnail, image.thumbnail_small):
                if stored:
                    stored.delete(save=False)
        image.delete()
        purged += 1
    return purged


# How long a failed or cancelled generation keeps its uploads for Retry to send again.
UPLOADS_KEPT_FOR_RETRY = timedelta(days=7)


def purge_unused_uploads(now: datetime) -> int:
    """Remove uploads a day old or more that no generation can send any more.

    A generation in flight sends its uploads, and a failed or cancelled one sends them again
    when retried within UPLOADS_KEPT_FOR_RETRY; nothing reads them after that ("Use these
    settings" does not carry uploads). A file another row shares (someone else's retry) stays
    until that row goes too.
    """
    old = InputImage.objects.filter(created_at__lt=now - timedelta(days=1)).order_by("pk")
    removed, last = 0, 0
    # A page at a time after the last one seen: rows are deleted on the way.
    while batch := list(old.filter(pk__gt=last)[:500]):
        last = batch[-1].pk
        wanted = _uploads_still_wanted(batch, now)
        for item in batch:
            if str(item.uuid) in wanted:
                continue
            if not InputImage.objects.filter(file=item.file.name).exclude(pk=item.pk).exists():
                item.file.delete(save=False)
            item.delete()
            removed += 1
    return removed


def _uploads_still_wanted(batch: list[InputImage], now: datetime) -> set[str]:
    """The uuids of these uploads that a generation may still send (their owners' only)."""
    may_send = Generation.objects.filter(
        Q(status__in=Generation.IN_FLIGHT)
        | Q(
            status__in=(Generation.Status.FAILED, Generation.Status.CANCELLED),
            finished_at__gte=now - UPLOADS_KEPT_FOR_RETRY,
        ),
        owner__in={item.owner_id for item in batch},
        created_at__gte=min(item.created_at for item in batch),
    )
    wanted = set()
    for params in may_send.values_list("params", flat=True):
        for value in params.values():
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, dict) and "upload" in ref:
                    wanted.add(str(ref["upload"]))
    return wanted


def purge_orphan_inputs(before: datetime) -> int:
    """Remove stored input files that no upload names, last written before `before`: left by a
    process that died between storing a file and committing its row."""
    try:
        _folders, names = default_storage.listdir("inputs")
    except FileNotFoundError:
        return 0
    removed = 0
    for batch in batched((f"inputs/{name}" for name in names), 500):
        named = set(InputImage.objects.filter(file__in=batch).values_list("file", flat=True))
        for path in batch:
            if path not in named and default_storage.get_modified_time(path) < before:
                default_storage.delete(path)
                removed += 1
    return removed
