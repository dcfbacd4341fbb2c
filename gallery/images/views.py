"""The team's images: the grid, one image's page and file, and what can be done to one image."""

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from gallery.access import (
    Request,
    as_uuid,
    can_edit,
    current_team,
    get_deleted_image,
    get_gallery,
    get_generation,
    get_image,
    get_team,
    uuid_or_404,
)
from gallery.images import browse, live
from gallery.images.fields import form_values
from gallery.images.forms import GenerateForm
from gallery.models import Activity, Favorite, Gallery, Image, InputImage
from gallery.teams.activity import record
from jobs import catalog, images, links
from webapp import storage

# Files behind a uuid never change; only the browser of someone let see them may keep them.
IMMUTABLE = "private, max-age=31536000, immutable"
UNDO_MINUTES = 10
PNG_TEXT = ("prompt", "model", "provider", "parameters", "seed", "author", "created")


def _reuse(request: Request) -> dict:
    """The form's initial values for "Use these settings" (?use=<generation>&new_seed=1)."""
    if not request.GET.get("use"):
        return {}
    generation = get_generation(request, uuid_or_404(request.GET["use"]))
    initial: dict[str, Any] = {"model": generation.model_id, "prompt": generation.prompt}
    params = dict(generation.params)
    if request.GET.get("new_seed"):
        params.pop("seed", None)
    if model := catalog.get(generation.model_id):
        initial |= form_values(model, params)
    return initial


@login_required
@require_GET
def index(request: Request) -> TemplateResponse:
    """The generate form, then the team's images, newest first, filtered by the URL."""
    team = current_team(request)
    if request.htmx and "after" in request.GET:
        context = browse.grid(request, team)
        return TemplateResponse(request, "gallery/index.html#grid-page", context)
    watching = live.watch(request.user, team)  # before the rows: a change meanwhile shows next
    context = browse.grid(request, team)
    newest = team.generations.order_by("-created_at").values_list("created_at", flat=True)
    form = GenerateForm(
        user=request.user, team=team, model_id=request.GET.get("model"), initial=_reuse(request)
    )
    context |= browse.choices(team) | watching | {"form": form}
    context["since"] = newest.first() or timezone.now()
    return TemplateResponse(request, "gallery/index.html", context)


@login_required
@require_GET
def new_cards(request: Request) -> HttpResponse:
    """What changed since the tab last looked: the cards made since `since` by anyone in the
    team (none without `since`, as on a filtered page), and the in-flight cards the tab lists
    (`card`) as they are now; with the tab's poller again, holding the version read first.
    """
    asked = request.GET.get("team")
    team = get_team(request, asked) if asked else current_team(request)
    watching = live.watch(request.user, team)
    since = browse.moment(request.GET.get("since", ""))
    fresh = browse.cards_since(team, since) if since else []
    listed = [u for u in map(as_uuid, request.GET.getlist("card")[: browse.GRID_SIZE]) if u]
    context = watching | {
        "cards": fresh,
        "updated": browse.cards(team, listed) if listed else [],
        "since": fresh[0].created_at if fresh else since,
    }
    return TemplateResponse(request, "gallery/index.html#new-cards", context)


@login_required
@require_GET
def image_detail(request: Request, image_uuid) -> TemplateResponse:
    image = get_image(request, image_uuid)
    filters = browse.Filters.from_query(request.GET)
    newer, older = browse.neighbours(image, request.user, filters)
    generation, user = image.generation, request.user
    context = {
        "image": image,
        "generation": generation,
        "model": catalog.get(generation.model_id),
        "siblings": Image.objects.visible_to(user).filter(
            generation=generation, copy_of__isnull=True
        ),
        "comments": image.comments.select_related("author"),
        "can_edit": can_edit(user, image.gallery.team),
        "targets": Gallery.objects.editable_by(user).distinct().select_related("team"),
        "filters": filters,
        "newer": newer,
        "older": older,
    }
    if request.htmx and request.GET.get("lightbox"):
        return TemplateResponse(request, "gallery/_lightbox.html", context)
    return TemplateResponse(request, "gallery/image_detail.html", context)


def _stored(image: Image, kind: str) -> tuple[Any, str]:
    """The stored file of one kind and its content type; 404 for a kind the image lacks."""
    if kind == "original":
        return image.original, image.content_type
    if kind == "thumbnail":
        return image.thumbnail, "image/webp"
    if kind == "small" and image.thumbnail_small:
        return image.thumbnail_small, "image/webp"
    raise Http404


@login_required
@require_GET
def image_file(request: Request, image_uuid, kind: str) -> HttpResponseBase:
    """Serve an original or a thumbnail to someone allowed to see the image, and no one else."""
    image = get_image(request, image_uuid)
    stored, content_type = _stored(image, kind)
    download = kind == "original" and "download" in request.GET
    filename = f"atelier-{image.uuid}.{(stored.name or '').rsplit('.', 1)[-1]}"
    if download and content_type == "image/png":
        # The download carries how it was made, in PNG text chunks; the pixels are untouched.
        with stored.open("rb") as f:
            data = images.png_with_text(f.read(), _png_text(image))
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = IMMUTABLE
        return response
    return storage.deliver(
        stored, content_type, filename=filename, download=download, cache_control=IMMUTABLE
    )


def _png_text(image: Image) -> dict[str, str]:
    """The image's metadata as PNG text chunks: what made it, not facts about one file."""
    about = image.metadata()
    return {key: _as_text(about[key]) for key in PNG_TEXT} | {"software": "Atelier"}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@login_required
@require_POST
def delete_image(request: Request, image_uuid) -> HttpResponse:
    """Hide an image at once; it can be restored for UNDO_MINUTES, then it is removed."""
    image = get_image(request, image_uuid, edit=True)
    image.deleted_at = timezone.now()
    image.save(update_fields=["deleted_at"])
    messages.success(request, "Image deleted.", extra_tags=f"undo:{image.uuid}")
    return redirect("gallery:index")


@login_required
@require_POST
def restore_image(request: Request, image_uuid) -> HttpResponse:
    image = get_deleted_image(request, image_uuid, minutes=UNDO_MINUTES)
    image.deleted_at = None
    image.save(update_fields=["deleted_at"])
    messages.success(request, "Image restored.")
    return redirect(image)


@require_GET
def input_link(request: HttpRequest, token: str) -> HttpResponseBase:
    """An input picture for a provider that takes only URLs; the signed token is the access."""
    found = links.read_input_link(token)
    if found is None:
        raise Http404
    kind, uuid = found
    if kind == "upload":
        item = get_object_or_404(InputImage, uuid=uuid)
        stored, content_type = item.file, item.content_type
    else:
        # Not one deleted since, nor one an admin has hidden, even to a provider holding a link.
        image = get_object_or_404(Image.objects.shown(), uuid=uuid)
        stored, content_type = image.original, image.content_type
    return storage.deliver(stored, content_type)


@login_required
@require_POST
def move_image(request: Request, image_uuid) -> HttpResponse:
    """Move (or with copy=1, copy) an image to another gallery the person can edit."""
    image = get_image(request, image_uuid, edit=True)
    target = get_gallery(request, request.POST.get("gallery"), edit=True)
    copy = request.POST.get("copy") == "1"
    with transaction.atomic():
        if copy:
            moved = image.copy_to(target)
            verb, said = Activity.Verb.COPIED, f"copied an image to {target.name}"
        else:
            image.move_to(target)
            moved, verb, said = image, Activity.Verb.MOVED, f"moved an image to {target.name}"
        record(target.team, request.user, verb, said, image=moved)
    messages.success(request, said.capitalize() + ".")
    return redirect(moved)


@login_required
@require_POST
def favorite_image(request: Request, image_uuid) -> HttpResponse:
    """Toggle a favorite; anyone who can see an image may favorite it."""
    image = get_image(request, image_uuid)
    favorite, created = Favorite.objects.get_or_create(user=request.user, image=image)
    if not created:
        favorite.delete()
    image.is_favorite = created  # type: ignore[attr-defined]
    if request.htmx:
        return TemplateResponse(request, "gallery/_favorite.html", {"image": image})
    return redirect(_safe_next(request) or image.get_absolute_url())


def _safe_next(request: Request) -> str | None:
    """The `next` page asked for, only when it is on this site (never an open redirect)."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else None
