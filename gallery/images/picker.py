"""What the model picker says about each model, carried on the Model select's options.

static/picker.js turns the select into a searchable list; everything it shows comes from here,
for every offered model in a fixed number of queries (prices, learned times, the person's
favorites and latest generations), never one per model.
"""

from decimal import Decimal
from typing import Any

from gallery.models import Generation, Preferences, Price
from gallery.policy.models import per_image
from gallery.usage.prices import FREE_PROVIDERS
from jobs import catalog
from jobs.timing import typical_times

# The filters the picker offers, by what a model does, in the order it shows them.
CAPABILITIES = {**catalog.KINDS, "mask": "mask"}
# Recently used models listed first: the latest few, read from this many latest generations.
RECENT = 5
RECENT_LOOKBACK = 200


def capabilities(model: catalog.Model) -> list[str]:
    """What the model does: its kind, and "mask" when it takes a mask drawn in the editor."""
    return [model.kind, *(["mask"] if model.mask_param else [])]


def recent_models(user: Any) -> list[str]:
    """The models of the person's latest generations, latest first, each once."""
    if user is None or not user.is_authenticated:
        return []
    latest = (
        Generation.objects.filter(owner=user)
        .order_by("-created_at", "-id")
        .values_list("model_id", flat=True)[:RECENT_LOOKBACK]
    )
    return list(dict.fromkeys(latest))[:RECENT]


def price_text(model: catalog.Model, prices: dict[str, Price]) -> str:
    """The estimated price of one image at the model's default options, as Price.estimate
    counts it: its own price, free, or its family's dearest."""
    unit = per_image(model, {}, prices)
    if unit is None:
        return "no price set"
    if model.id not in prices and model.provider in FREE_PROVIDERS:
        return "free"
    figure = f"about {_dollars(unit)} per image"
    return figure if model.id in prices else f"{figure} (no price set: its family's dearest)"


def time_text(seconds: float | None) -> str:
    if seconds is None:
        return "no timing yet"
    if seconds < 90:
        return f"typically {max(1, round(seconds))} s"
    return f"typically {round(seconds / 60)} min"


def details(user: Any, unavailable: dict[str, str]) -> dict[str, dict[str, str]]:
    """The data attributes of each offered model's <option>, by model id."""
    models = catalog.offered()
    prices = {price.model_id: price for price in Price.objects.all()}
    times = typical_times([model.id for model in models])
    signed_in = user is not None and user.is_authenticated
    favorites = set(Preferences.favorites_of(user)) if signed_in else set()
    recent = recent_models(user)
    found = {}
    for model in models:
        attrs = {
            "data-name": model.name,
            "data-provider": catalog.PROVIDERS[model.provider],
            "data-caps": " ".join(capabilities(model)),
            "data-price": price_text(model, prices),
            "data-time": time_text(times.get(model.id)),
        }
        if why := unavailable.get(model.id):
            attrs["data-why"] = why
        if model.id in favorites:
            attrs["data-favorite"] = "1"
        if model.id in recent:
            attrs["data-recent"] = str(recent.index(model.id))
        found[model.id] = attrs
    return found


def _dollars(amount: Decimal) -> str:
    """$0.04, $0.042, $0.0035: to a tenth of a cent, finer below a cent; no trailing zeros."""
    places = Decimal("0.001") if amount >= Decimal("0.01") else Decimal("0.0001")
    text = f"{amount.quantize(places):f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"
