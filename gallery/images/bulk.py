"""Many images at once: delete, favorite, move, export as a zip, compare side by side."""

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from gallery.access import Request, as_uuid, can_edit, get_gallery
from gallery.accounts import throttle
from gallery.models import Activity, Favorite, Image
from gallery.spreadsheet import csv_text
from gallery.teams.activity import record
from webapp import live, storage

MAX_EXPORT = 500
COMPARE = (2, 4)


def selected(request: Request, uuids: list[str]) -> list[Image]:
    """The chosen images the person can see; any they cannot see is simply not there."""
    valid = [u for u in uuids[:MAX_EXPORT] if as_uuid(u)]
    images = (
        Image.objects.visible_to(request.user)
        .filter(uuid__in=valid)
        .select_related("generation__owner", "gallery__team")
        .order_by("-created_at", "-uuid")
        .distinct()
    )
    return list(images)


@login_required
@require_POST
def bulk(request: Request) -> HttpResponseBase:
    images = selected(request, request.POST.getlist("image"))
    action = request.POST.get("action", "")
    if not images:
        messages.error(request, "Select one or more images first.")
        return redirect("gallery:index")
    if refused := throttle.refusal(request.user, "export" if action == "export" else "bulk"):
        messages.error(request, refused)
        return redirect("gallery:index")
    if action not in VIEWING and any(not can_edit(request.user, i.team) for i in images):
        raise PermissionDenied
    if action not in ACTIONS:
        messages.error(request, "Choose what to do with the selected images.")
        return redirect("gallery:index")
    return ACTIONS[action](request, images)


def _export(request: Request, images: list[Image]) -> HttpResponseBase:
    return export_zip(images)


def _compare(request: Request, images: list[Image]) -> HttpResponseBase:
    if not COMPARE[0] <= len(images) <= COMPARE[1]:
        messages.error(request, "Select 2 to 4 images to compare.")
        return redirect("gallery:index")
    query = urlencode([("image", str(i.uuid)) for i in images])
    return redirect(f"{reverse('gallery:compare')}?{query}")


def _favorite(request: Request, images: list[Image]) -> HttpResponseBase:
    for image in images:
        Favorite.objects.get_or_create(user=request.user, image=image)
    messages.success(request, f"Added {len(images)} to your favorites.")
    return redirect("gallery:index")


def _delete(request: Request, images: list[Image]) -> HttpResponseBase:
    now = timezone.now()
    Image.objects.filter(pk__in=[i.pk for i in images]).update(deleted_at=now)
    live.bump(*{i.team_id for i in images})
    messages.success(request, f"Deleted {len(images)} images.")
    return redirect("gallery:index")


def _move(request: Request, images: list[Image]) -> HttpResponseBase:
    target = get_gallery(request, request.POST.get("gallery"), edit=True)
    with transaction.atomic():
        for image in images:
            image.move_to(target)
        said = f"moved {len(images)} images to {target.name}"
        record(target.team, request.user, Activity.Verb.MOVED, said)
    messages.success(request, f"Moved {len(images)} images to {target.name}.")
    return redirect("gallery:index")


ACTIONS: dict[str, Callable[[Request, list[Image]], HttpResponseBase]] = {
    "export": _export,
    "compare": _compare,
    "favorite": _favorite,
    "delete": _delete,
    "move": _move,
}
# What seeing the images is enough for; anything else needs an editor of each image's team.
VIEWING = ("export", "compare", "favorite")


def export_zip(images: list[Image]) -> StreamingHttpResponse:
    """The originals byte for byte, with metadata.json and metadata.csv beside them.

    Streamed: each original is read in chunks and sent as it is read, so memory stays flat
    whatever the selection (500 originals of 50 MB would be 25 GB held at once otherwise).
    """
    rows = [image.metadata() for image in images]
    response = StreamingHttpResponse(zip_chunks(images, rows), content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="atelier-{stamp}.zip"'
    return response


ZIP_CHUNK = 256 * 1024


class _Pipe(io.RawIOBase):
    """Where zipfile writes; the generator hands on what was written since it last looked.

    It cannot seek, so zipfile writes each entry's sizes and CRC after its data (a data
    descriptor) instead of going back to its header.
    """

    def __init__(self) -> None:
        self.pending: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.pending.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.pending = b"".join(self.pending), []
        return data


def zip_chunks(images: list[Image], rows: list[dict[str, Any]]) -> Iterator[bytes]:
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as archive:
        for image, row in zip(images, rows, strict=True):
            with archive.open(_entry(image, row), "w") as out:
                for chunk in storage.chunks(image.original, ZIP_CHUNK):
                    out.write(chunk)
                    yield pipe.take()
        archive.writestr("metadata.json", json.dumps(rows, indent=2, ensure_ascii=False))
        table = [
            {**row, "parameters": json.dumps(row["parameters"], sort_keys=True)}.values()
            for row in rows
        ]
        archive.writestr("metadata.csv", csv_text(list(rows[0]), table))
    yield pipe.take()  # the central directory, written when the archive closes


def _entry(image: Image, row: dict[str, Any]) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(row["file"], date_time=image.created_at.timetuple()[:6])
    entry.file_size = image.byte_size  # known ahead, so zipfile picks ZIP64 only when needed
    entry.external_attr = 0o644 << 16  # a readable file once unpacked
    return entry


@login_required
@require_GET
def compare(request: Request) -> TemplateResponse:
    """2 to 4 images side by side; the parameters that differ are highlighted."""
    images = selected(request, request.GET.getlist("image"))
    if not COMPARE[0] <= len(images) <= COMPARE[1]:
        raise Http404
    names = ["model", "prompt", "seed", *sorted({n for i in images for n in i.generation.params})]
    rows = []
    for name in names:
        values = [_value(image, name) for image in images]
        rows.append({"name": name, "values": values, "differs": len(set(map(str, values))) > 1})
    return TemplateResponse(request, "gallery/compare.html", {"images": images, "rows": rows})


def _value(image: Image, name: str) -> Any:
    generation = image.generation
    if name == "model":
        return generation.model_id
    if name == "prompt":
        return generation.prompt
    if name == "seed":
        return image.seed if image.seed is not None else generation.params.get("seed", "")
    return generation.params.get(name, "")
