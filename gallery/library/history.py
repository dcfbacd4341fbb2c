"""A person's prompt history: the prompts of their own generations, newest first, each once.

Generations already keep every prompt server-side, with its model and options, so the history
is a query, not a second copy to keep in step. "Use again" opens the composer with the newest
generation of a prompt (the existing `?use=` of "Use these settings").
"""

from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from gallery.models import Generation

PAGE = 50


def prompts(user: Any, query: str = "", *, page: int = PAGE) -> QuerySet:
    """Rows of prompt, model_id, last (when last used), times and uuid (the newest generation
    with it): the person's own, in teams they are still in, matching `query` if given."""
    mine = Generation.objects.filter(owner=user, team__memberships__user=user).exclude(prompt="")
    for word in query.split()[:8]:
        mine = mine.filter(Q(prompt__icontains=word) | Q(model_id__icontains=word))
    newest = mine.filter(prompt=OuterRef("prompt")).order_by("-created_at", "-id")
    return (
        mine.values("prompt")
        .annotate(
            last=Max("created_at"),
            times=Count("id"),
            uuid=Subquery(newest.values("uuid")[:1]),
            model_id=Subquery(newest.values("model_id")[:1]),
        )
        .order_by("-last")[:page]
    )
