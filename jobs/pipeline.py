"""The path of one generation, as plain functions over a Generation row.

Each step re-reads nothing it was not given, claims its row by compare-and-set, holds no
transaction across network I/O, and returns the name of the next step ("poll", "fetch") or "".
"""

import logging

import httpx
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from gallery.models import Generation, Image, InputImage
from jobs import catalog, http, images
from jobs.providers import (
    Connection,
    InputFile,
    Output,
    Pending,
    ProviderError,
    Result,
    Submitted,
    adapter_for,
)

log = logging.getLogger(__name__)
Status = Generation.Status


def connection_for(model: catalog.Model) -> Connection:
    if model.provider == "sandbox":
        return Connection(settings.SANDBOX_BASE_URL, "sandbox")
    if model.provider == "aimlapi":
        return Connection(settings.AIMLAPI_BASE_URL, settings.AIMLAPI_API_KEY)
    if model.provider == "relay":
        return Connection(settings.RELAY_BASE_URL, settings.RELAY_API_KEY)
    return Connection(settings.A1111_BASE_URL)


INPUT_LINK_SALT = "atelier.input-link"
INPUT_LINK_SECONDS = 3600


def request_params(generation: Generation) -> dict:
    """The provider's parameters, with image references turned into the pictures themselves."""
    params = {name: _resolve(value) for name, value in generation.params.items()}
    return {"prompt": generation.prompt, **params}


def _resolve(value):
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, dict) and set(value) in ({"upload"}, {"image"}):
        return input_file(*next(iter(value.items())))
    return value


def input_file(kind: str, uuid: str) -> InputFile:
    if kind == "upload":
        item = InputImage.objects.get(uuid=uuid)
        stored, content_type, filename = item.file, item.content_type, item.filename
    else:
        image = Image.objects.get(uuid=uuid)
        stored, content_type = image.original, image.content_type
        filename = (stored.name or "").rsplit("/", 1)[-1]
    with stored.open("rb") as f:
        data = f.read()
    return InputFile(content_type, data, filename or "image.png", _public_link(kind, uuid))


def _public_link(kind: str, uuid: str) -> str:
    """A link a provider can fetch for an hour, for models that take only URLs."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    token = signing.dumps([kind, uuid], salt=INPUT_LINK_SALT)
    return settings.PUBLIC_BASE_URL + reverse("gallery:input-link", args=[token])


def read_input_link(token: str) -> tuple[str, str] | None:
    try:
        kind, uuid = signing.loads(token, salt=INPUT_LINK_SALT, max_age=INPUT_LINK_SECONDS)
    except signing.BadSignature:
        return None
    return kind, uuid


def submit(generation: Generation) -> str:
    """Claim a queued generation and send it to its provider once."""
    if not generation.advance(Status.QUEUED, Status.SUBMITTED, submitted_at=timezone.now()):
        return ""  # another worker claimed it, or it was cancelled
    model = catalog.get(generation.model_id)
    if model is None:
        generation.mark_failed(f"The model {generation.model_id} is no longer available.")
        return ""
    adapter = adapter_for(model.protocol)
    request = adapter.build_submit(
        connection_for(model),
        model,
        request_params(generation),
        idempotency_key=str(generation.uuid),
    )
    try:
        with http.client() as client:
            answer = adapter.parse_submit(client.send(request))
    except ProviderError as e:
        generation.mark_failed(e.message)
        return ""
    except httpx.TimeoutException:
        generation.mark_failed("The provider did not answer in time.")
        return ""
    except httpx.TransportError:
        generation.mark_failed("Could not reach the provider. Check the connection and try again.")
        return ""
    if isinstance(answer, Submitted):
        # Stored before anything else, so the work is never submitted twice.
        generation.advance(
            Status.SUBMITTED,
            Status.RUNNING,
            provider_task_id=answer.task_id,
            poll_url=answer.poll_url,
        )
        return "poll"
    return _got_result(generation, Status.SUBMITTED, answer)


def poll(generation: Generation) -> str:
    """Ask the provider once about an async task; the caller re-schedules on "poll"."""
    if generation.status != Status.RUNNING:
        return ""
    if generation.deadline_at and timezone.now() > generation.deadline_at:
        generation.mark_failed("The provider took too long; the generation was stopped.")
        return ""
    model = catalog.get(generation.model_id)
    assert model is not None
    adapter = adapter_for(model.protocol)
    request = adapter.build_poll(
        connection_for(model), generation.provider_task_id, generation.poll_url
    )
    try:
        with http.client(read_timeout=30.0) as client:
            answer = adapter.parse_poll(client.send(request))
    except ProviderError as e:
        if e.transient:
            generation.touch()
            return "poll"
        generation.mark_failed(e.message)
        return ""
    except httpx.TransportError:
        generation.touch()
        return "poll"  # asking again is harmless; the deadline bounds it
    if isinstance(answer, Pending):
        generation.touch()
        return "poll"
    return _got_result(generation, Status.RUNNING, answer)


def _got_result(generation: Generation, from_status: str, result: Result) -> str:
    moved = generation.advance(
        from_status,
        Status.FETCHING,
        outputs=[o.as_json() for o in result.outputs],
        provider_meta=result.meta,
    )
    return "fetch" if moved else ""


def fetch(generation: Generation) -> str:
    """Download or decode each output, store it with its thumbnail, and finish."""
    if generation.status != Status.FETCHING:
        return ""
    model = catalog.get(generation.model_id)
    trusted = _trusted_hosts(model)
    done = set(generation.images.values_list("index", flat=True))
    try:
        with http.client(read_timeout=60.0) as client:
            for index, raw in enumerate(generation.outputs):
                if index not in done:
                    _store(generation, index, Output(**raw), client, trusted)
    except images.ImageError as e:
        generation.mark_failed(str(e))
        return ""
    except httpx.TransportError:
        generation.mark_failed(
            "Downloading the image failed; the provider's server did not answer."
        )
        return ""
    # The base64 payloads are stored as files now; keep the row small.
    outputs = [{k: v for k, v in o.items() if k != "b64"} for o in generation.outputs]
    generation.advance(
        Status.FETCHING, Status.SUCCEEDED, finished_at=timezone.now(), outputs=outputs
    )
    return ""


def _trusted_hosts(model: catalog.Model | None) -> set[str]:
    hosts = {h.lower() for h in settings.PROVIDER_DOWNLOAD_HOSTS}
    if model is not None and (host := httpx.URL(connection_for(model).base_url).host):
        hosts.add(host.lower())
    return hosts


def _store(
    generation: Generation, index: int, output: Output, client: httpx.Client, trusted: set[str]
) -> None:
    max_bytes = settings.DOWNLOAD_MAX_BYTES
    if output.b64:
        data = images.decode_base64(output.b64, max_bytes)
    elif output.url:
        data = images.download(client, output.url, max_bytes=max_bytes, trusted_hosts=trusted)
    else:
        raise images.ImageError("The provider's answer listed an image without any data.")
    decoded = images.process(data, settings.THUMBNAIL_SIZE)
    image = Image(
        generation=generation,
        index=index,
        width=decoded.width,
        height=decoded.height,
        thumb_width=decoded.thumb_width,
        thumb_height=decoded.thumb_height,
        content_type=decoded.content_type,
        byte_size=len(data),
        sha256=decoded.sha256,
        seed=output.seed if output.seed is not None else generation.params.get("seed"),
    )
    ext = images.CONTENT_TYPES_EXT[decoded.content_type]
    image.original.name = _save(f"originals/{generation.uuid}/{index}.{ext}", data)
    image.thumbnail.name = _save(f"thumbnails/{generation.uuid}/{index}.webp", decoded.thumbnail)
    try:
        image.save()
    except IntegrityError:
        log.info("image %s#%s was stored by another worker", generation.uuid, index)


def _save(name: str, data: bytes) -> str:
    """Save under a deterministic name, replacing what an interrupted attempt left behind."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))
