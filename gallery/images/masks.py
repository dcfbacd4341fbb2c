"""Masks for edit models: what the mask editor needs on the page, and the server's checks.

The catalog says which parameter is a mask, the picture it goes with (`mask_of`) and how the
provider reads it (`mask_convention`, a key of `catalog.MASK_CONVENTIONS`). A provider refuses a
mask that is not a PNG of exactly the picture's size, or (OpenAI's edits) one with no
transparency, with a message a person cannot act on; the form says it first, in words.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from gallery.models import Image
from jobs import catalog
from jobs.catalog import Param

PNG = "image/png"


def widget_attrs(param: Param) -> dict[str, str]:
    """The file input's attributes: a mask names its picture input and its colours; a picture
    input is marked as one pictures can be dropped or pasted into."""
    if not param.mask_convention:
        return {"data-source-image": ""}
    colours = catalog.MASK_CONVENTIONS[param.mask_convention]
    return {
        "accept": PNG,
        "data-mask-of": f"id_p_{param.mask_of}",
        "data-mask-convention": param.mask_convention,
        "data-mask-edit": ",".join(map(str, colours["edit"])),
        "data-mask-keep": ",".join(map(str, colours["keep"])),
    }


@dataclass
class Picture:
    name: str
    content_type: str
    width: int
    height: int
    open: Callable[[], IO[bytes]]
    # A stored file is closed after reading; an upload stays open, to be saved later.
    stored: bool = True


def problem(form: Any, field_name: Callable[[Param], str]) -> tuple[str, str] | None:
    """(field, why) when the model's mask does not fit its picture; None when it does or when
    there is no mask (or no picture yet: the picture's own check says so)."""
    model = form.catalog_model
    mask_param = model.mask_param
    source_param = mask_param and model.param(mask_param.mask_of)
    if mask_param is None or source_param is None:
        return None
    field = field_name(mask_param)
    if field in form.errors or field_name(source_param) in form.errors:
        return None
    mask = first_picture(form, mask_param, field)
    source = first_picture(form, source_param, field_name(source_param))
    if mask is None or source is None:
        return None
    if mask.content_type != PNG:
        return field, f"The mask must be a PNG picture; {mask.name} is not one."
    if (mask.width, mask.height) != (source.width, source.height):
        return field, (
            f"The mask is {mask.width} × {mask.height} pixels but the picture it goes with is "
            f"{source.width} × {source.height}; a mask must be exactly the picture's size."
        )
    if mask_param.mask_convention == "transparent-edits" and not _has_alpha(mask):
        return field, (
            f"{model.name} edits where the mask is transparent, and this mask has no "
            "transparency. Paint it in the mask editor, or save it as a PNG with transparency."
        )
    return None


def first_picture(form: Any, param: Param, field: str) -> Picture | None:
    """The first picture a parameter will send, in the order the form sends them: kept uploads
    (a retry), new uploads, then pictures picked from the gallery."""
    for item in form.kept.get(param.name, []):
        if item is not None:
            size = item.width, item.height
            return Picture(item.filename, item.content_type, *size, item.file.open)
    for upload in form.cleaned_data.get(field) or []:
        info = upload.inspected
        name = upload.name or "the upload"
        reopen = _rewound(upload)
        return Picture(name, info.content_type, info.width, info.height, reopen, stored=False)
    for uuid in form.cleaned_data.get(f"{field}_pick") or []:
        image = Image.objects.filter(uuid=uuid).first()
        if image is not None:
            name = "the picture from the gallery"
            return Picture(name, image.content_type, image.width, image.height, image.original.open)
    return None


def _rewound(upload: Any) -> Callable[[], IO[bytes]]:
    def reopen() -> IO[bytes]:
        upload.seek(0)
        return upload

    return reopen


def _has_alpha(picture: Picture) -> bool:
    """Whether a PNG can hold transparent pixels (an alpha channel, or a transparent colour)."""
    data = picture.open()
    try:
        with PILImage.open(data, formats=["PNG"]) as im:
            return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    except (OSError, UnidentifiedImageError):
        return False
    finally:
        if picture.stored:
            data.close()
