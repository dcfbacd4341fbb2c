from django.http import HttpRequest

from gallery.access import current_team
from gallery.models import Team


def workspace(request: HttpRequest) -> dict:
    """The team switcher and the unread-notification count, on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_team": current_team(request),
        "my_teams": Team.objects.of(user),
        "unread_count": user.notifications.filter(read_at__isnull=True).count(),
    }
