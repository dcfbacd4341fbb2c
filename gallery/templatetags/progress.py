"""How far along an in-flight generation probably is, for its card's progress bar: measured
against the time the model's finished generations took (jobs.timing), not asked of anyone."""

from typing import Any

from django import template
from django.utils import timezone

from jobs import timing

register = template.Library()

# The bar stops short of full while the picture is not there: a model slower than usual should
# not look finished.
MOST = 0.97


@register.simple_tag
def progress(generation: Any) -> dict[str, Any]:
    """Seconds since it was asked for (`elapsed`), seconds it should take (`expected`: the
    time it queued, or has queued so far, plus the model's learned time after submission; None
    before the model has finished any) and where the bar stands (`value`, out of `expected`)."""
    now = timezone.now()
    elapsed = max(0, round((now - generation.created_at).total_seconds()))
    ready = timing.ready_after(generation.model_id)
    if ready is None:
        return {"elapsed": elapsed, "expected": None, "value": None}
    queued = ((generation.submitted_at or now) - generation.created_at).total_seconds()
    expected = max(1, round(queued + ready))
    return {"elapsed": elapsed, "expected": expected, "value": min(elapsed, expected * MOST)}


@register.filter
def duration(seconds: float | None) -> str:
    """12 s, 3 min 5 s: as app.js writes the elapsed time while the card waits."""
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"
