import io

from django.core.files.base import ContentFile
from PIL import Image as PILImage

from gallery.models import Generation, Image, personal_team


def png_bytes(width: int = 64, height: int = 48, color: str = "tomato") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def make_generation(owner, **fields) -> Generation:
    fields.setdefault("model_id", "sandbox/flux-sync")
    fields.setdefault("provider", "sandbox")
    fields.setdefault("prompt", "a red fox in the snow")
    fields.setdefault("params", {"image_size": "square", "num_images": 1})
    fields.setdefault("team", personal_team(owner))
    fields.setdefault("gallery", fields["team"].default_gallery())
    return Generation.objects.create(owner=owner, **fields)


def make_image(generation: Generation, index: int = 0) -> Image:
    data = png_bytes()
    image = Image(
        generation=generation,
        gallery=generation.gallery or generation.team.default_gallery(),
        index=index,
        width=64,
        height=48,
        thumb_width=64,
        thumb_height=48,
        content_type="image/png",
        byte_size=len(data),
        sha256="0" * 64,
    )
    image.original.save(f"originals/{generation.uuid}/{index}.png", ContentFile(data), save=False)
    base = f"thumbnails/{generation.uuid}/{index}"
    image.thumbnail.save(f"{base}.webp", ContentFile(data), save=False)
    image.thumbnail_small.save(f"{base}-256.webp", ContentFile(data), save=False)
    image.save()
    return image
