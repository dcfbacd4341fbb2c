"""Safe downloads and Pillow work. Knows nothing of Django models.

Content is identified by decoding it, never by what a header claims.
"""

import base64
import binascii
import hashlib
import io
import ipaddress
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from PIL import Image, ImageOps

# What Atelier accepts from providers; anything else (SVG, HTML, TIFF…) is refused.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# Every format name those plugins report, by the family it belongs to. Phone cameras write MPO:
# a JPEG with more pictures after the first, which every JPEG reader shows as its first. (APNG,
# animated WebP and GIF report their own family's name.)
FAMILIES = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WEBP", "GIF": "GIF"}
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
# The largest models make 4096 x 4096 (16.8 MP); allow some headroom, refuse bombs before decoding.
MAX_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
TOO_MANY_PIXELS = "The image has too many pixels to process safely."
DAMAGED = (
    "The image could not be read: its data is damaged or uses a feature Atelier does not support."
)


class ImageError(Exception):
    """A problem with an output, in words a person understands."""


class UnreadableImage(ImageError):
    """A decoder failure of a kind nobody expected; the original error is its __cause__, to log."""


@dataclass
class Thumbnail:
    data: bytes
    width: int
    height: int


@dataclass
class Decoded:
    content_type: str
    width: int
    height: int
    sha256: str
    # Keyed by the longest side asked for, e.g. {768: ..., 256: ...}.
    thumbnails: dict[int, Thumbnail]


@dataclass
class Inspected:
    content_type: str
    width: int
    height: int
    sha256: str


@contextmanager
def _decoding(not_an_image: str) -> Iterator[None]:
    """Turn every way Pillow can fail on hostile bytes into an ImageError.

    Its parsers raise more than OSError on damaged files (struct.error, KeyError, TypeError,
    AttributeError from metadata…); to a person they all mean the picture cannot be read. The
    unexpected kinds keep their cause, so the caller can log it.
    """
    try:
        yield
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError(not_an_image) from None
    except Exception as e:
        raise UnreadableImage(DAMAGED) from e


def _family(im: Image.Image) -> str:
    family = FAMILIES.get(im.format or "")
    if family is None:  # a variant a newer Pillow reports: refused until it is known here
        raise ImageError(f"Images in the {im.format} format are not accepted.")
    if im.width * im.height > MAX_PIXELS:
        raise ImageError(TOO_MANY_PIXELS)
    return family


def inspect(data: bytes) -> Inspected:
    """Check that bytes are a picture Atelier accepts, without decoding every pixel."""
    with (
        _decoding("This is not a PNG, JPEG or WebP image."),
        Image.open(io.BytesIO(data), formats=FORMATS) as im,
    ):
        family, (width, height) = _family(im), im.size
        im.verify()
    return Inspected(CONTENT_TYPES[family], width, height, hashlib.sha256(data).hexdigest())


def size_limit(max_bytes: int) -> str:
    """A byte cap in words: "50 MB", "500 KB"."""
    if max_bytes >= 1 << 20:
        return f"{max_bytes / (1 << 20):g} MB"
    return f"{max_bytes / 1024:g} KB"


def decode_base64(data: str, max_bytes: int) -> bytes:
    """Decode a base64 output (with or without a `data:` prefix), checking its size first."""
    if data.startswith("data:"):
        _, _, data = data.partition(",")
    data = data.strip()
    if len(data) * 3 // 4 > max_bytes:
        raise ImageError(f"The image is larger than the {size_limit(max_bytes)} limit.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("The provider sent image data that is not valid base64.") from None


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


MAX_REDIRECTS = 3


def resolve_download(url: str, trusted_hosts: set[str]) -> str | None:
    """Check an output URL against the trust rule; return the address to connect to.

    The provider's own host and configured hosts are trusted as they are (None: connect by
    name). Any other host must resolve only to public addresses, and the connection then goes
    to the address that was checked, so a second DNS answer cannot point somewhere else.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageError("The provider gave an image address that is not a web URL.")
    host = parts.hostname.lower()
    if host in trusted_hosts:
        return None
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ImageError(f"The image host {host} could not be found.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise ImageError(f"The image address points to a private network ({host}); refused.")
    return addresses[0]


def _pinned_request(client: httpx.Client, url: str, address: str | None) -> httpx.Request:
    request = client.build_request("GET", url)
    if address is not None:
        host = request.url.host
        ip = ipaddress.ip_address(address)
        pinned = f"[{ip}]" if ip.version == 6 else str(ip)
        request.url = request.url.copy_with(host=pinned.strip("[]"))
        request.headers["Host"] = request.headers.get("Host") or host
        # TLS still checks the certificate against the real name.
        request.extensions["sni_hostname"] = host
    return request


def _read_capped(response: httpx.Response, max_bytes: int, give_up: float) -> bytes:
    limit = size_limit(max_bytes)
    if response.status_code != 200:
        raise ImageError(f"Downloading the image failed ({response.status_code}).")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise ImageError(f"The image is larger than the {limit} limit.")
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise ImageError(f"The image is larger than the {limit} limit.")
        if time.monotonic() > give_up:
            raise ImageError("Downloading the image took too long; it was stopped.")
        chunks.append(chunk)
    return b"".join(chunks)


def download(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    trusted_hosts: set[str],
    deadline: float = 120.0,
) -> bytes:
    """Stream an output: size-capped, time-boxed, redirects followed by hand and re-checked."""
    give_up = time.monotonic() + deadline
    for _hop in range(MAX_REDIRECTS + 1):
        address = resolve_download(url, trusted_hosts)
        request = _pinned_request(client, url, address)
        response = client.send(request, stream=True)
        try:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            return _read_capped(response, max_bytes, give_up)
        finally:
            response.close()
    raise ImageError(f"The image address redirected more than {MAX_REDIRECTS} times; refused.")


def process(data: bytes, sizes: tuple[int, ...] = (768, 256)) -> Decoded:
    """Decode once, check it is a real image, and make every WebP thumbnail from that decode.

    A file of several frames (MPO, APNG, animated WebP or GIF) is shown by its first.
    Metadata is not carried into thumbnails; the original is kept byte for byte elsewhere.
    """
    largest = max(sizes)
    with (
        _decoding("The provider sent something that is not a PNG, JPEG or WebP image."),
        Image.open(io.BytesIO(data), formats=FORMATS) as im,
    ):
        family, (width, height) = _family(im), im.size
        if family == "JPEG":
            # Let libjpeg scale down while decoding: far less work for big JPEGs.
            im.draft("RGB", (largest, largest))
        im.seek(0)
        frame = ImageOps.exif_transpose(im)
        if frame.mode not in ("RGB", "RGBA"):
            frame = frame.convert("RGBA" if "A" in frame.getbands() else "RGB")
        thumbnails: dict[int, Thumbnail] = {}
        previous: Thumbnail | None = None
        for size in sorted(sizes, reverse=True):
            # Each smaller size is made from the previous one, not from the full image.
            # Bilinear and WebP method 0 cost a third of Lanczos and method 4; at 768 px
            # and below the difference does not show (bench/thumbnail.py).
            frame.thumbnail((size, size), Image.Resampling.BILINEAR)
            if previous is not None and frame.size == (previous.width, previous.height):
                # Smaller than this size too: the same picture, encoded once.
                thumbnails[size] = previous
                continue
            out = io.BytesIO()
            frame.save(out, "WEBP", quality=82, method=0)
            previous = thumbnails[size] = Thumbnail(out.getvalue(), frame.width, frame.height)
    return Decoded(
        content_type=CONTENT_TYPES[family],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        thumbnails=thumbnails,
    )


CONTENT_TYPES_EXT = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}


def png_with_text(data: bytes, text: dict[str, str]) -> bytes:
    """The same PNG with UTF-8 text chunks (iTXt) added before IEND; pixels untouched."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or not data.endswith(IEND):
        return data
    chunks = b"".join(_itxt(key, value) for key, value in text.items())
    return data[: -len(IEND)] + chunks + IEND


IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _itxt(keyword: str, value: str) -> bytes:
    body = keyword.encode("latin-1")[:79] + b"\x00\x00\x00" + b"\x00" + b"\x00" + value.encode()
    kind = b"iTXt"
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
