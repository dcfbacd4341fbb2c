import base64
import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image as PILImage

from jobs import images
from tests.factories import bad_exif_jpeg, mpo_bytes, png_bytes
from webapp.settings import envorigins


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
        images.resolve_download(url, trusted=set())


def test_it_allows_the_providers_own_origin_and_refuses_other_schemes():
    sandbox = images.origin_of("http://127.0.0.1:8000/sandbox")
    assert images.resolve_download("http://127.0.0.1:8000/sandbox/files/x", {sandbox}) is None
    with pytest.raises(images.ImageError, match="not a valid web URL"):
        images.resolve_download("file:///etc/passwd", set())


def test_it_stops_a_download_that_is_too_big():
    def handler(request):
        return httpx.Response(200, content=b"x" * 5000)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    trusted = {images.origin_of("http://cdn.test")}
    with pytest.raises(images.ImageError, match="larger than"):
        images.download(client, "http://cdn.test/x", max_bytes=1000, trusted=trusted)


# --- formats Pillow reports, and decoder errors of every kind ------------------------------------


def frames(fmt: str) -> bytes:
    """A two-frame file of a format that has frames (APNG is Pillow's "PNG")."""
    out = io.BytesIO()
    first, second = (PILImage.new("RGB", (40, 30), c) for c in ("red", "blue"))
    first.save(out, fmt, save_all=True, append_images=[second])
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


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::808:808",  # local-use NAT64: no fixed place to judge from
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::",
        "::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:0:7f00:1",  # IPv4-translated
        "::ffff:0:a00:1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo with a documentation client
        "ff0e::1",  # multicast
        "224.0.0.1",
        "0.0.0.0",  # noqa: S104 - an address judged, not bound
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "fec0::1",  # site-local
        "fe80::1",
        "fc00::1",
        "2001:db8::1",
        "100.64.0.1",
    ],
)
def test_it_refuses_addresses_that_are_not_public(address):
    assert not images.is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2001:4860:4860::8888",
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "::ffff:8.8.8.8",
        "2002:808:808::1",  # 6to4 of 8.8.8.8
    ],
)
def test_it_allows_public_addresses_and_ipv4_in_ipv6_that_is_public(address):
    assert images.is_public_address(address)


def answer(monkeypatch, *addresses: str) -> None:
    """Make DNS answer a name with these addresses."""

    def getaddrinfo(host, port, *args, **kwargs):
        return [(0, 1, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(images.socket, "getaddrinfo", getaddrinfo)


def test_it_refuses_a_name_that_resolves_to_loopback_through_nat64(monkeypatch):
    answer(monkeypatch, "64:ff9b::7f00:1")
    with pytest.raises(images.ImageError, match="private network"):
        images.resolve_download("https://cdn.example.test/x.png", set())


def test_it_refuses_a_name_with_any_private_answer_and_pins_a_public_one(monkeypatch):
    answer(monkeypatch, "93.184.216.34", "::ffff:0:a00:1")
    with pytest.raises(images.ImageError, match="private network"):
        images.resolve_download("https://cdn.example.test/x.png", set())
    answer(monkeypatch, "93.184.216.34")
    assert images.resolve_download("https://cdn.example.test/x.png", set()) == "93.184.216.34"


# --- which URLs, and whose trust -----------------------------------------------------------------


SANDBOX = images.origin_of("http://127.0.0.1:8000/sandbox")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",  # the same host, another port (Redis)
        "https://127.0.0.1:8000/x",  # the same port, another scheme
        "http://localhost:8000/x",  # another name for it
    ],
)
def test_it_trusts_the_providers_exact_origin_only(url):
    assert images.resolve_download("http://127.0.0.1:8000/sandbox/files/a", {SANDBOX}) is None
    with pytest.raises(images.ImageError, match="private network"):
        images.resolve_download(url, {SANDBOX})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://cdn.example.test:99999/x.png", "port out of range"),
        ("http://127.0.0.1:0/x.png", "port out of range"),
        ("http://user:secret@127.0.0.1:8000/x.png", "user name or password"),
        ("http://user@127.0.0.1:8000/x.png", "user name or password"),
        ("http://[fe80::1%25eth0]/x.png", "IPv6 zone"),
        ("http://[::1/x.png", "not a valid web URL"),
        ("http:///x.png", "not a valid web URL"),
        ("http://exa mple.test/x.png", "not a valid web URL"),
        ("ftp://cdn.example.test/x.png", "not a valid web URL"),
        ("javascript:alert(1)", "not a valid web URL"),
        ("http://cdn.example.test\t/x.png", "not a valid web URL"),
        ("/just/a/path.png", "not a valid web URL"),
    ],
)
def test_a_malformed_address_is_a_clear_refusal(url, message):
    with pytest.raises(images.ImageError, match=message):
        images.resolve_download(url, {SANDBOX})
    client = httpx.Client(transport=httpx.MockTransport(lambda r: pytest.fail("sent")))
    with pytest.raises(images.ImageError, match=message):
        images.download(client, url, max_bytes=1000, trusted={SANDBOX})


def test_a_redirect_to_a_malformed_address_is_a_clear_refusal():
    def handler(request):
        return httpx.Response(302, headers={"Location": "http://[::1/x"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(images.ImageError, match="not valid"):
        images.download(client, "http://127.0.0.1:8000/a", max_bytes=1000, trusted={SANDBOX})


def test_a_broken_compression_is_a_clear_refusal():
    def handler(request):
        gzip = {"Content-Encoding": "gzip"}
        return httpx.Response(200, headers=gzip, stream=httpx.ByteStream(b"not gzip"))

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(images.ImageError, match="arrived damaged"):
        images.download(client, "http://127.0.0.1:8000/a", max_bytes=1000, trusted={SANDBOX})


class Site:
    """A real HTTP server on a loopback address; each path answers as told, every hit is kept."""

    def __init__(self, host: str) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits.append(self.path)
                status, headers, body = site.routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self, path: str, body: bytes) -> str:
        self.routes[path] = (200, {"Content-Type": "image/png"}, body)
        return self.url + path

    def redirect(self, path: str, to: str) -> str:
        self.routes[path] = (302, {"Location": to}, b"")
        return self.url + path


@pytest.fixture
def sites(monkeypatch):
    """Real servers: `trusted` on 127.0.0.1 (the provider's own origin), `other` on another
    port of it (trusted by no one), and `outside` on 127.0.0.2, which this test counts as a
    public address (it still routes to this machine)."""
    made = {name: Site(host) for name, host in [("trusted", "127.0.0.1"), ("other", "127.0.0.1")]}
    made["outside"] = Site("127.0.0.2")
    public = images.is_public_address
    monkeypatch.setattr(images, "is_public_address", lambda a: a == "127.0.0.2" or public(a))
    yield made
    for site in made.values():
        site.server.shutdown()
        site.server.server_close()


def fetch(url: str, trusted: set[images.Origin]) -> bytes:
    with httpx.Client(timeout=5.0) as client:
        return images.download(client, url, max_bytes=100_000, trusted=trusted)


def test_a_redirect_from_an_outside_host_to_a_trusted_one_is_refused(sites):
    trusted, outside = sites["trusted"], sites["outside"]
    target = trusted.serve("/secret.png", png_bytes())
    assert fetch(target, {images.origin_of(trusted.url)}) == png_bytes()  # trusted directly
    start = outside.redirect("/start", target)
    with pytest.raises(images.ImageError, match="private network"):
        fetch(start, {images.origin_of(trusted.url)})
    assert outside.hits == ["/start"]
    assert trusted.hits == ["/secret.png"]  # only the direct download above


def test_a_chain_that_passed_through_an_outside_host_stays_untrusted(sites):
    trusted, outside = sites["trusted"], sites["outside"]
    target = trusted.serve("/secret.png", png_bytes())
    hop = trusted.redirect("/hop", target)  # trusted itself, but reached from outside
    start = outside.redirect("/start", hop)
    with pytest.raises(images.ImageError, match="private network"):
        fetch(start, {images.origin_of(trusted.url)})
    assert trusted.hits == []


def test_a_redirect_from_a_trusted_host_is_judged_by_where_it_goes(sites):
    trusted, other, outside = sites["trusted"], sites["other"], sites["outside"]
    origin = {images.origin_of(trusted.url)}
    elsewhere = outside.serve("/pic.png", png_bytes(8, 8))
    assert fetch(trusted.redirect("/out", elsewhere), origin) == png_bytes(8, 8)
    inside = other.serve("/pic.png", png_bytes())  # the same host, a port no one trusts
    with pytest.raises(images.ImageError, match="private network"):
        fetch(trusted.redirect("/in", inside), origin)
    assert other.hits == []
    stays = trusted.serve("/pic.png", png_bytes(4, 4))
    assert fetch(trusted.redirect("/stay", stays), origin) == png_bytes(4, 4)


@pytest.mark.parametrize(
    ("entry", "origins"),
    [
        ("cdn.example.test", ["https://cdn.example.test:443", "http://cdn.example.test:80"]),
        (
            "CDN.example.test:9000",
            ["https://cdn.example.test:9000", "http://cdn.example.test:9000"],
        ),
        ("http://minio.internal:9000", ["http://minio.internal:9000"]),
        ("https://files.example.test/", ["https://files.example.test:443"]),
        ("[fd00::5]:8080", ["https://[fd00::5]:8080", "http://[fd00::5]:8080"]),
    ],
)
def test_download_hosts_are_read_as_exact_origins(monkeypatch, entry, origins):
    monkeypatch.setenv("PROVIDER_DOWNLOAD_HOSTS", f" {entry} ")
    assert envorigins("PROVIDER_DOWNLOAD_HOSTS") == origins
    trusted = {images.origin_of(o) for o in origins}
    assert images.resolve_download(origins[0] + "/x.png", trusted) is None


@pytest.mark.parametrize(
    "entry",
    [
        "ftp://cdn.example.test",
        "cdn.example.test:99999",
        "cdn.example.test:0",
        "user@cdn.example.test",
        "https://cdn.example.test/images",
        "https://",
    ],
)
def test_a_download_host_that_is_not_an_origin_fails_loudly(monkeypatch, entry):
    monkeypatch.setenv("PROVIDER_DOWNLOAD_HOSTS", f"ok.example.test,{entry}")
    with pytest.raises(ImproperlyConfigured, match=re.escape(repr(entry))):
        envorigins("PROVIDER_DOWNLOAD_HOSTS")
