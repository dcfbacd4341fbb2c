"""Local fakes of the three provider protocols, over real HTTP, in the pytest process.

One `ThreadingHTTPServer` on 127.0.0.1 serves:

- `/aimlapi`: `POST /v1/images/generations` answering in the shape the model's family uses
  (fal-style `images[]`, OpenAI-style `data[]`, Google-style `data[]` with the enhanced prompt),
  `POST /v1/images/edits` (multipart, OpenAI-style answer), `GET /files/<name>` (the outputs).
- `/relay`: any `POST /v2/...` endpoint, sync or `"async": true` (202 and a task that goes
  queued, running, completed over successive polls of `GET /v2/tasks/<id>`); Qwen answers `urls`.
- `/a1111`: `POST /sdapi/v1/txt2img|img2img` and `GET /sdapi/v1/sd-models`.

Every request is recorded (method, path, query, headers, JSON body or multipart parts) so tests
can check what was sent. Outputs are PNGs (or JPEG/WebP when `output_format` asks) of the
requested size. The key headers are checked against the keys the server was given.

Failures come from the sandbox's engine (`jobs.sandbox.failures`, whose table lists them): a
`[sandbox:NAME]` or `[sandbox:NAME:N]` marker in the prompt makes these servers fail as the
sandbox would, in their own protocols. Being test-only, they always act on markers. A `slow`
request is done at once and answered late, so a resent Relay request finds its first answer.
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
from jobs.sandbox.failures import Answer, Faults, PromptCounts, UnknownFailure, error

DEFAULT_SIZE = (256, 256)
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
    query: str = ""
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
    """Answer this instead: a refusal of the fake's own, or a failure the engine chose."""

    def __init__(self, answer: Answer):
        super().__init__(answer.status)
        self.answer = answer


def refusal(status: int, body: Any) -> HTTPError:
    return HTTPError(json_answer(status, body))


def json_answer(status: int, payload: Any) -> Answer:
    return Answer(status, json.dumps(payload).encode())


@dataclass
class Task:
    answer: dict[str, Any]
    prompt: str
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
        self._files: dict[str, tuple[bytes, str, str]] = {}  # name: data, content type, prompt
        self._tasks: dict[str, Task] = {}
        self._idempotent: dict[str, dict[str, Any]] = {}
        self.faults = Faults(PromptCounts().add)  # always on: these servers exist for tests
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

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self._requests.append(recorded)

    def _store_file(self, data: bytes, content_type: str, prompt: str) -> str:
        ext = content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
        name = f"{self._next_id()}-{hashlib.sha256(data).hexdigest()[:12]}.{ext}"
        with self._lock:
            self._files[name] = (data, content_type, prompt)
        return name

    @property
    def elsewhere_url(self) -> str:
        """This same server under another name, which is not the providers' host."""
        return f"http://localhost:{self._server.server_address[1]}"

    def _file(self, name: str) -> tuple[bytes, str, str] | None:
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

    def _send(self, answer: Answer) -> None:
        """Write an answer: a body of bytes with its length (or the length it claims, and then
        the connection ends), or a stream in chunks."""
        headers = {"Content-Type": answer.content_type, **answer.headers}
        body = answer.body
        if isinstance(body, bytes):
            headers.setdefault("Content-Length", str(len(body)))
            if headers["Content-Length"] != str(len(body)):
                self.close_connection = True
        else:
            headers["Transfer-Encoding"] = "chunked"
        try:
            self.send_response(answer.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if isinstance(body, bytes):
                self.wfile.write(body)
                return
            for chunk in body:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a slow answer, a capped download)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self._prompt = ""
        raw = self._read_body() if self.command == "POST" else b""
        recorded = Recorded(
            method=self.command,
            path=url.path,
            query=url.query,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        delay = 0.0
        try:
            self._parse(recorded, raw)
            self._prompt = recorded.prompt
            if self.command == "POST":
                delay = self.providers.faults.submit_delay(self._prompt)
            answer = self._route(recorded)
        except HTTPError as e:
            answer = e.answer
        except UnknownFailure as e:
            answer = error(400, str(e))
        except Exception as e:  # a bug in the fake: answer 500 so the test sees it
            answer = json_answer(500, {"message": f"fake crashed: {e!r}"})
        recorded.status = answer.status
        self.providers._record(recorded)
        if delay:
            time.sleep(delay)  # the work is done; a slow answer comes too late
        self._send(answer)

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
                raise refusal(400, {"message": "The request body is not valid JSON."}) from None
        else:
            raise refusal(415, {"message": f"Unsupported content type {content_type!r}."})

    def _route(self, r: Recorded) -> Answer:
        prefix, _, rest = r.path.lstrip("/").partition("/")
        rest = "/" + rest
        if rest.startswith("/files/") and r.method == "GET":
            return self._download(rest.removeprefix("/files/"))
        if prefix == "aimlapi":
            status, payload = self._aimlapi(r, rest)
        elif prefix == "relay":
            status, payload = self._relay(r, rest)
        elif prefix == "a1111":
            status, payload = self._a1111(r, rest)
        else:
            raise refusal(404, {"message": f"Nothing at {r.path}."})
        return json_answer(status, payload)

    # Shared checks

    def _link(self, prefix: str, data: bytes, content_type: str) -> str:
        """Keep an output and give the address to download it from, as the prompt asks."""
        name = self.providers._store_file(data, content_type, self._prompt)
        url = f"{self.providers.url}/{prefix}/files/{name}"
        return self.providers.faults.output_url(self._prompt, url)

    def _download(self, name: str) -> Answer:
        """A kept output, or what the prompt that made it asks for instead."""
        found = self.providers._file(name)
        if found is None:
            raise refusal(404, {"message": "No such file."})
        data, content_type, prompt = found
        url = f"http://{self.headers.get('Host', '')}{self.path}"
        failed = self.providers.faults.file(prompt, url, lambda: data, content_type)
        return failed or Answer(200, data, content_type)

    def _b64(self, data: bytes) -> str:
        return self.providers.faults.b64_image(self._prompt) or base64.b64encode(data).decode()

    def _empty(self) -> bool:
        return self.providers.faults.empty(self._prompt)

    def _check_key(self, r: Recorded, header: str, expected: str, prefix: str = "") -> None:
        if r.headers.get(header) != prefix + expected:
            raise refusal(401, {"message": "Invalid API key"})

    def _faults(self, r: Recorded) -> None:
        """Fail as the prompt's marker asks instead of doing the work."""
        if (failed := self.providers.faults.submit(r.prompt, r.headers)) is not None:
            raise HTTPError(failed)

    def _picture(self, width: int, height: int, fmt: str, seed: int) -> tuple[bytes, str]:
        fmt = fmt if fmt in FORMATS else "png"
        return render(width, height, fmt, seed), FORMATS[fmt][1]

    # AI/ML API

    def _aimlapi(self, r: Recorded, rest: str) -> tuple[int, Any]:
        if r.method != "POST":
            raise refusal(405, {"message": "Method not allowed."})
        self._check_key(r, "authorization", self.providers.aimlapi_key, "Bearer ")
        if rest == "/v1/images/generations":
            body = r.json if isinstance(r.json, dict) else {}
            self._faults(r)
            return 200, self._generations(body, _inputs(body))
        if rest == "/v1/images/edits":
            form = r.fields
            self._faults(r)
            images = r.files("image") + r.files("image[]")
            if not images:
                raise refusal(400, {"message": "image is required."})
            if not form.get("model"):
                raise refusal(400, {"message": "model is required."})
            return 200, self._openai_style(form, [p.data for p in images])
        raise refusal(404, {"message": f"Nothing at {r.path}."})

    def _generations(self, body: dict[str, Any], inputs: list[bytes]) -> dict[str, Any]:
        model = str(body.get("model") or "")
        if not model:
            raise refusal(400, {"message": "model is required."})
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
            "images": [] if self._empty() else images,
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
                data_items.append({"b64_json": self._b64(data)})
            else:
                data_items.append({"url": self._link("aimlapi", data, content_type)})
        data_items = [] if self._empty() else data_items
        return {"created": 1767225600, "data": data_items, "meta": {"usage": dict(USAGE)}}

    def _google_style(self, body: dict[str, Any], inputs: list[bytes]) -> dict[str, Any]:
        width, height = requested_size(body, inputs)
        items = []
        for i in range(self._count(body, "num_images")):
            data, content_type = self._picture(width, height, "png", 200 + i)
            item: dict[str, Any] = {"mime_type": content_type}
            if body.get("convert_base64_to_url") is False:
                item["b64_json"] = self._b64(data)
            else:
                item["url"] = self._link("aimlapi", data, content_type)
            item["prompt"] = ENHANCED_PREFIX + str(body.get("prompt", ""))
            items.append(item)
        return {"data": [] if self._empty() else items}

    # Relay

    def _relay(self, r: Recorded, rest: str) -> tuple[int, Any]:
        self._check_key(r, "x-api-key", self.providers.relay_key)
        if r.method == "GET" and rest.startswith("/v2/tasks/"):
            return 200, self._relay_poll(rest.removeprefix("/v2/tasks/"))
        if r.method != "POST" or not rest.startswith("/v2/"):
            raise refusal(404, {"message": f"Nothing at {r.path}."})
        body = r.json if isinstance(r.json, dict) else {}
        self._faults(r)
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
            self.providers._tasks[task_id] = Task(answer, r.prompt)
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
        pictures = [] if self._empty() else pictures
        if "/qwen/" in rest:
            answer["urls"] = [self._link("relay", data, ct) for data, ct in pictures]
        else:
            answer["images"] = [self._b64(data) for data, _ in pictures]
        return answer

    def _relay_poll(self, task_id: str) -> dict[str, Any]:
        with self.providers._lock:
            task = self.providers._tasks.get(task_id)
            if task is None:
                raise refusal(404, {"message": f"No task {task_id}."})
            task.polls += 1
            polls = task.polls
        if polls == 1:
            return {"task_id": task_id, "status": "queued"}
        done = polls > 2
        if (failed := self.providers.faults.task_answer(task.prompt, done)) is not None:
            return {"task_id": task_id, **failed}
        if not done:
            return {"task_id": task_id, "status": "running"}
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
            raise refusal(404, {"detail": "Not Found"})
        body = r.json if isinstance(r.json, dict) else {}
        self._faults(r)
        inputs: list[bytes] = []
        if rest.endswith("img2img"):
            inputs = [d for v in body.get("init_images") or [] if (d := _decode_picture(v))]
            if not inputs:
                raise refusal(422, {"detail": "init_images must hold a base64 picture."})
        checkpoint = (body.get("override_settings") or {}).get("sd_model_checkpoint")
        if checkpoint and checkpoint not in {c["title"] for c in CHECKPOINTS}:
            raise refusal(400, {"detail": f"Unknown checkpoint {checkpoint}."})
        width = _int(body.get("width")) or 512
        height = _int(body.get("height")) or 512
        seed = _int(body.get("seed"))
        seed = seed if seed is not None and seed >= 0 else 1_234_567
        count = self._count(body, "batch_size")
        seeds = [seed + i for i in range(count)]
        images = (
            [] if self._empty() else [self._b64(render(width, height, "png", s)) for s in seeds]
        )
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
        raise refusal(400, {"message": "The multipart body could not be read."})
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        parts.append(Part(str(name), filename, part.get_content_type(), payload))
    return parts
