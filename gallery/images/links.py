"""A picture's addresses, as a grid tile needs them.

A tile links to its page, its files, its favorite form and "use these settings": ten
`reverse()` calls each, which for a page of 48 tiles cost more than the rest of the page's
template. Each address is reversed once per process (per script prefix) for a sample uuid, and
a tile's are that text with its own uuid in place.
"""

import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.urls import get_script_prefix, reverse

SAMPLE = uuid.UUID(int=0)


@lru_cache(maxsize=8)
def _patterns(script_prefix: str) -> dict[str, str]:
    return {
        "open": reverse("gallery:image-detail", args=[SAMPLE]),
        "favorite": reverse("gallery:image-favorite", args=[SAMPLE]),
        "thumbnail": reverse("gallery:image-file", args=[SAMPLE, "thumbnail"]),
        "small": reverse("gallery:image-file", args=[SAMPLE, "small"]),
        "original": reverse("gallery:image-file", args=[SAMPLE, "original"]),
        "use": reverse("gallery:index") + f"?use={SAMPLE}",
    }


@dataclass(frozen=True)
class ImageLinks:
    open: str
    favorite: str
    thumbnail: str
    small: str
    original: str
    use: str  # the composer with the picture's generation's settings

    @classmethod
    def of(cls, image_uuid: uuid.UUID, generation_uuid: uuid.UUID) -> "ImageLinks":
        sample = str(SAMPLE)
        ids = {"use": str(generation_uuid)}
        return cls(
            **{
                name: url.replace(sample, ids.get(name, str(image_uuid)))
                for name, url in _patterns(get_script_prefix()).items()
            }
        )
