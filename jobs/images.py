"""Safe downloads and Pillow work. Knows nothing of Django models.

Content is identified by decoding it, never by what a header claims.
"""

import base64
import binascii
import hashlib
import io
import ipaddress
import re
import socket
import struct
import time
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

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


# IPv6 ranges that carry an IPv4 address in their last 32 bits, and reach that IPv4 host
# (through a translator, or the host itself): judged by the IPv4 address, whatever the IPv6
# rules say (Python's `is_global` calls several of them global, 64:ff9b::7f00:1 among them).
IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, the well-known prefix
        "::/96",  # IPv4-compatible (deprecated); also :: and ::1
    )
)
# NAT64 for local use (RFC 8215): the IPv4 address sits where the operator's prefix length
# puts it, so there is no one place to judge it from; refused outright.
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def is_public_address(address: str) -> bool:
    """Whether an address is on the public internet, IPv4 inside IPv6 judged as the IPv4 it is."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _public(ip)
    if ip in LOCAL_NAT64:
        return False
    if any(ip in net for net in IPV4_IN_LAST_32_BITS):
        return _public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:  # 6to4, 2002::/16
        return _public(ip.sixtofour)
    if ip.teredo is not None:  # Teredo, 2001::/32: its relay server and the client behind it
        return all(_public(v4) for v4 in ip.teredo)
    return _public(ip)


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # `is_global` is the base; the rest is what some Python versions still count as global.
    special = ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return ip.is_global and not (special or site_local or ip.is_link_local or ip.is_private)


MAX_REDIRECTS = 3


class Origin(NamedTuple):
    """Where a URL connects. Trust is given to exactly this, never to a host on any port."""

    scheme: str
    host: str
    port: int


DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_NAME = re.compile(r"[a-z0-9_.-]+")
NOT_A_WEB_URL = "The provider gave an image address that is not a valid web URL."


def web_url(url: str | httpx.URL) -> httpx.URL:
    """An image address as httpx will send it, or a clear refusal of anything but plain http(s).

    The URL checked is the URL sent (one parser for both), so the two cannot disagree.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise ImageError(NOT_A_WEB_URL) from None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.raw_host:
        raise ImageError(NOT_A_WEB_URL)
    if parsed.userinfo:
        raise ImageError("The image address carries a user name or password; refused.")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ImageError(f"The image address has a port out of range ({parsed.port}); refused.")
    host = parsed.raw_host.decode("ascii").lower()
    if ":" in host:  # an IPv6 literal
        if "%" in host:
            raise ImageError("The image address names a network interface (an IPv6 zone); refused.")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ImageError(NOT_A_WEB_URL) from None
    elif not HOST_NAME.fullmatch(host):
        raise ImageError(NOT_A_WEB_URL)
    return parsed


def origin_of(url: str | httpx.URL) -> Origin:
    parsed = web_url(url)
    host = parsed.raw_host.decode("ascii").lower()
    if ":" in host:
        host = str(ipaddress.IPv6Address(host))  # one spelling for one address
    return Origin(parsed.scheme, host, parsed.port or DEFAULT_PORTS[parsed.scheme])


def resolve_download(url: str | httpx.URL, trusted: Collection[Origin]) -> str | None:
    """Check an output URL against the trust rule; return the address to connect to.

    A trusted origin (exactly its scheme, host and port) is connected to by name (None). Any
    other must resolve only to public addresses, and the connection then goes to the address
    that was checked, so a second DNS answer cannot point somewhere else.
    """
    origin = origin_of(url)
    if origin in trusted:
        return None
    try:
        infos = socket.getaddrinfo(origin.host, origin.port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ImageError(f"The image host {origin.host} could not be found.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise ImageError(f"The image address points to a private network ({origin.host}); refused.")
    return addresses[0]


def pinned_request(
    client: httpx.Client, url: httpx.URL, address: str | None, method: str = "GET", **build
) -> httpx.Request:
    """A request to `url` that connects to `address` (from `resolve_download`), if one is given.

    `build`: what else httpx's `build_request` takes (content, headers), for webhooks' POSTs.
    """
    request = client.build_request(method, url, **build)
    if address is not None:
        host = request.url.host
        request.url = request.url.copy_with(host=str(ipaddress.ip_address(address)))
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
    try:
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > max_bytes:
                raise ImageError(f"The image is larger than the {limit} limit.")
            if time.monotonic() > give_up:
                raise ImageError("Downloading the image took too long; it was stopped.")
            chunks.append(chunk)
    except httpx.DecodingError:
        raise ImageError("The image arrived damaged (its compression is broken).") from None
    return b"".join(chunks)


def _send(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    try:
        return client.send(request, stream=True)
    except httpx.RemoteProtocolError as e:
        # httpx parses a redirect's Location even when it does not follow it; a bad one is the
        # server's answer, not a broken connection worth trying again.
        if str(e).startswith("Invalid URL in location header"):
            raise ImageError(BAD_REDIRECT) from None
        raise


BAD_REDIRECT = "The image address redirected to an address that is not valid."


def _redirect(url: httpx.URL, location: str) -> httpx.URL:
    try:
        return url.join(location)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise ImageError(BAD_REDIRECT) from None


def download(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    trusted: Collection[Origin],
    deadline: float = 120.0,
) -> bytes:
    """Stream an output: size-capped, time-boxed, redirects followed by hand and re-checked.

    Trust holds only along a chain of trusted origins: after one hop that was not trusted, every
    later hop must be a public address too, so no outside server can send us to the provider's
    own private host. A trusted origin's redirect elsewhere is judged by where it goes.
    """
    give_up = time.monotonic() + deadline
    target = web_url(url)
    for _hop in range(MAX_REDIRECTS + 1):
        address = resolve_download(target, trusted)
        if address is not None:
            trusted = ()  # an untrusted hop vouches for nothing after it
        response = _send(client, pinned_request(client, target, address))
        try:
            if response.is_redirect and "location" in response.headers:
                target = _redirect(target, response.headers["location"])
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
