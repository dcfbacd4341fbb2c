"""OpenAI's `size` ("WxH") on any catalog model: the nearest value the model's own size
parameter allows, whether it is a `size` enum or string, fal's `image_size` presets with a
custom width x height, a pair of `width`/`height` integers, or an `aspect_ratio` (with a
resolution tier beside it).

Nearest means the same shape first (the ratio of the sides, compared on a log scale so that
2:1 and 1:2 are as far from 1:1), then the closest number of pixels.
"""

import math
import re
from typing import Any

from jobs.catalog import SIZE_PRESETS, Model, Param

WXH = re.compile(r"^\s*(\d{1,5})\s*[x×]\s*(\d{1,5})\s*$")
RATIO = re.compile(r"^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$")
# Resolution tiers ("1K", "2k", "0.5K"): the long side in pixels.
TIER = re.compile(r"^(\d+(?:\.\d+)?)[kK]$")
# The parameters a size is written to; a model with none of them takes no size.
SIZE_PARAMS = ("size", "image_size", "width", "height", "aspect_ratio")


class SizeError(ValueError):
    """The size is not "WxH", or the model takes no size."""


def parse(size: str) -> tuple[int, int]:
    match = WXH.match(size) if isinstance(size, str) else None
    if not match or not all(int(side) > 0 for side in match.groups()):
        raise SizeError(f'size must be "WIDTHxHEIGHT" in pixels, e.g. "1024x1024"; got {size!r}.')
    return int(match[1]), int(match[2])


def takes_size(model: Model) -> bool:
    return any(model.param(name) for name in SIZE_PARAMS)


def params_for(model: Model, size: str) -> dict[str, Any]:
    """The model's own parameters for a "WxH" size (or "auto" where the model has it)."""
    if size == "auto":
        size_param = model.param("size")
        if size_param is not None and "auto" in size_param.enum:
            return {"size": "auto"}
        return {}  # the model's own default is its "auto"
    width, height = parse(size)
    if (param := model.param("size")) is not None:
        return {"size": _size_value(param, width, height)}
    if (param := model.param("image_size")) is not None and param.type == "size":
        return {"image_size": _preset_or_custom(param, width, height)}
    if model.param("width") is not None and model.param("height") is not None:
        return {
            "width": _side(model.param("width"), width),
            "height": _side(model.param("height"), height),
        }
    if (param := model.param("aspect_ratio")) is not None:
        return {"aspect_ratio": _nearest_ratio(param, width, height)} | _tier(model, width, height)
    raise SizeError(f"{model.id} takes no size; leave size out.")


def _distance(width: float, height: float, to_width: float, to_height: float) -> tuple:
    shape = abs(math.log((width / height) / (to_width / to_height)))
    return (round(shape, 2), abs(math.log((width * height) / (to_width * to_height))))


def _size_value(param: Param, width: int, height: int) -> str:
    if not param.enum:  # a free "WxH" string
        return f"{width}x{height}"
    sized = [(v, parse(v)) for v in param.enum if isinstance(v, str) and WXH.match(v)]
    if not sized:  # e.g. only "adaptive": the one value there is
        return param.default if param.default in param.enum else param.enum[0]
    return min(sized, key=lambda item: _distance(width, height, *item[1]))[0]


def _preset_or_custom(param: Param, width: int, height: int) -> Any:
    if param.custom_size:
        return {"width": _side(param, width), "height": _side(param, height)}
    presets = [(v, SIZE_PRESETS[v]) for v in param.enum if v in SIZE_PRESETS]
    if not presets:
        return param.default if param.default in param.enum else param.enum[0]
    return min(presets, key=lambda item: _distance(width, height, *item[1]))[0]


def _side(param: Param | None, pixels: int) -> int:
    """Within the parameter's limits, on its step (rounded, then kept inside the limits)."""
    assert param is not None
    step = param.multiple_of or 1
    low = math.ceil((param.min or step) / step) * step
    high = math.floor(param.max / step) * step if param.max is not None else None
    value = max(low, round(pixels / step) * step)
    return int(min(value, high) if high is not None else value)


def _nearest_ratio(param: Param, width: int, height: int) -> str:
    ratios = [(v, (float(m[1]), float(m[2]))) for v in param.enum if (m := RATIO.match(str(v)))]
    best = min(ratios, key=lambda item: _distance(width, height, *item[1])[0])
    return best[0]


def _tier(model: Model, width: int, height: int) -> dict[str, Any]:
    """A resolution tier beside an aspect ratio ("1K", "2K"): the one nearest the long side."""
    for name in ("resolution", "image_size"):
        param = model.param(name)
        values = param.enum if param is not None else ()
        tiers = [(v, float(m[1]) * 1024) for v in values if (m := TIER.match(str(v)))]
        if tiers:
            long_side = max(width, height)
            return {name: min(tiers, key=lambda item: abs(math.log(long_side / item[1])))[0]}
    return {}
