"""What a generation sends: its parameters, with picture references turned into the pictures.

A reference is resolved only where the model takes a picture, and only to a picture of the
generation's own team or an upload of its own owner; anything else is refused before sending.
"""

from typing import Any
from uuid import UUID

from gallery.models import Generation
from jobs import catalog, images
from jobs.links import public_link
from jobs.providers import (
    InputFile,
)


def request_params(generation: Generation) -> dict:
    """The provider's parameters, with image references turned into the pictures themselves.

    A reference is resolved only where the model takes a picture, and only to a picture of the
    generation's own team or an upload of its own owner; anything else raises ImageError, so
    nothing is sent.
    """
    model = catalog.get(generation.model_id)
    kinds = {p.name: p.type for p in model.image_params} if model else {}
    params: dict[str, Any] = {}
    for name, value in generation.params.items():
        if name in kinds:
            params[name] = _pictures(generation, kinds[name], value)
        elif catalog.holds_picture_reference(value):
            raise images.ImageError(MISPLACED_PICTURE.format(name=name))
        else:
            params[name] = value
    # Upscalers and some relight models take no prompt, or only an optional one.
    if model is None or (model.prompt and (generation.prompt or model.prompt.required)):
        params = {"prompt": generation.prompt, **params}
    return params


INPUT_GONE = "A picture this generation starts from was deleted or hidden, so it was not sent."


INPUT_NOT_ALLOWED = (
    "A picture this generation starts from is neither in this team's galleries nor one of its "
    "author's uploads, so nothing was sent."
)


MISPLACED_PICTURE = (
    "The parameter {name} names a picture, which only a picture field may do, so nothing was sent."
)


def _pictures(generation: Generation, kind: str, value) -> InputFile | list[InputFile]:
    """One picture parameter: a reference ("image"), or a list of them ("images")."""
    if kind == "image" and catalog.is_picture_reference(value):
        return input_file(generation, value)
    listed = isinstance(value, list) and all(catalog.is_picture_reference(v) for v in value)
    if kind == "images" and listed:
        return [input_file(generation, v) for v in value]
    raise images.ImageError(INPUT_NOT_ALLOWED)


def input_file(generation: Generation, reference: dict[str, str]) -> InputFile:
    """The picture a reference names, if the generation may use it."""
    [(kind, named)] = reference.items()
    uuid = _uuid(named)
    if kind == "upload":
        # Uploads are private to whoever made them: only the generation owner's are sent.
        item = generation.owner.input_images.filter(uuid=uuid).first()
        if item is None:
            raise images.ImageError(INPUT_NOT_ALLOWED)
        stored, content_type, filename = item.file, item.content_type, item.filename
    else:
        image = generation.team.images.filter(uuid=uuid).first()
        if image is None:
            raise images.ImageError(INPUT_NOT_ALLOWED)
        # Not one deleted or hidden by an admin since (a retry re-sends the old parameters).
        if image.deleted_at is not None or image.hidden_at is not None:
            raise images.ImageError(INPUT_GONE)
        stored, content_type = image.original, image.content_type
        filename = (stored.name or "").rsplit("/", 1)[-1]
    with stored.open("rb") as f:
        data = f.read()
    return InputFile(content_type, data, filename or "image.png", public_link(kind, uuid))


def _uuid(value) -> str:
    try:
        return str(UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise images.ImageError(INPUT_NOT_ALLOWED) from None
