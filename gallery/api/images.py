"""REST routes for what the team has: its images (filtered and searched as the gallery is,
a keyset page at a time), their files, favorites, moves and deletes; its galleries."""

from typing import Literal, cast
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from gallery.access import Request
from gallery.accounts import throttle
from gallery.api import schemas
from gallery.api.access import caller, get_gallery, get_image
from gallery.api.errors import Invalid, TooMany
from gallery.images import browse, views
from gallery.images.forms import GalleryForm
from gallery.models import Activity, Favorite, Gallery
from gallery.teams.activity import record

router = Router(tags=["images"])


class ImageQuery(Schema):
    """The gallery page's own filters, read by the same code (gallery/images/browse.py)."""

    after: str = ""  # the `next` of the page before
    limit: int = browse.PAGE_SIZE
    q: str = ""  # prompt search
    by_model: str = ""
    provider: str = ""
    author: str = ""  # a username
    gallery: str = ""  # a gallery uuid
    since: str = ""  # YYYY-MM-DD
    until: str = ""
    favorites: bool = False
    api: bool = False  # only those made through the API


class ImagePatch(Schema):
    favorite: bool | None = None
    gallery: UUID | None = None  # move it to this gallery of the team


class GalleryIn(Schema):
    name: str


@router.get("/images", response={200: schemas.ImagePage, **schemas.PROBLEMS}, url_name="images")
def list_images(request: HttpRequest, filters: Query[ImageQuery]):
    """The team's images, newest first; pass `next` back as `after` for the next page."""
    if not 1 <= filters.limit <= 100:
        raise Invalid("limit must be between 1 and 100.", {"limit": ["Between 1 and 100."]})
    found = browse.Filters.from_query(request.GET)
    qs = browse.images(caller(request).team, request.user, found)
    qs = qs.select_related("generation__owner", "gallery")
    items, cursor = browse.page(qs, filters.after or None, filters.limit)
    favorites = set(
        Favorite.objects.filter(user=caller(request).user, image__in=items).values_list(
            "image_id", flat=True
        )
    )
    return {"images": [schemas.image_out(request, i, favorites) for i in items], "next": cursor}


@router.get(
    "/images/{image_uuid}", response={200: schemas.ImageOut, **schemas.PROBLEMS}, url_name="image"
)
def read_image(request: HttpRequest, image_uuid: UUID):
    return schemas.image_out(request, get_image(request, image_uuid))


@router.patch(
    "/images/{image_uuid}", response={200: schemas.ImageOut, **schemas.PROBLEMS}, url_name="image"
)
def change_image(request: HttpRequest, image_uuid: UUID, body: ImagePatch):
    """Favorite it (anyone who sees it, as on the page) and/or move it to another gallery."""
    who = caller(request)
    who.require_change()
    image = get_image(request, image_uuid, edit=body.gallery is not None)
    target = get_gallery(request, body.gallery, edit=True) if body.gallery else None
    with transaction.atomic():
        if body.favorite is True:
            Favorite.objects.get_or_create(user=who.user, image=image)
        elif body.favorite is False:
            Favorite.objects.filter(user=who.user, image=image).delete()
        if target is not None and target != image.gallery:
            image.move_to(target)
            said = f"moved an image to {target.name}"
            record(target.team, who.user, Activity.Verb.MOVED, said, image=image)
    return schemas.image_out(request, image)


@router.delete("/images/{image_uuid}", response={204: None, **schemas.PROBLEMS}, url_name="image")
def delete_image(request: HttpRequest, image_uuid: UUID):
    """Delete it, as the page's Delete does (removed for good after the undo window)."""
    image = get_image(request, image_uuid, edit=True)
    image.deleted_at = timezone.now()
    image.save(update_fields=["deleted_at"])
    return Status(204, None)


@router.get(
    "/images/{image_uuid}/file", response={200: None, **schemas.PROBLEMS}, url_name="image-file"
)
def image_file(
    request: HttpRequest, image_uuid: UUID, kind: Literal["original", "thumbnail"] = "original"
):
    """The image's bytes: the original, or its WebP thumbnail."""
    get_image(request, image_uuid)
    return views.image_file(cast(Request, request), image_uuid, kind)


@router.get(
    "/galleries", response={200: list[schemas.GalleryOut], **schemas.PROBLEMS}, url_name="galleries"
)
def list_galleries(request: HttpRequest):
    return [schemas.gallery_out(g) for g in caller(request).team.galleries.all()]


@router.post(
    "/galleries", response={201: schemas.GalleryOut, **schemas.PROBLEMS}, url_name="galleries"
)
def create_gallery(request: HttpRequest, body: GalleryIn):
    who = caller(request)
    who.require_write()
    form = GalleryForm({"name": body.name})
    if not form.is_valid():
        problems = [str(e) for e in form.errors["name"]]
        raise Invalid(f"name: {problems[0]}", {"name": problems})
    if refused := throttle.refusal(who.user, "gallery"):
        raise TooMany(refused, throttle.retry_after(who.user, "gallery"))
    gallery = Gallery.objects.create(
        team=who.team, name=form.cleaned_data["name"], created_by=who.user
    )
    return Status(201, schemas.gallery_out(gallery))
