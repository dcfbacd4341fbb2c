"""Every model Atelier can call: its provider, protocol, endpoint and documented parameters.

Plain data, loaded once at import. Forms are built from it and requests are checked against it.
"""

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from django.conf import settings

DATA_DIR = Path(__file__).resolve().parent / "data"

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


# How each provider reads a mask: the RGBA of the area to edit and of the area to keep. The
# mask editor paints with these (the page carries them); the catalog names one per mask param.
MASK_CONVENTIONS: dict[str, dict[str, tuple[int, int, int, int]]] = {
    # OpenAI's gpt-image edits: fully transparent pixels are edited, opaque ones kept.
    "transparent-edits": {"edit": (0, 0, 0, 0), "keep": (0, 0, 0, 255)},
    # Relay's gpt-image edit and AUTOMATIC1111's inpainting: white is edited, black kept.
    "white-edits": {"edit": (255, 255, 255, 255), "keep": (0, 0, 0, 255)},
}


@dataclass(frozen=True)
class Param:
    name: str
    # string | integer | number | boolean | enum | json
    # size: a fal preset, or a custom {width, height} when custom_size
    # image: one input image; images: a list of them, at most max_items
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
    max_items: int | None = None
    # For a mask: how the provider reads it (a key of MASK_CONVENTIONS), and the image
    # parameter whose first picture it must match in size.
    mask_convention: str = ""
    mask_of: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


# The parameters people change most, on the composer's first line beside the model: the size
# (or aspect ratio, resolution, width and height) and how many images. The rest of a model's
# optional parameters fold under "Options".
MOST_USED = frozenset(
    {"image_size", "aspect_ratio", "size", "resolution", "width", "height", "num_images", "n"}
)


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
    # What the endpoint takes: JSON, or multipart files (gpt-image edits).
    content_type: str = "application/json"
    aliases: tuple[str, ...] = ()
    # The parameter that switches between URL and base64 outputs, if any.
    output_switch: str | None = None
    # For a second endpoint of one model (gpt-image edits): the model it belongs to.
    variant_of: str | None = None
    # Sent with every request, e.g. the upstream model id when ours differs.
    extra: dict[str, Any] = field(default_factory=dict)
    # Seconds before a generation with this model is given up (GENERATION_DEADLINE if None).
    deadline: int | None = None

    @property
    def offered(self) -> bool:
        return self.status == "active"

    @property
    def prompt(self) -> Param | None:
        return self.param("prompt")

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def upstream_id(self) -> str:
        """The id the provider knows the model by."""
        return self.extra.get("model") or self.id

    @property
    def image_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.type in ("image", "images"))

    @property
    def mask_param(self) -> Param | None:
        """The parameter that takes a mask drawn in the mask editor, if the model has one."""
        return next((p for p in self.params if p.mask_convention), None)

    @property
    def options(self) -> tuple[Param, ...]:
        """Every parameter but the prompt, in the order the form shows them."""
        return tuple(p for p in self.params if p.name != "prompt")

    def place(self, param: Param) -> str:
        """Where the composer shows a parameter: "quick", on the line with the model; "main",
        below it, for pictures and anything else that cannot be left out (never folded away);
        "more", under the Options disclosure."""
        if param.type in ("image", "images") or (param.required and param.name not in MOST_USED):
            return "main"
        return "quick" if param.name in MOST_USED else "more"


# How a generation's parameters name a picture: {"image": <gallery image uuid>} or
# {"upload": <uploaded picture uuid>}. Only a model's image/images parameters may hold one.
PICTURE_REFERENCES = ("image", "upload")


def is_picture_reference(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in PICTURE_REFERENCES


def holds_picture_reference(value: Any) -> bool:
    """Whether a picture reference appears anywhere in a JSON value, at any depth."""
    pending = [value]
    while pending:  # by hand, not recursion: a deeply nested value cannot overflow the stack
        item = pending.pop()
        if is_picture_reference(item):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


PARAM_FIELDS = {f.name for f in fields(Param)}
MODEL_FIELDS = {f.name for f in fields(Model)}


def _param_values(p: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in p.items() if k in PARAM_FIELDS and v is not None}
    values["enum"] = tuple(values.get("enum") or ())
    return values


def _from_json(entry: dict[str, Any]) -> Model:
    params = tuple(Param(**_param_values(p)) for p in entry["params"])
    values = {k: v for k, v in entry.items() if k in MODEL_FIELDS and k != "params"}
    values["aliases"] = tuple(values.get("aliases") or ())
    return Model(params=params, **values)


# The built-in sandbox, a person's own AUTOMATIC1111-compatible server (`A1111_BASE_URL`), then
# the hosted providers: the order the select offers them in.
CATALOG_FILES = ("sandbox.json", "a1111.json", "aimlapi.json", "relay.json")


def _load() -> dict[str, Model]:
    models: list[Model] = []
    for name in CATALOG_FILES:
        models += [_from_json(entry) for entry in json.loads((DATA_DIR / name).read_text())]
    return {model.id: model for model in models}


MODELS: dict[str, Model] = _load()


def get(model_id: str) -> Model | None:
    return MODELS.get(model_id)


def missing_setting(model: Model, team: Any = None) -> str | None:
    """The setting a model needs that is not configured, to explain why it is unavailable.

    A team's own key (team.aimlapi_key / team.relay_key) counts as configured.
    """
    if model.provider == "sandbox":
        return None if settings.SANDBOX_ENABLED else "SANDBOX_ENABLED=1"
    needed = {"aimlapi": "AIMLAPI_API_KEY", "relay": "RELAY_API_KEY", "a1111": "A1111_BASE_URL"}
    name = needed.get(model.provider)
    if not name or getattr(settings, name):
        return None
    if team is not None and getattr(team, f"{model.provider}_key", None):
        return None
    return name


def offered() -> list[Model]:
    """Models a person may pick for a new generation, in the order the select shows them."""
    return [m for m in _in_order(frozenset(MODELS)) if m.offered]


def _in_order(ids: frozenset[str]) -> list[Model]:
    """Every model, by provider, developer and name (a page asks several times; the sort is
    kept for as long as the catalog holds the same ids)."""
    key = _sorted_ids.get(ids)
    if key is None:
        order = list(PROVIDERS)
        ranked = sorted(
            MODELS.values(),
            key=lambda m: (order.index(m.provider), m.developer.lower(), m.name.lower()),
        )
        key = _sorted_ids[ids] = [m.id for m in ranked]
    return [MODELS[model_id] for model_id in key]


_sorted_ids: dict[frozenset[str], list[str]] = {}


DEFAULT_MODEL = "sandbox/flux-sync"


def default_model(team: Any = None) -> Model:
    """The model a new form starts with: DEFAULT_MODEL when it can be used here, else the first
    offered model that can (the sandbox is off on a public site), else the first offered."""
    choices = [MODELS[DEFAULT_MODEL], *offered()]
    usable = (m for m in choices if m.offered and not missing_setting(m, team))
    return next(usable, choices[1] if len(choices) > 1 else choices[0])
