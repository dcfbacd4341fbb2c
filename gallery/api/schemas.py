"""What the REST API answers: plain shapes built from the models, documented in OpenAPI."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.urls import reverse
from ninja import Schema

from gallery.api.access import caller
from gallery.models import Gallery, Generation, Image, Price
from gallery.usage.limits import Limit
from jobs import catalog


class Problem(Schema):
    detail: str
    errors: dict[str, list[str]] | None = None


# The error answers every route documents (gallery/api/errors.py makes them).
PROBLEMS: dict[int, Any] = {status: Problem for status in (400, 401, 403, 404, 409, 429)}


class ParamOut(Schema):
    name: str
    type: str
    label: str
    required: bool
    default: Any = None
    min: float | None = None
    max: float | None = None
    enum: list[Any] = []
    multiple_of: int | None = None
    max_length: int | None = None
    max_items: int | None = None
    custom_size: bool = False
    help: str = ""


class ModelOut(Schema):
    id: str
    name: str
    provider: str
    developer: str
    kind: str
    available: bool
    unavailable_reason: str | None
    price: str
    params: list[ParamOut]


class LimitOut(Schema):
    whose: str
    kind: str
    limit: float
    used: float
    text: str


class CatalogOut(Schema):
    models: list[ModelOut]
    limits: list[LimitOut]


class ImageOut(Schema):
    uuid: UUID
    generation: UUID
    gallery: UUID
    prompt: str
    model: str
    provider: str
    params: dict[str, Any]
    author: str
    made_through_api: bool
    width: int
    height: int
    content_type: str
    byte_size: int
    seed: int | None
    favorite: bool
    created_at: datetime
    original_url: str
    thumbnail_url: str


class GenerationOut(Schema):
    uuid: UUID
    status: str
    model: str
    provider: str
    prompt: str
    params: dict[str, Any]
    error: str
    gallery: UUID | None
    author: str
    made_through_api: bool
    retry_of: UUID | None
    created_at: datetime
    finished_at: datetime | None
    images: list[ImageOut]


class ImagePage(Schema):
    images: list[ImageOut]
    next: str | None


class GalleryOut(Schema):
    uuid: UUID
    name: str
    created_at: datetime


def model_out(model: catalog.Model, team: Any, ruled_out: str | None = None) -> dict:
    """A model as the catalog lists it; `ruled_out` is why the team's model rules leave it
    out for the caller (gallery/policy), said after a missing setting."""
    missing = catalog.missing_setting(model, team)
    reason = f"needs {missing}, which is not set on this server" if missing else ruled_out
    return {
        "id": model.id,
        "name": model.name,
        "provider": model.provider,
        "developer": model.developer,
        "kind": model.kind,
        "available": reason is None,
        "unavailable_reason": reason,
        "price": Price.note(model),
        "params": [{**vars(p), "enum": list(p.enum), "label": p.title} for p in model.params],
    }


def limit_out(limit: Limit) -> dict:
    return {
        "whose": limit.whose,
        "kind": limit.kind,
        "limit": float(limit.limit),
        "used": float(limit.used),
        "text": str(limit),
    }


def image_out(request: HttpRequest, image: Image, favorites: set[int] | None = None) -> dict:
    generation = image.generation
    if favorites is None:
        favorites = set(
            image.favorites.filter(user=caller(request).user).values_list("image_id", flat=True)
        )
    file_url = reverse("api:image-file", args=[image.uuid])
    return {
        "uuid": image.uuid,
        "generation": generation.uuid,
        "gallery": image.gallery.uuid,
        "prompt": generation.prompt,
        "model": generation.model_id,
        "provider": generation.provider,
        "params": generation.params,
        "author": generation.owner.get_username(),
        "made_through_api": generation.api_token_id is not None,
        "width": image.width,
        "height": image.height,
        "content_type": image.content_type,
        "byte_size": image.byte_size,
        "seed": image.seed,
        "favorite": image.pk in favorites,
        "created_at": image.created_at,
        "original_url": request.build_absolute_uri(f"{file_url}?kind=original"),
        "thumbnail_url": request.build_absolute_uri(f"{file_url}?kind=thumbnail"),
    }


def generation_out(request: HttpRequest, generation: Generation, team: Any) -> dict:
    shown = Image.objects.shown().filter(generation=generation, team=team)
    shown = shown.select_related("generation__owner", "gallery").order_by("index", "id")
    return {
        "uuid": generation.uuid,
        "status": generation.status,
        "model": generation.model_id,
        "provider": generation.provider,
        "prompt": generation.prompt,
        "params": generation.params,
        "error": generation.error,
        "gallery": generation.gallery.uuid if generation.gallery else None,
        "author": generation.owner.get_username(),
        "made_through_api": generation.api_token_id is not None,
        "retry_of": generation.retry_of.uuid if generation.retry_of else None,
        "created_at": generation.created_at,
        "finished_at": generation.finished_at,
        "images": [image_out(request, image) for image in shown],
    }


def gallery_out(gallery: Gallery) -> dict:
    return {"uuid": gallery.uuid, "name": gallery.name, "created_at": gallery.created_at}
