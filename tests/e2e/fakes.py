"""Local fakes of the three provider protocols, over real HTTP, in the pytest process.

One `ThreadingHTTPServer` on 127.0.0.1 serves:

- `/aimlapi`: `POST /v1/images/generations` answering in the shape the model's family uses
  (fal-style `images[]`, OpenAI-style `data[]`, Google-style `data[]` with the enhanced prompt),
  `POST /v1/images/edits` (multipart, OpenAI-style answer), `GET /files/<name>` (the outputs).
- `/relay`: any `POST /v2/...` endpoint, sync or `"async": true` (202 and a task that goes
  queued, running, completed over successive polls of `GET /v2/tasks/<id>`); Qwen answers `urls`.
- `/a1111`: `POST /sdapi/v1/txt2img|img2img` and `GET /sdapi/v1/sd-models`.

Every request is recorded (method, path, headers, JSON body or multipart parts) so tests can check
what was sent. Outputs are PNGs (or JPEG/WebP when `output_format` asks) of the requested size.

Markers in the prompt make the fake misbehave:

- `[fake:401]` answers 401 "Invalid API key"; `[fake:400]` answers 400 with `BAD_REQUEST_REASON`;
  any `[fake:<status>]` answers that status (429 and 5xx with `Retry-After: 0`);
- `[fake:<status>x<n>]` answers that status to the first n requests with this prompt only;
- `[fake:slow]` does the work but answers the first request with this prompt after
  `SLOW_SECONDS` (longer than the worker's `PROVIDER_TIMEOUT`);
- `[fake:echo-key]` answers 400 with a message quoting the key it was sent, as some providers
  quote the credentials they were given;
- `[fake:fail]` makes a Relay task end `failed` with `TASK_FAILED_REASON`;
- `[fake:endless]` makes a Relay task stay `running` however often it is polled;
- `[fake:redirect]` gives output links that redirect (302) to the file on this server;
  `[fake:elsewhere]` gives links on `localhost` instead of 127.0.0.1 (another, private, host),
  and `[fake:redirect-elsewhere]` links that redirect there.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import hashlib
import io
import itertools
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

from jobs.catalog import SIZE_PRESETS

DEFAULT_SIZE = (256, 256)
MARKER = re.compile(r"\[fake:(\d{3})(?:x(\d+))?\]")
SLOW_SECONDS = 5.0
BAD_REQUEST_REASON = "image_size.width must be at most 1536 for this model"
TASK_FAILED_REASON = "The prompt was flagged by the content filter."
ENHANCED_PREFIX = "Enhanced: "
USAGE = {"credits_used": 42000, "usd_spent": 0.021}
CHECKPOINTS = [
    {
        "title": "v1-5-pruned-emaonly.safetensors [6ce0161689]",
        "model_name": "v1-5-pruned-emaonly",
        "hash": "6ce0161689",
        "filename": "/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors",
    },
    {
        "title": "sd_xl_base_1.0.safetensors [31e35c80fc]",
        "model_name": "sd_xl_base_1.0",
        "hash": "31e35c80fc",
        "filename": "/models/Stable-diffusion/sd_xl_base_1.0.safetensors",
    },
]
# fal's image_size presets, as fal documents them (the catalog keeps the same table).
FAL_PRESETS = SIZE_PRESETS
FORMATS = {
    "png": ("PNG", "image/png"),
    "jpeg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
}


@dataclass
class Part:
    """One part of a multipart body."""

    name: str
    filename: str | None
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str  # with the protocol prefix, e.g. /aimlapi/v1/images/generations
    headers: dict[str, str]  # lower-cased names
    json: Any = None
    parts: list[Part] = field(default_factory=list)
    status: int = 0  # what the fake answered

    @property
    def fields(self) -> dict[str, str]:
        """Multipart text fields (parts without a filename)."""
        return {p.name: p.text for p in self.parts if p.filename is None}

    def files(self, name: str) -> list[Part]:
        return [p for p in self.parts if p.name == name and p.filename is not None]

    @property
    def prompt(self) -> str:
        if isinstance(self.json, dict) and isinstance(self.json.get("prompt"), str):
            return self.json["prompt"]
        return self.fields.get("prompt", "")


class HTTPError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Task:
    answer: dict[str, Any]
    failed: bool = False
    endless: bool = False
    polls: int = 0


def render(width: int, height: int, fmt: str = "png", seed: int = 0) -> bytes:
    """A small picture of the asked size: a coloured field with a contrasting band."""
    pil_format = FORMATS.get(fmt, FORMATS["png"])[0]
    digest = hashlib.sha256(f"{seed}".encode()).digest()
    colour = (digest[0], digest[1], digest[2])
    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).rectangle(
        (width // 4, height // 3, width * 3 // 4, height * 2 // 3),
        fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]),
    )
    out = io.BytesIO()
    image.save(out, pil_format)
    return out.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def _wxh(value: Any) -> tuple[int, int] | None:
    if isinstance(value, str) and (match := re.fullmatch(r"(\d+)\s*[x×*]\s*(\d+)", value)):
        return int(match[1]), int(match[2])
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _aspect(value: Any) -> tuple[int, int] | None:
    """An aspect ratio "w:h" as a picture whose longest side is 512."""
    if not isinstance(value, str) or not (match := re.fullmatch(r"(\d+):(\d+)", value)):
        return None
    w, h = int(match[1]), int(match[2])
    if w >= h:
        return 512, round(512 * h / w)
    return round(512 * w / h), 512


def requested_size(body: dict[str, Any], inputs: Sequence[bytes] = ()) -> tuple[int, int]:
    """The output size a request asks for: width/height, "WxH" size, a fal image_size preset or
    object, an aspect ratio; else the first input picture's; else 256 x 256."""
    width, height = _int(body.get("width")), _int(body.get("height"))
    if width and height:
        return width, height
    size = body.get("image_size")
    if isinstance(size, dict) and _int(size.get("width")) and _int(size.get("height")):
        return int(size["width"]), int(size["height"])
    if isinstance(size, str) and size in FAL_PRESETS:
        return FAL_PRESETS[size]
    for value in (body.get("size"), size):
        if parsed := _wxh(value):
            return parsed
    if parsed := _aspect(body.get("aspect_ratio")):
        return parsed
    for data in inputs:
        try:
            return image_size(data)
        except OSError:
            continue
    return DEFAULT_SIZE


def _decode_picture(value: Any) -> bytes | None:
    """An input picture sent as a data URL or bare base64, or None."""
    if not isinstance(value, str) or len(value) < 32:
        return None
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _inputs(body: dict[str, Any]) -> list[bytes]:
    found: list[bytes] = []
    for value in body.values():
        for item in value if isinstance(value, list) else [value]:
            if (data := _decode_picture(item)) is not None:
                found.append(data)
    return found


class FakeProviders:
    """The server, its recorded requests and the files it serves."""

    def __init__(self, aimlapi_key: str = "fake-aimlapi-key", relay_key: str = "fake-relay-key"):
        self.aimlapi_key = aimlapi_key
        self.relay_key = relay_key
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._tasks: dict[str, Task] = {}
        self._idempotent: dict[str, dict[str, Any]] = {}
        self._hits: dict[str, int] = {}
        self._counter = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-providers", daemon=True
        )

    # Lifecycle

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def aimlapi_url(self) -> str:
        return f"{self.url}/aimlapi"

    @property
    def relay_url(self) -> str:
        return f"{self.url}/relay"

    @property
    def a1111_url(self) -> str:
        return f"{self.url}/a1111"

    def start(self) -> FakeProviders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What tests read

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def find(
        self, *, prompt: str | None = None, path: str | None = None, method: str | None = None
    ) -> list[Recorded]:
        """Recorded requests whose prompt contains `prompt` and whose path ends with `path`."""
        return [
            r
            for r in self.requests
            if (prompt is None or prompt in r.prompt)
            and (path is None or r.path.endswith(path))
            and (method is None or r.method == method)
        ]

    def polls(self, task_id: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith(f"/{task_id}")]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    # Shared helpers for the handlers

    def _next_id(self) -> int:
        return next(self._counter)

    def _hit(self, key: str) -> int:
        """How many times `key` has been seen, this time included."""
        with self._lock:
            self._hits[key] = self._hits.get(key, 0) + 1
            return self._hits[key]

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self._requests.append(recorded)

    def _store_file(self, data: bytes, content_type: str) -> str:
        ext = content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
        name = f"{self._next_id()}-{hashlib.sha256(data).hexdigest()[:12]}.{ext}"
        with self._lock:
            self._files[name] = (data, content_type)
        return name

    @property
    def elsewhere_url(self) -> str:
        """This same server under another name, which is not the providers' host."""
        return f"http://localhost:{self._server.server_address[1]}"

    def _file(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._files.get(name)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            providers = fake

        return Handler


class _Handler(BaseHTTPRequestHandler):
    providers: FakeProviders
    _prompt = ""
    protocol_version = "HTTP/1.1"
    server_version = "FakeProviders/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # Plumbing

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (see [fake:slow])

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        self._prompt = ""
        raw = self._read_body() if self.command == "POST" else b""
        recorded = Recorded(
            method=self.command,
            path=path,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        status, body, content_type = 500, b"", "application/json"
        headers: dict[str, str] = {}
        try:
            self._parse(recorded, raw)
            self._prompt = recorded.prompt
            status, payload = self._route(recorded)
            if isinstance(payload, tuple):
                body, content_type = payload
            else:
                body = json.dumps(payload).encode()
        except HTTPError as e:
            status, body, headers = e.status, json.dumps(e.body).encode(), e.headers
        except Exception as e:  # a bug in the fake: answer 500 so the test sees it
            status, body = 500, json.dumps({"message": f"fake crashed: {e!r}"}).encode()
        recorded.status = status
        self.providers._record(recorded)
        if (
            "[fake:slow]" in recorded.prompt
            and self.providers._hit(f"slow:{path}:{recorded.prompt}") == 1
        ):
            time.sleep(SLOW_SECONDS)  # the work is done, the answer comes too late
        self._send(status, body, content_type, headers)

    def _parse(self, recorded: Recorded, raw: bytes) -> None:
        if not raw:
            return
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            recorded.parts = parse_multipart(content_type, raw)
        elif "json" in content_type:
            try:
                recorded.json = json.loads(raw)
            except ValueError:
                raise HTTPError(400, {"message": "The request body is not valid JSON."}) from None
        else:
            raise HTTPError(415, {"message": f"Unsupported content type {content_type!r}."})

    def _route(self, r: Recorded) -> tuple[int, Any]:
        prefix, _, rest = r.path.lstrip("/").partition("/")
        rest = "/" + rest
        if rest.startswith("/files/redirect") and r.method == "GET":
            style, _, name = rest.removeprefix("/files/").partition("/")
            base = self.providers.elsewhere_url if style == "redirect-elsewhere" else ""
            raise HTTPError(302, {}, {"Location": f"{base}/{prefix}/files/{name}"})
        if rest.startswith("/files/") and r.method == "GET":
            found = self.providers._file(rest.removeprefix("/files/"))
            if found is None:
                raise HTTPError(404, {"message": "No such file."})
            return 200, found
        if prefix == "aimlapi":
            return self._aimlapi(r, rest)
        if prefix == "relay":
            return self._relay(r, rest)
        if prefix == "a1111":
            return self._a1111(r, rest)
        raise HTTPError(404, {"message": f"Nothing at {r.path}."})

    # Shared checks

    def _link(self, prefix: str, data: bytes, content_type: str) -> str:
        """Keep an output and give the address to download it from, as the prompt asks."""
        name = self.providers._store_file(data, content_type)
        base = self.providers.url
        for style in ("redirect-elsewhere", "redirect", "elsewhere"):
            if f"[fake:{style}]" in self._prompt:
                if style == "elsewhere":
                    return f"{self.providers.elsewhere_url}/{prefix}/files/{name}"
                return f"{base}/{prefix}/files/{style}/{name}"
        return f"{base}/{prefix}/files/{name}"

    def _check_key(self, r: Recorded, header: str, expected: str, prefix: str = "") -> None:
        if r.headers.get(header) != prefix + expected:
            raise HTTPError(401, {"message": "Invalid API key"})

    def _markers(self, r: Recorded) -> None:
        prompt = r.prompt
        if "[fake:echo-key]" in prompt:
            sent = r.headers.get("x-api-key") or r.headers.get("authorization", "")
            raise HTTPError(400, {"message": f"Unknown parameter for the key {sent}"})
        for match in MARKER.finditer(prompt):
            status, times = int(match[1]), match[2]
            if times is not None and self.providers._hit(f"{match[0]}:{prompt}") > int(times):
                continue
            if status in (401, 403):
                raise HTTPError(status, {"message": "Invalid API key"})
            if status == 400:
                raise HTTPError(400, {"error": {"message": BAD_REQUEST_REASON, "type": "invalid"}})
            retry = {"Retry-After": "0"} if status == 429 or status >= 500 else None
            raise HTTPError(status, {"message": f"fake status {status}"}, retry)

    def _picture(self, width: int, height: int, fmt: str, seed: int) -> tuple[bytes, str]:
        fmt = fmt if fmt in FORMATS else "png"
        return render(width, height, fmt, seed), FORMATS[fmt][1]

    # AI/ML API

    def _aimlapi(self, r: Recorded, rest: str) -> tuple[int, Any]:
        if r.method != "POST":
            raise HTTPError(405, {"message": "Method not allowed."})
        self._check_key(r, "authorization", self.providers.aimlapi_key, "Bearer ")
        if rest == "/v1/images/generations":
            body = r.json if isinstance(r.json, dict) else {}
            self._markers(r)
            return 200, self._generations(body, _inputs(body))
        if rest == "/v1/images/edits":
            form = r.fields
            self._markers(r)
            images = r.files("image") + r.files("image[]")
            if not images:
                raise HTTPError(400, {"message": "image is required."})
            if not form.get("model"):
                raise HTTPError(400, {"message": "model is required."})
            return 200, self._openai_style(form, [p.data for p in images])
        raise HTTPError(404, {"message": f"Nothing at {r.path}."})

    def _generations(self, body: dict[str, Any], inputs: list[bytes]) -> dict[str, Any]:
        model = str(body.get("model") or "")
        if not model:
            raise HTTPError(400, {"message": "model is required."})
        if model.startswith(("openai/", "dall-e", "x-ai/")):
            return self._openai_style(body, inputs)
        if "imagen" in model:
            return self._google_style(body, inputs)
        return self._fal_style(body, inputs)

    def _count(self, body: dict[str, Any], *names: str) -> int:
        for name in names:
            if (value := _int(body.get(name))) is not None:
                return max(1, min(value, 8))
        return 1

    def _fal_style(self, body: dict[str, Any], inputs: list[bytes]) -> dict[str, Any]:
        width, height = requested_size(body, inputs)
        fmt = str(body.get("output_format") or "png")
        seed = _int(body.get("seed")) or 4242
        count = self._count(body, "num_images")
        images = []
        for i in range(count):
            data, content_type = self._picture(width, height, fmt, seed + i)
            images.append(
                {
                    "url": self._link("aimlapi", data, content_type),
                    "width": width,
                    "height": height,
                    "content_type": content_type,
                }
            )
        return {
            "images": images,
            "seed": seed,
            "timings": {"inference": 0.123},
            "has_nsfw_concepts": [False] * count,
            "prompt": body.get("prompt", ""),
        }

    def _openai_style(self, body: dict[str, Any], inputs: list[bytes]) -> dict[str, Any]:
        width, height = requested_size(body, inputs)
        fmt = str(body.get("output_format") or "png")
        data_items = []
        for i in range(self._count(body, "n")):
            data, content_type = self._picture(width, height, fmt, 100 + i)
            if body.get("response_format") == "b64_json":
                data_items.append({"b64_json": base64.b64encode(data).decode()})
            else:
                data_items.append({"url": self._link("aimlapi", data, content_type)})
        return {"created": 1767225600, "data": data_items, "meta": {"usage": dict(USAGE)}}

    def _google_style(self, body: dict[str, Any], inputs: list[bytes]) -> dict[str, Any]:
        width, height = requested_size(body, inputs)
        items = []
        for i in range(self._count(body, "num_images")):
            data, content_type = self._picture(width, height, "png", 200 + i)
            item: dict[str, Any] = {"mime_type": content_type}
            if body.get("convert_base64_to_url") is False:
                item["b64_json"] = base64.b64encode(data).decode()
            else:
                item["url"] = self._link("aimlapi", data, content_type)
            item["prompt"] = ENHANCED_PREFIX + str(body.get("prompt", ""))
            items.append(item)
        return {"data": items}

    # Relay

    def _relay(self, r: Recorded, rest: str) -> tuple[int, Any]:
        self._check_key(r, "x-api-key", self.providers.relay_key)
        if r.method == "GET" and rest.startswith("/v2/tasks/"):
            return 200, self._relay_poll(rest.removeprefix("/v2/tasks/"))
        if r.method != "POST" or not rest.startswith("/v2/"):
            raise HTTPError(404, {"message": f"Nothing at {r.path}."})
        body = r.json if isinstance(r.json, dict) else {}
        self._markers(r)
        key = r.headers.get("idempotency-key")
        with self.providers._lock:
            earlier = self.providers._idempotent.get(key) if key else None
        if earlier is not None:
            return 202, earlier  # Relay replays the first answer for a repeated key
        answer = self._relay_result(rest, body)
        if not body.get("async"):
            return 200, answer
        task_id = f"task-{self.providers._next_id()}"
        with self.providers._lock:
            self.providers._tasks[task_id] = Task(
                answer, failed="[fake:fail]" in r.prompt, endless="[fake:endless]" in r.prompt
            )
        accepted = {"task_id": task_id, "status": "queued", "poll_url": f"/v2/tasks/{task_id}"}
        if key:
            with self.providers._lock:
                self.providers._idempotent[key] = accepted
        return 202, accepted

    def _relay_result(self, rest: str, body: dict[str, Any]) -> dict[str, Any]:
        width, height = requested_size(body, _inputs(body))
        fmt = str(body.get("output_format") or "png")
        seed = _int(body.get("seed")) or 777
        count = self._count(body, "n", "num_images", "batch_size")
        pictures = [self._picture(width, height, fmt, seed + i) for i in range(count)]
        answer: dict[str, Any] = {"seed": seed, "credits_used": 12}
        if body.get("model"):
            answer["model"] = body["model"]
        if "/qwen/" in rest:
            answer["urls"] = [self._link("relay", data, ct) for data, ct in pictures]
        else:
            answer["images"] = [base64.b64encode(data).decode() for data, _ in pictures]
        return answer

    def _relay_poll(self, task_id: str) -> dict[str, Any]:
        with self.providers._lock:
            task = self.providers._tasks.get(task_id)
            if task is None:
                raise HTTPError(404, {"message": f"No task {task_id}."})
            task.polls += 1
            polls = task.polls
        if polls == 1:
            return {"task_id": task_id, "status": "queued"}
        if polls == 2 or task.endless:
            return {"task_id": task_id, "status": "running"}
        if task.failed:
            return {"task_id": task_id, "status": "failed", "error_detail": TASK_FAILED_REASON}
        return {
            "task_id": task_id,
            "status": "completed",
            "result": task.answer,
            "elapsed_seconds": 1.5,
        }

    # AUTOMATIC1111

    def _a1111(self, r: Recorded, rest: str) -> tuple[int, Any]:
        if r.method == "GET" and rest == "/sdapi/v1/sd-models":
            return 200, CHECKPOINTS
        if r.method != "POST" or rest not in ("/sdapi/v1/txt2img", "/sdapi/v1/img2img"):
            raise HTTPError(404, {"detail": "Not Found"})
        body = r.json if isinstance(r.json, dict) else {}
        self._markers(r)
        inputs: list[bytes] = []
        if rest.endswith("img2img"):
            inputs = [d for v in body.get("init_images") or [] if (d := _decode_picture(v))]
            if not inputs:
                raise HTTPError(422, {"detail": "init_images must hold a base64 picture."})
        checkpoint = (body.get("override_settings") or {}).get("sd_model_checkpoint")
        if checkpoint and checkpoint not in {c["title"] for c in CHECKPOINTS}:
            raise HTTPError(400, {"detail": f"Unknown checkpoint {checkpoint}."})
        width = _int(body.get("width")) or 512
        height = _int(body.get("height")) or 512
        seed = _int(body.get("seed"))
        seed = seed if seed is not None and seed >= 0 else 1_234_567
        count = self._count(body, "batch_size")
        seeds = [seed + i for i in range(count)]
        images = [base64.b64encode(render(width, height, "png", s)).decode() for s in seeds]
        info = {
            "prompt": body.get("prompt", ""),
            "seed": seeds[0],
            "all_seeds": seeds,
            "width": width,
            "height": height,
            "sd_model_name": checkpoint or CHECKPOINTS[0]["model_name"],
        }
        parameters = {k: v for k, v in body.items() if k != "init_images"}
        return 200, {"images": images, "parameters": parameters, "info": json.dumps(info)}


def parse_multipart(content_type: str, raw: bytes) -> list[Part]:
    """Split a multipart/form-data body into parts with the stdlib's email parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise HTTPError(400, {"message": "The multipart body could not be read."})
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        parts.append(Part(str(name), filename, part.get_content_type(), payload))
    return parts
