"""The usage ledger, cost estimates and budgets.

Every generation gets a `Usage` row in the transaction that creates it, carrying the estimated
cost; budgets are checked there, under a lock, so two submits racing at a limit cannot both pass.
When the generation ends, its row is settled in the same transaction as the final transition.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone

from gallery.models import Budget, Generation, Price, SiteSettings, Team, Usage
from jobs import catalog, tasks

Status = Generation.Status
Source = Usage.Source
FREE_PROVIDERS = ("sandbox", "a1111")
CENT = Decimal("0.01")
SITE = "the site"  # whose limit the site-wide cap is


class OverBudget(Exception):
    """A generation that would break a limit; the message says which, for the person."""


# --- Estimates ------------------------------------------------------------------------------


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


def estimate(model_id: str, provider: str, params: dict) -> tuple[Decimal, str]:
    """The expected cost of a request and what it rests on: its own price (estimated), its
    family's highest (family), none known (unpriced), or nothing to pay (free)."""
    price = Price.objects.filter(model_id=model_id).first()
    if price is not None:
        unit, source = unit_price(price, model_id, params), Source.ESTIMATED
    elif provider in FREE_PROVIDERS:
        # The sandbox and a person's own server cost nothing, unless an admin prices them.
        return Decimal(0), Source.FREE
    elif (highest := family_price(model_id, params)) is not None:
        # Never $0 for a model that costs money: what its dearest relative would cost.
        unit, source = highest, Source.FAMILY
    else:
        return Decimal(0), Source.UNPRICED
    total = unit * images_requested(model_id, params)
    return total.quantize(Decimal("0.000001")), source


def unit_price(price: Price, model_id: str, params: dict) -> Decimal:
    """What one image of this request costs at this price: by its options, by its size."""
    unit = _by_param(price.by_param or {}, model_id, params)
    unit = price.usd_per_image if unit is None else unit
    if price.per_megapixel:
        unit *= Decimal(str(megapixels(model_id, params)))
    return unit


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


def family_price(model_id: str, params: dict) -> Decimal | None:
    """The highest price per image in a model's family, for this request's size; None if no
    model of its family has a price."""
    model = catalog.get(model_id)
    if model is None:
        return None
    mp = Decimal(str(megapixels(model_id, params)))
    figures = [
        _highest(price) * (mp if price.per_megapixel else 1)
        for price in Price.objects.filter(model_id__in=family(model))
    ]
    return max(figures, default=None)


def _highest(price: Price) -> Decimal:
    """The dearest figure a price holds, over every option it lists."""

    def figures(table: dict):
        for choices in table.values():
            for found in choices.values() if isinstance(choices, dict) else ():
                yield from figures(found) if isinstance(found, dict) else [Decimal(str(found))]

    return max([price.usd_per_image, *figures(price.by_param or {})])


def price_note(model: catalog.Model) -> str:
    """What the generate form says a model costs, at its default options."""
    price = Price.objects.filter(model_id=model.id).first()
    if price is None:
        if model.provider in FREE_PROVIDERS:
            return "free"
        highest = family_price(model.id, {})
        if highest is None:
            return "no price set"
        return (
            f"no price set; counted at {_dollars(highest)} per image, the highest of its family, "
            "against dollar budgets"
        )
    unit = "megapixel" if price.per_megapixel else "image"
    at_defaults = _by_param(price.by_param or {}, model.id, {})
    figure = price.usd_per_image if at_defaults is None else at_defaults
    return f"about {_dollars(figure)} per {unit}" + (
        ", depends on options" if price.by_param else ""
    )


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


# --- Opening and settling ledger rows ---------------------------------------------------------


def start(**fields) -> Generation:
    """Make a generation, record it in the ledger and submit it once the transaction commits.

    Raises OverBudget when it would break a limit; nothing is then saved.
    """
    with transaction.atomic():
        generation = Generation.objects.create(**fields)
        open_entry(generation)
        transaction.on_commit(partial(tasks.submit.delay, generation.pk))
    return generation


def open_entry(generation: Generation) -> Usage:
    """Record a new generation, refusing it (OverBudget) if it would break a limit.

    Call inside the transaction that creates the generation: the lock taken here is held until
    it commits, so the next submit for the same person or team counts this one.
    """
    user, team = generation.owner, generation.team
    images = images_requested(generation.model_id, generation.params)
    cost, source = estimate(generation.model_id, generation.provider, generation.params)
    # Lock the person, then the team (always in that order): racing submits queue up here.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    Team.objects.select_for_update().filter(pk=team.pk).first()
    for limit in limits(user, team):
        limit.check(images, cost, source)
    # Then the site's cap, when there is one: every submit on the site queues up behind it.
    if (cap := site_limit(lock=True)) is not None:
        cap.check(images, cost, source)
    return Usage.objects.create(
        generation=generation,
        user=user,
        team=team,
        user_name=user.get_username(),
        team_name=team.name,
        api_token=generation.api_token,
        api_token_name=generation.api_token.name if generation.api_token else "",
        provider=generation.provider,
        model_id=generation.model_id,
        created_at=generation.created_at,
        images=images,
        estimated_usd=cost,
        cost_usd=cost,
        cost_source=source,
    )


def settle(generation: Generation) -> None:
    """Write how a generation ended into its ledger row (called in the final transition).

    Reads the row as that transition left it, in the same transaction, not the caller's copy:
    a cancel from the web may hold a copy older than the worker's last write (the provider's
    task id, its reported cost). A generation made before the ledger existed has no ledger row,
    and then nothing changes.
    """
    g = Generation.objects.only(*SETTLE_FIELDS).get(pk=generation.pk)
    reported, credits = reported_cost(g.provider, g.provider_meta or {})
    # The provider charges for work it may have done: a result it delivered, or a request it
    # was sent and did not refuse, whatever happened next (a cancel, a timeout or a broken
    # connection after sending, a deadline passed while its task ran). A request it refused
    # (an HTTP error answer, a task it reported failed) or that never left costs nothing: the
    # pipeline then clears `sent_at`. A model that was free when the generation was made (the
    # sandbox, unpriced) stays free.
    charged = g.result_at is not None or g.sent_at is not None
    free = Q(cost_source=Source.FREE)
    cost: dict = {}
    if reported is not None:
        cost = {
            "cost_usd": Case(When(free, then=Value(Decimal(0))), default=Value(reported)),
            "cost_source": Case(
                When(free, then=Value(Source.FREE)), default=Value(Source.REPORTED)
            ),
        }
    elif not charged:
        cost = {"cost_usd": Decimal(0)}
    else:
        cost = {"cost_usd": F("estimated_usd")}
    # What was stored counts, also for a generation that failed after some of its pictures were
    # kept; a cancel throws its pictures away.
    stored = g.status != Status.CANCELLED and g.result_at is not None
    Usage.objects.filter(generation_id=g.pk).update(
        outcome=g.status,
        error=g.error[:300],
        settled_at=timezone.now(),
        images=g.images.filter(copy_of=None).count() if stored else 0,
        queue_seconds=_seconds(g.created_at, g.submitted_at),
        provider_seconds=_seconds(g.submitted_at, g.result_at),
        download_seconds=(
            _seconds(g.result_at, g.finished_at) if g.status == Status.SUCCEEDED else None
        ),
        total_seconds=_seconds(g.created_at, g.finished_at),
        reported_usd=reported,
        reported_credits=credits,
        **cost,
    )


SETTLE_FIELDS = (
    "status",
    "error",
    "provider",
    "provider_meta",
    "provider_task_id",
    "created_at",
    "submitted_at",
    "sent_at",
    "result_at",
    "finished_at",
)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


# --- Budgets --------------------------------------------------------------------------------


@dataclass
class Limit:
    """One limit and how much of it is used: images today, or dollars this month."""

    whose: str  # "You" or the team's name
    kind: str  # "images" | "usd"
    limit: Decimal | int
    used: Decimal | int

    @property
    def ratio(self) -> float:
        return float(self.used) / float(self.limit) if self.limit else 1.0

    @property
    def near(self) -> bool:
        return self.ratio >= 0.8

    def __str__(self) -> str:
        if self.kind == "images":
            return f"{self.used} of {self.limit} images today"
        return f"${Decimal(self.used).quantize(CENT)} of ${self.limit} this month"

    def check(self, images: int, cost: Decimal, source: str) -> None:
        owner = {"You": "You have", SITE: "Everyone on this site together has"}.get(
            self.whose, f"The team {self.whose} has"
        )
        if self.kind == "images" and self.used + images > self.limit:
            left = max(0, int(self.limit) - int(self.used))
            raise OverBudget(
                f"{owner} made {self.used} of {self.limit} images allowed today, and this would "
                f"make {images} more ({left} left). The count starts again at midnight "
                f"{timezone.get_current_timezone_name()}."
            )
        if self.kind == "usd" and source == Source.UNPRICED:
            raise OverBudget(
                "This model has no price yet, and spending is limited, so it cannot be used "
                "until an admin sets its price."
            )
        if self.kind == "usd" and self.used + cost > self.limit:
            raise OverBudget(
                f"{owner} spent ${Decimal(self.used).quantize(CENT)} of ${self.limit} allowed "
                f"this month, and this would cost about ${cost.quantize(CENT)} more."
                + (" An admin sets this limit under Site settings." if self.whose == SITE else "")
            )


def day_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime | None = None) -> datetime:
    return day_start(now).replace(day=1)


# Each kind of limit: the budget's field, and since when (and what) is summed against it.
KINDS = {
    "images": ("images_per_day", day_start, "images"),
    "usd": ("usd_per_month", month_start, "cost_usd"),
}


def _limit(kind: str, scope: str, budget: Budget | None, site: SiteSettings):
    """A person's or team's own limit of this kind, else the site's default for everyone."""
    field = KINDS[kind][0]
    own = getattr(budget, field, None)
    return getattr(site, f"{scope}_{field}") if own is None else own


def limits(user, team: Team) -> list[Limit]:
    """The limits that apply to this person in this team, with what is used of each."""
    site = SiteSettings.load()
    budgets = Budget.objects.filter(Q(user=user) | Q(team=team))
    mine = next((b for b in budgets if b.user_id == user.pk), None)
    ours = next((b for b in budgets if b.team_id == team.pk), None)
    found: list[Limit] = []
    for whose, scope, owner, budget in (
        ("You", "user", Q(user=user), mine),
        (team.name, "team", Q(team=team), ours),
    ):
        for kind, (_, since, summed) in KINDS.items():
            limit = _limit(kind, scope, budget, site)
            if limit is not None:
                found.append(Limit(whose, kind, limit, _used(owner, since(), summed)))
    return found


def site_limit(*, lock: bool = False) -> Limit | None:
    """The site-wide dollars per month, with what everyone spent this month; None when unset.

    With `lock`, the settings row stays locked until the transaction ends (see `open_entry`).
    """
    site = SiteSettings.load()
    if site.site_usd_per_month is not None and lock:
        site = SiteSettings.objects.select_for_update().get(pk=site.pk)
    if (limit := site.site_usd_per_month) is None:
        return None
    return Limit(SITE, "usd", limit, _used(Q(), month_start(), "cost_usd"))


def _used(owner: Q, since: datetime, field: str):
    total = Usage.objects.filter(owner, created_at__gte=since).aggregate(total=Sum(field))["total"]
    return total or (0 if field == "images" else Decimal(0))


@dataclass
class Standing:
    """How close one person or team is to one of their limits, for the admins' overview."""

    scope: str  # "user" | "team"
    name: str
    limit: Limit


def standing(threshold: float = 0.8, used_by=None) -> list[Standing]:
    """Every person and team at or above `threshold` of a limit, the closest first.

    `used_by(key, since, field)` -> {pk: total} says what each used (the dashboard passes one
    that reads daily roll-ups); by default the ledger is summed.
    """
    used_by = used_by or _used_by
    site = SiteSettings.load()
    found: list[Standing] = []
    for scope, everyone in (("user", get_user_model().objects.all()), ("team", Team.objects.all())):
        budgets = {getattr(b, scope + "_id"): b for b in Budget.objects.exclude(**{scope: None})}
        for kind, (field, since, summed) in KINDS.items():
            used = used_by(scope, since(), summed)
            own = {pk for pk, b in budgets.items() if getattr(b, field) is not None}
            ids = set(used) | own
            names = dict(everyone.filter(pk__in=ids).values_list("pk", _name_field(scope)))
            for pk in ids:
                limit = _limit(kind, scope, budgets.get(pk), site)
                if limit is None or pk not in names:
                    continue
                entry = Limit(names[pk], kind, limit, used.get(pk) or 0)
                if entry.ratio >= threshold:
                    found.append(Standing(scope, names[pk], entry))
    return sorted(found, key=lambda s: -s.limit.ratio)


def _used_by(key: str, since: datetime, field: str) -> dict:
    return dict(
        Usage.objects.filter(created_at__gte=since, **{key + "__isnull": False})
        .values_list(key + "_id")
        .annotate(total=Sum(field))
        .values_list(key + "_id", "total")
    )


def _name_field(scope: str) -> str:
    return get_user_model().USERNAME_FIELD if scope == "user" else "name"
