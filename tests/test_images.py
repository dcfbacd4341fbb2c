import base64
import io
import struct

import pytest
from PIL import Image as PILImage

from jobs import images
from tests.factories import png_bytes


def jpeg_bytes(width: int, height: int, orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    image = PILImage.new("RGB", (width, height), "navy")
    exif = PILImage.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_it_makes_a_webp_thumbnail_from_a_png():
    decoded = images.process(png_bytes(1024, 768), (768, 256))
    assert decoded.content_type == "image/png"
    assert (decoded.width, decoded.height) == (1024, 768)
    for size, expected in ((768, (768, 576)), (256, (256, 192))):
        thumb = PILImage.open(io.BytesIO(decoded.thumbnails[size].data))
        assert thumb.format == "WEBP"
        assert (
            thumb.size
            == expected
            == (decoded.thumbnails[size].width, decoded.thumbnails[size].height)
        )
        assert not thumb.getexif() and "icc_profile" not in thumb.info


def test_it_keeps_small_images_at_their_size():
    decoded = images.process(png_bytes(100, 50), (768, 256))
    assert (decoded.thumbnails[768].width, decoded.thumbnails[768].height) == (100, 50)


def test_an_image_smaller_than_every_size_is_encoded_once(monkeypatch):
    small, middling = png_bytes(100, 50), png_bytes(300, 200)
    saves = []
    save = PILImage.Image.save
    monkeypatch.setattr(
        PILImage.Image, "save", lambda im, *a, **k: saves.append(1) or save(im, *a, **k)
    )
    decoded = images.process(small, (768, 256))
    assert len(saves) == 1
    assert decoded.thumbnails[256] == decoded.thumbnails[768]
    assert PILImage.open(io.BytesIO(decoded.thumbnails[256].data)).size == (100, 50)
    decoded = images.process(middling, (768, 256))  # between the sizes: two
    assert len(saves) == 3
    assert (decoded.thumbnails[256].width, decoded.thumbnails[768].width) == (256, 300)


def test_it_applies_exif_orientation_to_the_thumbnail():
    decoded = images.process(jpeg_bytes(1600, 800, orientation=6), (768, 256))
    assert decoded.content_type == "image/jpeg"
    assert (decoded.width, decoded.height) == (1600, 800)  # the original is kept as it is
    thumb = decoded.thumbnails[768]
    assert (thumb.width, thumb.height) == (384, 768)


def test_it_identifies_content_by_decoding_not_by_label():
    with pytest.raises(images.ImageError, match="not a PNG, JPEG or WebP"):
        images.process(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    with pytest.raises(images.ImageError, match="not a PNG, JPEG or WebP"):
        images.process(b"<html><body>hi</body></html>")


def test_it_refuses_formats_it_does_not_accept():
    out = io.BytesIO()
    PILImage.new("RGB", (10, 10)).save(out, "TIFF")
    with pytest.raises(images.ImageError):
        images.process(out.getvalue())


def test_it_refuses_a_decompression_bomb_before_decoding():
    # A tiny PNG whose header claims 20000 x 20000 pixels.
    out = io.BytesIO()
    PILImage.new("1", (20000, 20000)).save(out, "PNG")
    assert len(out.getvalue()) < 200_000
    with pytest.raises(images.ImageError, match="too many pixels"):
        images.process(out.getvalue())


def test_it_decodes_base64_with_or_without_a_data_prefix():
    raw = png_bytes()
    encoded = base64.b64encode(raw).decode()
    assert images.decode_base64(encoded, 10_000_000) == raw
    assert images.decode_base64("data:image/png;base64," + encoded, 10_000_000) == raw


def test_it_refuses_invalid_or_oversized_base64():
    with pytest.raises(images.ImageError, match="not valid base64"):
        images.decode_base64("not*base64!", 1000)
    with pytest.raises(images.ImageError, match="larger than"):
        images.decode_base64("A" * 4_000_000, 1_000_000)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://10.0.0.5/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://localhost/x.png",
    ],
)
def test_it_refuses_downloads_from_private_addresses(url):
    with pytest.raises(images.ImageError, match="private network"):
        images.resolve_download(url, trusted_hosts=set())


def test_it_allows_the_providers_own_host_and_refuses_other_schemes():
    images.resolve_download("http://127.0.0.1:8000/sandbox/files/x", {"127.0.0.1"})
    with pytest.raises(images.ImageError, match="not a web URL"):
        images.resolve_download("file:///etc/passwd", set())


def test_it_stops_a_download_that_is_too_big():
    import httpx

    def handler(request):
        return httpx.Response(200, content=b"x" * 5000)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(images.ImageError, match="larger than"):
        images.download(client, "http://cdn.test/x", max_bytes=1000, trusted_hosts={"cdn.test"})


# --- formats Pillow reports, and decoder errors of every kind ------------------------------------


def mpo_bytes(width: int = 64, height: int = 48) -> bytes:
    """What phone cameras write: a JPEG (red) with a second picture (blue) after it."""
    out = io.BytesIO()
    first, second = (PILImage.new("RGB", (width, height), c) for c in ("red", "blue"))
    first.save(out, "MPO", save_all=True, append_images=[second])
    return out.getvalue()


def frames(fmt: str) -> bytes:
    """A two-frame file of a format that has frames (APNG is Pillow's "PNG")."""
    out = io.BytesIO()
    first, second = (PILImage.new("RGB", (40, 30), c) for c in ("red", "blue"))
    first.save(out, fmt, save_all=True, append_images=[second])
    return out.getvalue()


def bad_exif_jpeg() -> bytes:
    """A JPEG whose EXIF turns it (Orientation 6) and calls its description a FLOAT.

    Pillow reads that, then fails to write it back while turning the picture, with an
    AttributeError: one of the many errors its metadata code raises besides OSError.
    """
    entries = [(0x010E, 11, 1, b"\x3f\x80\x00\x00"), (0x0112, 3, 1, b"\x00\x06\x00\x00")]
    ifd = struct.pack(">H", len(entries))
    ifd += b"".join(struct.pack(">HHI", tag, kind, n) + v for tag, kind, n, v in entries)
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + ifd + b"\x00\x00\x00\x00"
    out = io.BytesIO()
    PILImage.new("RGB", (40, 30), "red").save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_it_reads_an_mpo_as_a_jpeg_by_its_first_picture():
    data = mpo_bytes(2000, 1000)
    assert PILImage.open(io.BytesIO(data)).format == "MPO"
    decoded = images.process(data, (768, 256))
    assert decoded.content_type == "image/jpeg"
    assert (decoded.width, decoded.height) == (2000, 1000)
    thumb = PILImage.open(io.BytesIO(decoded.thumbnails[768].data)).convert("RGB")
    assert thumb.size == (768, 384)
    red, green, blue = thumb.getpixel((10, 10))
    assert red > 200 and green < 50 and blue < 50  # the first picture, not the second
    assert images.inspect(data).content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (png_bytes(), "image/png"),
        (frames("PNG"), "image/png"),  # APNG
        (jpeg_bytes(40, 30), "image/jpeg"),
        (mpo_bytes(), "image/jpeg"),
        (frames("WEBP"), "image/webp"),
        (frames("GIF"), "image/gif"),
    ],
    ids=["png", "apng", "jpeg", "mpo", "animated-webp", "animated-gif"],
)
def test_every_variant_of_an_accepted_format_is_accepted_as_its_family(data, content_type):
    assert images.inspect(data).content_type == content_type
    assert images.process(data).content_type == content_type
    assert set(images.FAMILIES.values()) == set(images.FORMATS)


def test_an_unexpected_decoder_error_is_a_plain_image_error_keeping_its_cause():
    with pytest.raises(images.UnreadableImage, match="could not be read") as caught:
        images.process(bad_exif_jpeg())
    assert isinstance(caught.value, images.ImageError)
    assert isinstance(caught.value.__cause__, AttributeError)  # kept for the log
