from django.http import HttpRequest

from gallery.access import current_team
from gallery.models import Preferences, Team


def workspace(request: HttpRequest) -> dict:
    """The team switcher, the unread-notification count and the theme, on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_team": current_team(request),
        "my_teams": Team.objects.of(user),
        "unread_count": user.notifications.filter(read_at__isnull=True).count(),
        "theme": Preferences.theme_of(user),
        "themes": Preferences.Theme.choices,
    }
