"""Every model Atelier can call: its provider, protocol, endpoint and documented parameters.

Plain data, loaded once at import. Forms are built from it and requests are checked against it.
"""

from dataclasses import dataclass, field
from typing import Any

PROVIDERS = {
    "sandbox": "Sandbox (offline)",
    "aimlapi": "AI/ML API",
    "relay": "Relay",
    "a1111": "Stable Diffusion server",
}

KINDS = {"text-to-image": "text to image", "edit": "edit", "upscale": "upscale"}

# fal-style size presets and the pixels they stand for.
SIZE_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


@dataclass(frozen=True)
class Param:
    name: str
    # string | integer | number | boolean | enum | size ("WxH" choice or fal preset + custom)
    type: str
    label: str = ""
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    enum: tuple[Any, ...] = ()
    multiple_of: int | None = None
    max_length: int | None = None
    help: str = ""
    # For type "size": whether a custom width x height is allowed besides the presets.
    custom_size: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    provider: str
    protocol: str  # aimlapi | relay | a1111: which adapter speaks to it
    developer: str
    kind: str
    endpoint: str
    params: tuple[Param, ...]
    status: str = "active"
    asynchronous: bool = False
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def offered(self) -> bool:
        return self.status == "active"

    @property
    def prompt(self) -> Param | None:
        return self.param("prompt")

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def options(self) -> tuple[Param, ...]:
        """Every parameter but the prompt, in the order the form shows them."""
        return tuple(p for p in self.params if p.name != "prompt")


def _sandbox_models() -> list[Model]:
    prompt = Param("prompt", "string", required=True, max_length=2000, help="What to draw.")
    seed = Param("seed", "integer", min=0, max=2**32 - 1, help="Same seed, same picture.")
    fmt = Param(
        "output_format",
        "enum",
        default="png",
        enum=("png", "jpeg"),
        label="Format",
        help="File type of the result.",
    )
    return [
        Model(
            id="sandbox/flux-sync",
            name="Sandbox Flux",
            provider="sandbox",
            protocol="aimlapi",
            developer="Atelier",
            kind="text-to-image",
            endpoint="/v1/images/generations",
            notes="Answers at once with fal-style images[] URLs.",
            params=(
                prompt,
                Param(
                    "image_size",
                    "size",
                    label="Size",
                    default="square_hd",
                    enum=tuple(SIZE_PRESETS),
                    custom_size=True,
                    min=64,
                    max=2048,
                    multiple_of=32,
                    help="A preset, or your own width and height (multiples of 32).",
                ),
                Param("num_images", "integer", label="Number of images", default=1, min=1, max=4),
                seed,
                fmt,
            ),
        ),
        Model(
            id="sandbox/openai-sync",
            name="Sandbox DALL·E-style",
            provider="sandbox",
            protocol="aimlapi",
            developer="Atelier",
            kind="text-to-image",
            endpoint="/v1/images/generations",
            notes="Answers at once with OpenAI-style data[] (url or b64_json).",
            params=(
                prompt,
                Param(
                    "size",
                    "enum",
                    label="Size",
                    default="1024x1024",
                    enum=("256x256", "512x512", "1024x1024", "1536x1024", "1024x1536"),
                ),
                Param("n", "integer", label="Number of images", default=1, min=1, max=4),
                Param(
                    "response_format",
                    "enum",
                    label="Delivery",
                    default="url",
                    enum=("url", "b64_json"),
                    help="Download by URL, or inline base64.",
                ),
                seed,
            ),
        ),
        Model(
            id="sandbox/relay-async",
            name="Sandbox Relay (async)",
            provider="sandbox",
            protocol="relay",
            developer="Atelier",
            kind="text-to-image",
            endpoint="/v2/image/generate",
            asynchronous=True,
            notes="Answers 202 with a task id; the task goes queued, running, completed.",
            params=(
                prompt,
                Param("width", "integer", default=1024, min=64, max=2048, multiple_of=32),
                Param("height", "integer", default=1024, min=64, max=2048, multiple_of=32),
                seed,
                fmt,
            ),
        ),
    ]


def _load() -> dict[str, Model]:
    return {model.id: model for model in _sandbox_models()}


MODELS: dict[str, Model] = _load()


def get(model_id: str) -> Model | None:
    return MODELS.get(model_id)


def offered() -> list[Model]:
    """Models a person may pick for a new generation, in the order the select shows them."""
    order = list(PROVIDERS)
    return sorted(
        (m for m in MODELS.values() if m.offered),
        key=lambda m: (order.index(m.provider), m.developer.lower(), m.name.lower()),
    )


DEFAULT_MODEL = "sandbox/flux-sync"
