"""The gallery tab's one poll: has its team changed since the version the tab holds?

Answered from a signed token and the cache alone (webapp/live.py): it reads neither the
session nor the user, so an idle tab costs no database query. When the answer is "changed",
the tab fetches what changed through `views.new_cards`, which checks access as every view does.
"""

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from gallery.models import Team
from webapp import live

TOKEN_HEADER = "X-Live-Token"  # noqa: S105 - the header's name, not a secret
CHANGED_EVENT = "live-changed"


def watch(user, team: Team) -> dict:
    """What a page needs to watch the team: read the version before the page reads the rows,
    so a change made meanwhile shows at the next poll."""
    return {
        "live_team": team.uuid,
        "live_version": live.version(team.pk),
        "live_token": live.token_for(user.pk, team.pk),
        "live_every_ms": round(settings.LIVE_POLL_INTERVAL * 1000),
    }


@never_cache
@transaction.non_atomic_requests
@require_GET
def poll(request: HttpRequest) -> HttpResponse:
    """204 while the team's version is the one the tab holds; 200 with the htmx event that
    makes the tab fetch the changes otherwise, or when its token has expired (the changes
    bring a fresh one); 403 for a token that is not ours."""
    try:
        grant = live.read_token(request.headers.get(TOKEN_HEADER, ""))
    except live.Expired:
        return _changed()
    if grant is None:
        return HttpResponseForbidden("This page's live updates are not valid: reload the page.")
    if request.GET.get("v") == str(live.version(grant.team_id)):
        return HttpResponse(status=204)
    return _changed()


def _changed() -> HttpResponse:
    return HttpResponse(headers={"HX-Trigger": CHANGED_EVENT})
