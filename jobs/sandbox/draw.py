"""Deterministic placeholder pictures for the sandbox provider.

The same (prompt, seed, width, height) always gives the same pixels, so a file URL can be
re-rendered on demand instead of stored, and tests can compare results byte for byte.
"""

import hashlib
import io
import random

from PIL import Image, ImageDraw, ImageFont

MIN_SIDE = 64
MAX_SIDE = 4096
FORMATS = {"png": "PNG", "jpeg": "JPEG"}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
CAPTION_CHARS = 40

type RGB = tuple[int, int, int]


def content_type(fmt: str) -> str:
    return CONTENT_TYPES[fmt]


def render(prompt: str, seed: int, width: int, height: int, fmt: str) -> bytes:
    """Draw the picture for these inputs and encode it as `fmt` ("png" or "jpeg")."""
    _check(width, height, fmt)
    rng = random.Random(_digest(prompt, seed, width, height))
    image = _gradient(rng, width, height)
    _shapes(ImageDraw.Draw(image, "RGBA"), rng, width, height)
    _caption(ImageDraw.Draw(image), rng, prompt, width, height)
    return _encode(image, fmt)


def _check(width: int, height: int, fmt: str) -> None:
    for name, side in (("width", width), ("height", height)):
        if not isinstance(side, int) or isinstance(side, bool):
            raise ValueError(f"{name} must be an integer, got {side!r}")
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise ValueError(f"{name} must be between {MIN_SIDE} and {MAX_SIDE}, got {side}")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def _digest(prompt: str, seed: int, width: int, height: int) -> bytes:
    # NUL separators keep ("a1", 2) and ("a", 12) from hashing alike.
    key = f"{prompt}\0{seed}\0{width}\0{height}".encode()
    return hashlib.sha256(key).digest()


def _colour(rng: random.Random) -> RGB:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _gradient(rng: random.Random, width: int, height: int) -> Image.Image:
    # A 2x2 seed image stretched with BILINEAR is a smooth gradient at C speed, no pixel loops.
    start, end = _colour(rng), _colour(rng)
    mid = tuple((a + b) // 2 for a, b in zip(start, end, strict=True))
    corners = {
        "vertical": (start, start, end, end),
        "horizontal": (start, end, start, end),
        "diagonal": (start, mid, mid, end),
    }[rng.choice(("vertical", "horizontal", "diagonal"))]
    small = Image.new("RGB", (2, 2))
    small.putdata(list(corners))
    return small.resize((width, height), Image.Resampling.BILINEAR)


def _shapes(draw: ImageDraw.ImageDraw, rng: random.Random, width: int, height: int) -> None:
    for _ in range(rng.randint(6, 12)):
        fill = (*_colour(rng), rng.randint(120, 230))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        rx = rng.uniform(0.05, 0.3) * width
        ry = rng.uniform(0.05, 0.3) * height
        box = (x - rx, y - ry, x + rx, y + ry)
        kind = rng.choice(("ellipse", "rectangle", "polygon"))
        if kind == "ellipse":
            draw.ellipse(box, fill=fill)
        elif kind == "rectangle":
            draw.rectangle(box, fill=fill)
        else:
            sides = rng.randint(3, 7)
            points = [(x + rng.uniform(-rx, rx), y + rng.uniform(-ry, ry)) for _ in range(sides)]
            draw.polygon(points, fill=fill)


def _caption(
    draw: ImageDraw.ImageDraw, rng: random.Random, prompt: str, width: int, height: int
) -> None:
    text = " ".join(prompt.split())[:CAPTION_CHARS] or "(no prompt)"
    size = max(10, min(width, height) // 20)
    font = ImageFont.load_default(size=size)
    # Shorten until it fits so narrow images still show the start of the prompt.
    while len(text) > 1 and draw.textlength(text, font=font) > width - size:
        text = text[:-1]
    band = _colour(rng)
    band_top = int(height * rng.uniform(0.55, 0.8))
    band_bottom = min(height, band_top + int(size * 1.8))
    draw.rectangle((0, band_top, width, band_bottom), fill=band)
    draw.text(
        (size // 2, (band_top + band_bottom) // 2),
        text,
        font=font,
        fill=_contrast(band),
        anchor="lm",
    )


def _contrast(colour: RGB) -> RGB:
    # Rec. 601 luma decides between black and white ink, enough for a readable caption.
    r, g, b = colour
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        # Low compression: these are throwaway pictures and speed matters more than size.
        image.save(out, FORMATS[fmt], compress_level=1)
    else:
        image.save(out, FORMATS[fmt], quality=90)
    return out.getvalue()
