"""What a model costs: the price table, and the estimate of one request from it.

An estimate counts against budgets while a generation runs and stands in for the provider's
own figure when it reports none (see `Usage.settle`).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from jobs import catalog

FREE_PROVIDERS = ("sandbox", "a1111")


class CostSource(models.TextChoices):
    """What a ledger row's cost rests on."""

    REPORTED = "reported", "Reported by the provider"
    ESTIMATED = "estimated", "Estimated from the price table"
    FAMILY = "family", "Estimated at the highest price of its family"
    UNPRICED = "unpriced", "No price known"
    FREE = "free", "Not charged"


class Price(models.Model):
    """What one image of a model costs, for an estimate when the provider reports no figure.

    `by_param` holds prices that depend on a parameter, per image: {"quality": {"high": "0.17"}}.
    With `per_megapixel`, the price is per megapixel of the requested size instead.
    """

    model_id = models.CharField(max_length=200, unique=True)
    usd_per_image = models.DecimalField(max_digits=10, decimal_places=6)
    per_megapixel = models.BooleanField(default=False)
    by_param = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where the figure comes from.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_id"]

    def __str__(self) -> str:
        return f"{self.model_id}: ${self.usd_per_image}"

    @classmethod
    def estimate(cls, model_id: str, provider: str, params: dict) -> tuple[Decimal, str]:
        """The expected cost of a request and what it rests on: its own price (estimated), its
        family's highest (family), none known (unpriced), or nothing to pay (free)."""
        price = cls.objects.filter(model_id=model_id).first()
        if price is not None:
            unit, source = price.per_image(model_id, params), CostSource.ESTIMATED
        elif provider in FREE_PROVIDERS:
            # The sandbox and a person's own server cost nothing, unless an admin prices them.
            return Decimal(0), CostSource.FREE
        elif (highest := cls.family_highest(model_id, params)) is not None:
            # Never $0 for a model that costs money: what its dearest relative would cost.
            unit, source = highest, CostSource.FAMILY
        else:
            return Decimal(0), CostSource.UNPRICED
        total = unit * images_requested(model_id, params)
        return total.quantize(Decimal("0.000001")), source

    def per_image(self, model_id: str, params: dict) -> Decimal:
        """What one image of this request costs at this price: by its options, by its size."""
        unit = _by_param(self.by_param or {}, model_id, params)
        unit = self.usd_per_image if unit is None else unit
        if self.per_megapixel:
            unit *= Decimal(str(megapixels(model_id, params)))
        return unit

    @classmethod
    def family_highest(cls, model_id: str, params: dict) -> Decimal | None:
        """The highest price per image in a model's family, for this request's size; None if no
        model of its family has a price."""
        model = catalog.get(model_id)
        if model is None:
            return None
        mp = Decimal(str(megapixels(model_id, params)))
        figures = [
            price.highest() * (mp if price.per_megapixel else 1)
            for price in cls.objects.filter(model_id__in=family(model))
        ]
        return max(figures, default=None)

    def highest(self) -> Decimal:
        """The dearest figure this price holds, over every option it lists."""

        def figures(table: dict):
            for choices in table.values():
                for found in choices.values() if isinstance(choices, dict) else ():
                    yield from figures(found) if isinstance(found, dict) else [Decimal(str(found))]

        return max([self.usd_per_image, *figures(self.by_param or {})])

    @classmethod
    def note(cls, model: catalog.Model) -> str:
        """What the generate form says a model costs, at its default options."""
        price = cls.objects.filter(model_id=model.id).first()
        if price is None:
            if model.provider in FREE_PROVIDERS:
                return "free"
            highest = cls.family_highest(model.id, {})
            if highest is None:
                return "no price set"
            return (
                f"no price set; counted at {_dollars(highest)} per image, the highest of its "
                "family, against dollar budgets"
            )
        unit = "megapixel" if price.per_megapixel else "image"
        at_defaults = _by_param(price.by_param or {}, model.id, {})
        figure = price.usd_per_image if at_defaults is None else at_defaults
        return f"about {_dollars(figure)} per {unit}" + (
            ", depends on options" if price.by_param else ""
        )


def by_param_problem(value: object) -> str | None:
    """What is wrong with a `Price.by_param` mapping, in words for the admin; None if nothing.

    A value may hold a second mapping instead of a price, for a price that depends on two
    options: {"quality": {"high": {"size": {"1024x1536": "0.25"}}}}.
    """
    if not isinstance(value, dict):
        return "Write an object: {parameter: {value: price}}."
    for name, choices in value.items():
        if not isinstance(choices, dict) or not choices:
            return f'"{name}" needs an object of prices by value, like {{"high": "0.17"}}.'
        for choice, price in choices.items():
            if isinstance(price, dict):
                if problem := by_param_problem(price):
                    return problem
                continue
            if isinstance(price, bool) or not isinstance(price, int | float | str):
                return f'The price of {name}="{choice}" must be a number, like "0.17".'
            try:
                amount = Decimal(str(price))
            except ArithmeticError:
                return f'The price of {name}="{choice}" must be a number, like "0.17".'
            if not amount.is_finite() or amount < 0:
                return f'The price of {name}="{choice}" must be zero or more.'
    return None


def images_requested(model_id: str, params: dict) -> int:
    """How many images a request asks for (num_images, n, or batch_size x n_iter)."""
    model = catalog.get(model_id)

    def value(name: str) -> int:
        given = params.get(name)
        if given is None and model is not None and (param := model.param(name)):
            given = param.default
        return given if isinstance(given, int) and given > 0 else 1

    if model is not None and model.param("batch_size"):
        return value("batch_size") * value("n_iter")
    for name in ("num_images", "n"):
        if name in params or (model is not None and model.param(name)):
            return value(name)
    return 1


def megapixels(model_id: str, params: dict) -> float:
    """The requested size in megapixels, 1.0 when the request does not say."""
    width, height = params.get("width"), params.get("height")
    if not (isinstance(width, int) and isinstance(height, int)):
        width = height = None
        for name in ("image_size", "size"):
            size = params.get(name)
            if isinstance(size, dict):
                width, height = size.get("width"), size.get("height")
            elif isinstance(size, str) and size in catalog.SIZE_PRESETS:
                width, height = catalog.SIZE_PRESETS[size]
            elif isinstance(size, str) and "x" in size:
                w, _, h = size.lower().partition("x")
                if w.strip().isdigit() and h.strip().isdigit():
                    width, height = int(w), int(h)
            if width and height:
                break
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width * height / 1_000_000
    return 1.0


def _by_param(table: dict, model_id: str, params: dict) -> Decimal | None:
    """The price an option picks: {"quality": {"high": "0.17"}}, or, for a price that depends
    on two options, {"quality": {"high": {"size": {"1024x1536": "0.25"}}}}. None: not listed."""
    for name, choices in table.items():
        chosen = str(_chosen(model_id, params, name))
        if not isinstance(choices, dict) or chosen not in choices:
            continue
        found = choices[chosen]
        return (
            _by_param(found, model_id, params) if isinstance(found, dict) else Decimal(str(found))
        )
    return None


def _chosen(model_id: str, params: dict, name: str):
    """A parameter as asked, or the model's documented default when the request leaves it out."""
    chosen = params.get(name)
    if chosen is None and (model := catalog.get(model_id)) and (param := model.param(name)):
        chosen = param.default
    return chosen


def family(model: catalog.Model) -> list[str]:
    """The models priced like this one: the same developer's, from any provider that charges.

    A maker's models cost alike wherever they are sold (a gpt-image model on the AI/ML API or on
    Relay), and a model new to the catalog is most often its maker's next one; a provider's
    whole list would mix a $0.003 Flux with a $0.25 GPT image and say little.
    """
    return [
        m.id
        for m in catalog.MODELS.values()
        if m.developer == model.developer and m.provider not in FREE_PROVIDERS and m.id != model.id
    ]


def _dollars(amount: Decimal) -> str:
    return f"${amount.normalize():f}"


def reported_cost(provider: str, meta: dict) -> tuple[Decimal | None, int | None]:
    """The provider's own figure: (US dollars, credits), either may be missing.

    The AI/ML API reports `meta.usage` with `usd_spent` and/or `credits_used` (older models say
    `tokens_used`, in the same unit); Relay puts the same keys at the top of its result.
    """
    usage = meta.get("usage")
    figures: dict = usage if isinstance(usage, dict) else meta
    usd, credits = figures.get("usd_spent"), figures.get("credits_used")
    if credits is None:
        credits = figures.get("tokens_used")
    credits = int(credits) if isinstance(credits, int | float) and credits >= 0 else None
    if isinstance(usd, int | float) and usd >= 0:
        return Decimal(str(usd)), credits
    rate = settings.USD_PER_CREDIT.get(provider)
    if credits is not None and rate is not None:
        return (credits * Decimal(str(rate))).quantize(Decimal("0.000001")), credits
    return None, credits
