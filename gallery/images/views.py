import json
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from gallery.access import (
    Request,
    can_edit,
    current_team,
    get_gallery,
    get_generation,
    get_image,
)
from gallery.accounts import throttle
from gallery.images import browse
from gallery.images.forms import GenerateForm, first_problem, form_values, retry_form
from gallery.models import (
    Activity,
    Favorite,
    Gallery,
    Generation,
    Image,
    InputImage,
    card_images,
    one_line,
)
from gallery.teams.activity import add_comment, record
from gallery.usage.limits import OverBudget
from jobs import catalog, images, pipeline
from jobs.start import start_generation
from webapp import storage

GRID_SIZE = 60
# Files behind a uuid never change; only the browser of someone let see them may keep them.
IMMUTABLE = "private, max-age=31536000, immutable"
UNDO_MINUTES = 10


def _working_on(team) -> list[Generation]:
    """What is still in flight, and what failed today: shown above the images."""
    recent = timezone.now() - timedelta(days=1)
    return list(
        team.generations.filter(
            Q(status__in=Generation.IN_FLIGHT)
            | Q(status__in=Generation.TERMINAL, created_at__gte=recent)
            & ~Q(status=Generation.Status.SUCCEEDED)
        )
        .select_related("owner")
        .order_by("-created_at", "-id")[:GRID_SIZE]
    )


def _browse(request: Request, team) -> dict:
    """One page of the team's images (or of generations, with the status filter)."""
    filters = browse.Filters.from_query(request.GET)
    after = request.GET.get("after")
    if filters.status:
        found = browse.generations(team, filters).select_related("owner")
        items, cursor = browse.page(found.prefetch_related(card_images()), after)
        return {"filters": filters, "cards": items, "tiles": [], "cursor": cursor}
    images = browse.images(team, request.user, filters).select_related("generation__owner")
    tiles, cursor = browse.page(images, after)
    favorites = set(
        request.user.favorites.filter(image__in=tiles).values_list("image_id", flat=True)
    )
    for tile in tiles:
        tile.is_favorite = tile.pk in favorites
    cards = [] if after or filters.active else _working_on(team)
    return {
        "filters": filters,
        "cards": cards,
        "tiles": tiles,
        "cursor": cursor,
        "max_tiles": browse.MAX_TILES,
    }


def _reuse(request: Request) -> dict:
    """The form's initial values for "Use these settings" (?use=<generation>&new_seed=1)."""
    if not request.GET.get("use"):
        return {}
    generation = get_generation(request, browse.uuid_or_404(request.GET["use"]))
    initial: dict[str, Any] = {"model": generation.model_id, "prompt": generation.prompt}
    params = dict(generation.params)
    if request.GET.get("new_seed"):
        params.pop("seed", None)
    if model := catalog.get(generation.model_id):
        initial |= form_values(model, params)
    return initial


def _choices(team) -> dict:
    return {
        "authors": team.memberships.select_related("user").order_by("user__username"),
        "galleries": team.galleries.all(),
        "models": catalog.offered(),
        "providers": catalog.PROVIDERS,
    }


def _form(request: Request, *args, **kwargs) -> GenerateForm:
    return GenerateForm(*args, user=request.user, team=current_team(request), **kwargs)


@login_required
@require_GET
def index(request: Request) -> TemplateResponse:
    """The generate form, then the team's images, newest first, filtered by the URL."""
    team = current_team(request)
    context = _browse(request, team)
    if request.htmx and "after" in request.GET:
        return TemplateResponse(request, "gallery/index.html#grid-page", context)
    newest = team.generations.order_by("-created_at").values_list("created_at", flat=True)
    context |= _choices(team) | {
        "form": _form(request, model_id=request.GET.get("model"), initial=_reuse(request)),
        "since": newest.first() or timezone.now(),
    }
    return TemplateResponse(request, "gallery/index.html", context)


@login_required
@require_GET
def new_cards(request: Request) -> HttpResponse:
    """Cards made since the newest one this page has, by anyone in the team (one indexed query).

    204 when there is nothing new, so htmx leaves the page alone.
    """
    team = current_team(request)
    since = browse.moment(request.GET.get("since", "")) or timezone.now()
    fresh = list(
        team.generations.filter(created_at__gt=since)
        .select_related("owner")
        .prefetch_related(card_images())
        .order_by("-created_at", "-id")[:GRID_SIZE]
    )
    if not fresh:
        return HttpResponse(status=204)
    context = {"cards": fresh, "since": fresh[0].created_at}
    return TemplateResponse(request, "gallery/index.html#new-cards", context)


@login_required
@require_GET
def model_fields(request: Request) -> TemplateResponse:
    """The chosen model's own fields, swapped into the form when the Model select changes."""
    form = _form(request, model_id=request.GET.get("model"))
    return TemplateResponse(request, "gallery/index.html#model-fields", {"form": form})


@login_required
@require_POST
def generate(request: Request) -> HttpResponse:
    team = current_team(request)
    if not can_edit(request.user, team):
        raise PermissionDenied
    form = _form(request, request.POST, request.FILES)
    if form.is_valid() and (refused := throttle.refusal(request.user, "generate")):
        form.add_error(None, refused)
    if not form.is_valid():
        if request.htmx:
            response = TemplateResponse(request, "gallery/index.html#generate-form", {"form": form})
            return reswap(retarget(response, "#generate-form"), "outerHTML")
        context = _browse(request, team) | _choices(team) | {"form": form}
        status = 429 if form.has_error(NON_FIELD_ERRORS) else 400
        return TemplateResponse(request, "gallery/index.html", context, status=status)
    model = form.catalog_model
    try:
        with form.uploads_removed_on_error(), transaction.atomic():
            generation = start_generation(
                owner=request.user,
                team=team,
                gallery=form.cleaned_data["gallery"],
                model_id=model.id,
                provider=model.provider,
                prompt=form.cleaned_data["prompt"],
                params=form.params(),
            )
            record(team, request.user, Activity.Verb.GENERATED, generation.prompt[:200])
    except OverBudget as e:
        form.add_error(None, str(e))
        if request.htmx:
            response = TemplateResponse(request, "gallery/index.html#generate-form", {"form": form})
            return reswap(retarget(response, "#generate-form"), "outerHTML")
        context = _browse(request, team) | _choices(team) | {"form": form}
        return TemplateResponse(request, "gallery/index.html", context, status=403)
    if request.htmx:
        context = {"generation": generation, "form": form}
        return TemplateResponse(request, "gallery/_generated.html", context)
    return redirect("gallery:index")


@login_required
@require_GET
def generation_card(request: Request, generation_uuid) -> TemplateResponse:
    """One card, polled while its generation is in flight; the terminal card stops polling."""
    generation = get_generation(request, generation_uuid)
    return TemplateResponse(request, "gallery/_card.html", {"generation": generation})


@login_required
@require_POST
def cancel_generation(request: Request, generation_uuid) -> HttpResponse:
    """Stop a generation that is queued or in flight; a late result is thrown away."""
    generation = get_generation(request, generation_uuid, edit=True)
    if refused := throttle.refusal(request.user, "cancel"):
        return _card_refused(request, generation, f"Not cancelled: {refused}")
    if not generation.cancel() and generation.status != Generation.Status.CANCELLED:
        messages.info(request, "That generation had already finished.")
    generation.refresh_from_db()
    if request.htmx:
        return TemplateResponse(request, "gallery/_card.html", {"generation": generation})
    return redirect("gallery:index")


@login_required
@require_POST
def retry_generation(request: Request, generation_uuid) -> HttpResponse:
    """Run a failed or cancelled generation again, as a new one made by whoever presses Retry."""
    generation = get_generation(request, generation_uuid, edit=True)
    if generation.status not in (Generation.Status.FAILED, Generation.Status.CANCELLED):
        messages.info(request, "Only a failed or cancelled generation can be retried.")
        return redirect("gallery:index")
    try:
        retry = _start_retry(request.user, generation)
    except Refused as e:
        return _card_refused(request, generation, f"Not retried: {e}")
    if request.htmx:
        return TemplateResponse(request, "gallery/_card.html", {"generation": retry})
    return redirect("gallery:index")


class Refused(Exception):
    """Why something was not done, in words for the person."""


def _start_retry(user, generation: Generation) -> Generation:
    """A new generation from an old one's settings, checked as a new generation is: the
    person's rate limit, the model still offered and usable, the parameters through the form,
    and their budgets and the team's. Raises Refused, with nothing saved."""
    if refused := throttle.refusal(user, "generate"):
        raise Refused(refused)
    model = catalog.get(generation.model_id)
    if model is None or not model.offered:
        raise Refused(f"{model.name if model else generation.model_id} is not offered any more.")
    form = retry_form(user, generation)
    if not form.is_valid():
        raise Refused(first_problem(form))
    try:
        with transaction.atomic():
            return start_generation(
                owner=user,
                team=generation.team,
                gallery=form.cleaned_data["gallery"],
                model_id=form.catalog_model.id,
                provider=form.catalog_model.provider,
                prompt=form.cleaned_data["prompt"],
                params=form.params(),
                retry_of=generation,
            )
    except OverBudget as e:
        raise Refused(str(e)) from None


def _card_refused(request: Request, generation: Generation, refused: str) -> HttpResponse:
    """The same card again, in place, saying why; or the message, without htmx."""
    if request.htmx:
        context = {"generation": generation, "refused": refused}
        response = TemplateResponse(request, "gallery/_card.html", context)
        return reswap(retarget(response, f"#gen-{generation.uuid}"), "outerHTML")
    messages.error(request, refused)
    return redirect("gallery:index")


@login_required
@require_GET
def image_detail(request: Request, image_uuid) -> TemplateResponse:
    image = get_image(request, image_uuid)
    filters = browse.Filters.from_query(request.GET)
    newer, older = browse.neighbours(image, request.user, filters)
    context = _image_context(request, image) | {
        "filters": filters,
        "newer": newer,
        "older": older,
    }
    if request.htmx and request.GET.get("lightbox"):
        return TemplateResponse(request, "gallery/_lightbox.html", context)
    return TemplateResponse(request, "gallery/image_detail.html", context)


def _image_context(request: Request, image: Image) -> dict:
    generation = image.generation
    user = request.user
    return {
        "image": image,
        "generation": generation,
        "model": catalog.get(generation.model_id),
        "siblings": Image.objects.visible_to(user).filter(
            generation=generation, copy_of__isnull=True
        ),
        "comments": image.comments.select_related("author"),
        "can_edit": can_edit(user, image.gallery.team),
        "targets": Gallery.objects.editable_by(user).distinct().select_related("team"),
    }


@login_required
@require_GET
def image_file(request: Request, image_uuid, kind: str) -> HttpResponseBase:
    """Serve an original or a thumbnail to someone allowed to see the image, and no one else."""
    image = get_image(request, image_uuid)
    if kind == "original":
        stored, content_type = image.original, image.content_type
    elif kind == "thumbnail":
        stored, content_type = image.thumbnail, "image/webp"
    elif kind == "small" and image.thumbnail_small:
        stored, content_type = image.thumbnail_small, "image/webp"
    else:
        raise Http404
    download = kind == "original" and "download" in request.GET
    filename = f"atelier-{image.uuid}.{(stored.name or '').rsplit('.', 1)[-1]}"
    if download and content_type == "image/png":
        # The download carries how it was made, in PNG text chunks; the pixels are untouched.
        with stored.open("rb") as f:
            data = images.png_with_text(f.read(), _metadata(image))
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = IMMUTABLE
        return response
    return storage.deliver(
        stored, content_type, filename=filename, download=download, cache_control=IMMUTABLE
    )


def _metadata(image: Image) -> dict[str, str]:
    generation = image.generation
    return {
        "prompt": generation.prompt,
        "model": generation.model_id,
        "provider": generation.provider,
        "parameters": json.dumps(generation.params, sort_keys=True),
        "seed": "" if image.seed is None else str(image.seed),
        "author": str(generation.owner),
        "created": generation.created_at.isoformat(),
        "software": "Atelier",
    }


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
    window = timezone.now() - timedelta(minutes=UNDO_MINUTES)
    image = get_object_or_404(
        Image.objects.filter(
            team__memberships__user=request.user, deleted_at__gte=window, hidden_at__isnull=True
        ).distinct(),
        uuid=image_uuid,
    )
    if not can_edit(request.user, image.team):
        raise PermissionDenied
    image.deleted_at = None
    image.save(update_fields=["deleted_at"])
    messages.success(request, "Image restored.")
    return redirect(image)


@require_GET
def input_link(request: HttpRequest, token: str) -> HttpResponseBase:
    """An input picture for a provider that takes only URLs; the signed token is the access."""
    found = pipeline.read_input_link(token)
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


class GalleryForm(forms.Form):
    name = forms.CharField(label="Gallery name", max_length=100, validators=[one_line])


@login_required
@require_http_methods(["GET", "POST"])
def gallery_list(request: Request) -> HttpResponse:
    team = current_team(request)
    form = GalleryForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_edit(request.user, team):
            raise PermissionDenied
        if form.is_valid() and (refused := throttle.refusal(request.user, "gallery")):
            form.add_error(None, refused)
            status = 429
        if form.is_valid():
            gallery = Gallery.objects.create(
                team=team, name=form.cleaned_data["name"], created_by=request.user
            )
            return redirect(gallery)
    galleries = team.galleries.all()
    context = {"team": team, "galleries": galleries, "form": form}
    return TemplateResponse(request, "gallery/galleries.html", context, status=status)


@login_required
@require_GET
def gallery_detail(request: Request, gallery_uuid) -> TemplateResponse:
    gallery = get_gallery(request, gallery_uuid)
    images = gallery.images.shown().select_related("generation__owner")
    images = images.order_by("-created_at", "-id")
    return TemplateResponse(
        request, "gallery/gallery_detail.html", {"gallery": gallery, "images": images[:GRID_SIZE]}
    )


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
def comment_image(request: Request, image_uuid) -> HttpResponse:
    image = get_image(request, image_uuid, edit=True)
    body = request.POST.get("body", "").strip()
    if not body or len(body) > 2000:
        messages.error(request, "A comment needs some text (at most 2000 characters).")
    elif refused := throttle.refusal(request.user, "comment"):
        messages.error(request, f"Not posted: {refused}")
    else:
        add_comment(image, request.user, body)
    if request.htmx:
        return TemplateResponse(
            request, "gallery/image_detail.html#comment-posted", _image_context(request, image)
        )
    return redirect(image)


@login_required
@require_GET
def image_comments(request: Request, image_uuid) -> TemplateResponse:
    image = get_image(request, image_uuid)
    return TemplateResponse(
        request, "gallery/image_detail.html#comment-list", _image_context(request, image)
    )


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: Request) -> HttpResponse:
    mine = request.user.notifications.select_related("actor", "comment__image")
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("gallery:notifications")
    return TemplateResponse(request, "gallery/notifications.html", {"notifications": mine[:100]})


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
