"""Safe downloads and Pillow work. Knows nothing of Django models.

Content is identified by decoding it, never by what a header claims.
"""

import base64
import binascii
import hashlib
import io
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from PIL import Image, ImageOps

# What Atelier accepts from providers; anything else (SVG, HTML, TIFF…) is refused.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
# The largest models make 4096 x 4096 (16.8 MP); allow some headroom, refuse bombs before decoding.
MAX_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageError(Exception):
    """A problem with an output, in words a person understands."""


@dataclass
class Decoded:
    content_type: str
    width: int
    height: int
    sha256: str
    thumbnail: bytes
    thumb_width: int
    thumb_height: int


@dataclass
class Inspected:
    content_type: str
    width: int
    height: int
    sha256: str


def inspect(data: bytes) -> Inspected:
    """Check that bytes are a picture Atelier accepts, without decoding every pixel."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            fmt, (width, height) = im.format or "", im.size
            if width * height > MAX_PIXELS:
                raise ImageError("The image has too many pixels to process safely.")
            im.verify()
    except Image.DecompressionBombError:
        raise ImageError("The image has too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError("This is not a PNG, JPEG or WebP image.") from None
    return Inspected(CONTENT_TYPES[fmt], width, height, hashlib.sha256(data).hexdigest())


def decode_base64(data: str, max_bytes: int) -> bytes:
    """Decode a base64 output (with or without a `data:` prefix), checking its size first."""
    if data.startswith("data:"):
        _, _, data = data.partition(",")
    data = data.strip()
    if len(data) * 3 // 4 > max_bytes:
        raise ImageError(f"The image is larger than the {max_bytes // 1_000_000} MB limit.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("The provider sent image data that is not valid base64.") from None


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_download_url(url: str, trusted_hosts: set[str]) -> None:
    """Allow the provider's own host, configured hosts, or hosts resolving to public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageError("The provider gave an image address that is not a web URL.")
    host = parts.hostname.lower()
    if host in trusted_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise ImageError(f"The image host {host} could not be found.") from None
    if not infos or not all(is_public_address(str(info[4][0])) for info in infos):
        raise ImageError(f"The image address points to a private network ({host}); refused.")


def download(client: httpx.Client, url: str, *, max_bytes: int, trusted_hosts: set[str]) -> bytes:
    """Stream an output, refusing it as soon as it is known to be too big."""
    check_download_url(url, trusted_hosts)
    limit_mb = max_bytes // 1_000_000
    with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise ImageError(f"Downloading the image failed ({response.status_code}).")
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise ImageError(f"The image is larger than the {limit_mb} MB limit.")
        chunks, total = [], 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > max_bytes:
                raise ImageError(f"The image is larger than the {limit_mb} MB limit.")
            chunks.append(chunk)
    return b"".join(chunks)


def process(data: bytes, thumb_size: int) -> Decoded:
    """Decode once, check it is a real image, and make the WebP thumbnail from that decode."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            fmt = im.format or ""
            width, height = im.size
            if width * height > MAX_PIXELS:
                raise ImageError("The image has too many pixels to process safely.")
            if fmt == "JPEG":
                # Let libjpeg scale down while decoding: far less work for big JPEGs.
                im.draft("RGB", (thumb_size * 2, thumb_size * 2))
            im.seek(0)
            thumb = ImageOps.exif_transpose(im)
            thumb.thumbnail((thumb_size, thumb_size), Image.Resampling.LANCZOS)
            if thumb.mode not in ("RGB", "RGBA"):
                thumb = thumb.convert("RGBA" if "A" in thumb.getbands() else "RGB")
            out = io.BytesIO()
            thumb.save(out, "WEBP", quality=82, method=4)
    except Image.DecompressionBombError:
        raise ImageError("The image has too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError(
            "The provider sent something that is not a PNG, JPEG or WebP image."
        ) from None
    return Decoded(
        content_type=CONTENT_TYPES[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        thumbnail=out.getvalue(),
        thumb_width=thumb.width,
        thumb_height=thumb.height,
    )


CONTENT_TYPES_EXT = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}
