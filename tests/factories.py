import io
import json
import re
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django import forms
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from PIL import Image as PILImage
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gallery.images.fields import field_name
from gallery.images.forms import GenerateForm
from gallery.models import Generation, Image, Invitation, Membership, ShareLink, personal_team
from jobs import catalog

PROMPT = "a test prompt"


def make_user(username: str):
    return get_user_model().objects.create_user(username, f"{username}@example.com", "password")


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


def upload(name: str = "in.png", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes() if data is None else data, "image/png")


def valid_value(param: catalog.Param) -> str:
    """Some value within a parameter's documented limits, for required ones without a default."""
    if param.enum:
        return str(param.enum[0])
    if param.type in ("integer", "number"):
        value = int(param.min or 0)
        step = param.multiple_of or 1
        return str(-(-value // step) * step)
    return "x"


def default_input(model: catalog.Model) -> tuple[dict, MultiValueDict]:
    """Form data and files that take every documented default, as a person pressing Generate."""
    fields = GenerateForm(model_id=model.id).fields
    data = {"model": model.id, "prompt": PROMPT}
    files = MultiValueDict()
    for param in model.options:
        name = field_name(param)
        if param.type in ("image", "images"):
            if param.required:
                files.setlist(name, [upload() for _ in range(int(param.min or 1))])
            continue
        field = fields[name]
        initial = field.initial
        if isinstance(field, forms.NullBooleanField):
            continue
        if isinstance(field, forms.BooleanField):
            if initial:
                data[name] = "on"
            continue
        if initial is None:
            if param.required:
                data[name] = valid_value(param)
            continue
        data[name] = json.dumps(initial) if isinstance(field, forms.JSONField) else str(initial)
    return data, files


def mpo_bytes(width: int = 64, height: int = 48) -> bytes:
    """What phone cameras write: a JPEG (red) with a second picture (blue) after it."""
    out = io.BytesIO()
    first, second = (PILImage.new("RGB", (width, height), c) for c in ("red", "blue"))
    first.save(out, "MPO", save_all=True, append_images=[second])
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


def logged_in(client: Client, user, team=None) -> Client:
    """The client, logged in as `user` and working in `team` (their own space if none)."""
    client.force_login(user)
    if team is not None:
        session = client.session
        session["team"] = str(team.uuid)
        session.save()
    return client


def client_at(address: str) -> Client:
    """A client whose requests come from `address` (rate limits count per client address)."""
    return Client(REMOTE_ADDR=address)


def make_invitation(team, **fields) -> Invitation:
    """An invitation that works for a week, as an editor; the first is "tok-1", then "tok-2"..."""
    fields.setdefault("expires_at", timezone.now() + timezone.timedelta(days=7))
    fields.setdefault("role", Membership.Role.EDITOR)
    fields.setdefault("token", f"tok-{Invitation.objects.count() + 1}")
    return Invitation.objects.create(team=team, **fields)


class Receiver:
    """Answers `fail_first` requests with 500, then accepts each webhook-id once (a repeat is
    answered 200 and not counted again, as the spec tells receivers to de-duplicate).

    `hold_first`: the first request waits until `release` is set, then is accepted.
    """

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.fail_first = 0
        self.hold_first = False
        self.holding = threading.Event()
        self.release = threading.Event()
        self.requests: list[dict] = []
        self.accepted: Counter[str] = Counter()
        self.events: list[dict] = []
        self.unverified = 0
        self.repeats = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                status = receiver.receive(body, {k.lower(): v for k, v in self.headers.items()})
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"ok": %s}' % (b"true" if status == 200 else b"false"))
                except OSError:  # the sender is gone (a killed worker)
                    pass

            def log_message(self, *args) -> None:
                pass

        return Handler

    def receive(self, body: str, headers: dict) -> int:
        with self._lock:
            self.requests.append(headers)
            number = len(self.requests)
        if number == 1 and self.hold_first:
            self.holding.set()
            self.release.wait(30)
        try:
            event = self.verify(body, headers)
        except WebhookVerificationError:
            self.unverified += 1
            return 401
        if number <= self.fail_first:
            return 500
        with self._lock:
            if headers["webhook-id"] in self.accepted:
                self.repeats += 1
            else:
                self.accepted[headers["webhook-id"]] = 1
                self.events.append(event)
        return 200

    def verify(self, body: str, headers: dict) -> dict:
        """Any of the secrets known to the receiver may match (a rotation's overlap)."""
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        raise WebhookVerificationError("no secret matched")

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def make_share_link(created_by, *, gallery=None, image=None, **fields):
    """A live share link to a gallery or one image, made as the create view makes it."""
    team = (gallery or image.gallery).team
    return ShareLink.objects.create(
        team=team, gallery=gallery, image=image, created_by=created_by, **fields
    )


def share_file_urls(html: str) -> list[str]:
    """Every signed file URL a share page served."""
    return sorted(set(re.findall(r'/share/files/[^"\s]+', html)))


def fresh(user):
    """The user as the next request loads them: a request's user keeps the rows it has read
    (their preferences), so a test that watches a change reads a new copy."""
    return type(user).objects.get(pk=user.pk)
