"""The usage dashboard, for staff: totals, charts by day, breakdowns, failures, limits, CSV."""

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from gallery.access import Request
from gallery.models import Team
from gallery.spreadsheet import csv_text
from gallery.usage.figures import Scope, Source, standing, used_by
from gallery.usage.sums import Figures
from jobs import catalog

MAX_DAYS = 400
CHART_WIDTH, CHART_HEIGHT = 600, 120


def staff_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        # Staff who may read the ledger in the admin: everyone's spend, names and failures.
        if not (request.user.is_staff and request.user.has_perm("gallery.view_usage")):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


class FilterForm(forms.Form):
    first = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    last = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))
    team = forms.ModelChoiceField(
        label="Team", required=False, queryset=Team.objects.order_by("name"), empty_label="All"
    )
    user = forms.ModelChoiceField(
        label="Person",
        required=False,
        queryset=get_user_model().objects.order_by("username"),
        empty_label="All",
    )
    model = forms.ChoiceField(
        label="Model",
        required=False,
        choices=lambda: [
            ("", "All"),
            *sorted((m.id, f"{m.name} ({m.id})") for m in catalog.MODELS.values()),
        ],
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        today = timezone.localdate()
        data["last"] = data.get("last") or today
        data["first"] = data.get("first") or data["last"] - timedelta(days=29)
        if data["first"] > data["last"]:
            raise forms.ValidationError("The start of the range is after its end.")
        if (data["last"] - data["first"]).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return data

    def scope(self) -> Scope:
        data = self.cleaned_data
        return Scope(
            data["first"],
            data["last"],
            team_id=data["team"].pk if data.get("team") else None,
            user_id=data["user"].pk if data.get("user") else None,
            model_id=data.get("model") or "",
        )


def _form(request: Request) -> FilterForm:
    known = {k: v for k, v in request.GET.items() if k in FilterForm.base_fields}
    if not known.get("first") and not known.get("last"):
        # Show the default range in the date fields, not empty boxes.
        today = timezone.localdate()
        known |= {"first": str(today - timedelta(days=29)), "last": str(today)}
    form = FilterForm(known)
    if not form.is_valid():
        form = FilterForm({})  # unbound defaults; the errors are shown from the first form
        form.is_valid()
    return form


# --- Tables: the same rows on the page and in the CSV ---------------------------------------


def _label(name: str, key: tuple) -> str:
    if name == "day":
        return key[0].isoformat()
    if name in ("team", "user"):
        pk, label = key
        return label if pk is not None else f"{label} (deleted)"
    if name == "provider":
        return catalog.PROVIDERS.get(key[0], key[0])
    if name == "token":
        token_id, token, user, team = key
        if not token:
            return "From the pages (no API token)"
        return f"{token}{'' if token_id else ' (deleted)'} · {user} in {team}"
    _provider, model_id = key
    model = catalog.get(model_id)
    return f"{model.name} ({model_id})" if model else model_id


def _rows(source: Source, name: str) -> list[dict]:
    table = source.table(name)
    if name == "day":
        keys = [(day,) for day in source.scope.days()]
    else:
        keys = sorted(table, key=lambda k: (-table[k].generations, str(k)))
    return [{"label": _label(name, k), "figures": table.get(k) or Figures()} for k in keys]


def report(scope: Scope) -> dict:
    source = Source(scope)
    names = ("day", "user", "team", "token", "provider", "model")
    tables = {name: _rows(source, name) for name in names}
    totals = Figures()
    for row in tables["day"]:
        totals.add(row["figures"])
    reasons = _reasons(source)
    return {
        "totals": totals,
        "tables": tables,
        "reasons": reasons,
        "charts": _charts(tables["day"]),
    }


def _reasons(source: Source) -> list[tuple[str, int]]:
    return sorted(source.reasons().items(), key=lambda item: (-item[1], item[0]))


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


FIGURE_COLUMNS: list[tuple[str, Callable[[Figures], object]]] = [
    ("generations", lambda f: f.generations),
    ("succeeded", lambda f: f.succeeded),
    ("failed", lambda f: f.failed),
    ("cancelled", lambda f: f.cancelled),
    ("in_flight", lambda f: f.in_flight),
    ("images", lambda f: f.images),
    ("spend_usd", lambda f: f"{f.cost_usd:.6f}"),
    ("reported_usd", lambda f: f"{f.reported_usd:.6f}"),
    ("estimated_usd", lambda f: f"{f.estimated_usd:.6f}"),
    ("failure_rate_percent", lambda f: _percent(f.failure_rate)),
    ("mean_seconds", lambda f: "" if f.mean_seconds is None else round(f.mean_seconds, 2)),
]
LATENCY_COLUMNS: list[tuple[str, Callable[[Figures], object]]] = [
    ("p50_seconds_at_most", lambda f: "" if f.p50 is None else round(f.p50, 2)),
    ("p95_seconds_at_most", lambda f: "" if f.p95 is None else round(f.p95, 2)),
]
EXPORTS = ("day", "user", "team", "token", "provider", "model", "reasons", "limits")


def _export(name: str, scope: Scope) -> str:
    """One table as CSV: only that table is computed."""
    if name == "reasons":
        return csv_text(["reason", "failures"], _reasons(Source(scope)))
    if name == "limits":
        rows = [
            (s.scope, s.name, s.limit.kind, s.limit.used, s.limit.limit, _percent(s.limit.ratio))
            for s in standing(used_by=used_by)
        ]
        return csv_text(["scope", "name", "kind", "used", "limit", "used_percent"], rows)
    columns = FIGURE_COLUMNS + (LATENCY_COLUMNS if name == "model" else [])
    return csv_text(
        [name, *(c for c, _ in columns)],
        (
            [row["label"], *(get(row["figures"]) for _, get in columns)]
            for row in _rows(Source(scope), name)
        ),
    )


# --- Charts: SVG drawn on the server ---------------------------------------------------------


def _charts(days: list[dict]) -> list[dict]:
    specs: list[tuple[str, str, Callable[[Figures], float | None], Callable[[float], str]]] = [
        ("generations", "Generations per day", lambda f: f.generations, lambda v: f"{v:,.0f}"),
        ("images", "Images per day", lambda f: f.images, lambda v: f"{v:,.0f}"),
        ("spend", "Spend per day (US$)", lambda f: float(f.cost_usd), lambda v: f"${v:,.2f}"),
        ("failures", "Failure rate per day", lambda f: f.failure_rate, lambda v: f"{v:.1%}"),
    ]
    charts = []
    n = max(1, len(days))
    step = CHART_WIDTH / n
    for slug, title, get, fmt in specs:
        values = [get(row["figures"]) for row in days]
        top = max((v for v in values if v is not None), default=0) or 1
        bars = []
        for i, (row, value) in enumerate(zip(days, values, strict=True)):
            height = round((value or 0) / top * CHART_HEIGHT, 1)
            bars.append(
                {
                    "x": round(i * step + step * 0.1, 1),
                    "y": round(CHART_HEIGHT - height, 1),
                    "width": round(max(step * 0.8, 1), 1),
                    "height": height,
                    "label": f"{row['label']}: {'no data' if value is None else fmt(value)}",
                }
            )
        charts.append(
            {
                "slug": slug,
                "title": title,
                "bars": bars,
                "top": fmt(top) if any(values) else fmt(0),
                "first": days[0]["label"] if days else "",
                "last": days[-1]["label"] if days else "",
                "width": CHART_WIDTH,
                "height": CHART_HEIGHT,
            }
        )
    return charts


# --- Views ----------------------------------------------------------------------------------


@staff_required
@require_GET
def usage_dashboard(request: Request) -> TemplateResponse:
    form = _form(request)
    data = report(form.scope())
    shown = FilterForm(request.GET) if request.GET else form
    query = urlencode({k: v for k, v in form.data.items() if v})
    context = {"form": shown, "query": query, **data}
    if request.htmx and not request.htmx.history_restore_request:
        return TemplateResponse(request, "staff/usage.html#results", context)
    # Outside the filtered results: who is near a limit now, whatever the filters.
    context["standing"] = standing(used_by=used_by)
    return TemplateResponse(request, "staff/usage.html", context)


@staff_required
@require_GET
def usage_export(request: Request, table: str) -> HttpResponse:
    if table not in EXPORTS:
        raise Http404("No such table.")
    form = _form(request)
    scope = form.scope()
    text = _export(table, scope)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    filename = f"usage-{table}-{scope.first}-{scope.last}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
