"""What owners do with endpoints, from the team page or the API: add, change, rotate, remove."""

from django.db import transaction

from gallery.teams.models import Team
from gallery.webhooks.models import Delivery, Endpoint

# Endpoints one team may have; each event is sent to every one of them.
MOST_PER_TEAM = 10


class TooMany(Exception):
    pass


def add(
    team: Team, user, *, url: str, events: list[str], active: bool = True
) -> tuple[Endpoint, str]:
    """A new endpoint (validated by EndpointForm) and its secret, which is shown this once."""
    with transaction.atomic():
        type(team).objects.select_for_update().filter(pk=team.pk).first()
        if team.webhook_endpoints.count() >= MOST_PER_TEAM:
            raise TooMany(f"A team can have at most {MOST_PER_TEAM} webhook endpoints.")
        endpoint = Endpoint(team=team, url=url, events=events, active=active, created_by=user)
        secret = endpoint.set_new_secret()
        endpoint.save()
    return endpoint, secret


def change(endpoint: Endpoint, *, url: str, events: list[str], active: bool) -> None:
    endpoint.url, endpoint.events, endpoint.active = url, events, active
    endpoint.save(update_fields=["url", "events", "active"])


def log(endpoint: Endpoint, limit: int = 50) -> list[Delivery]:
    """Its latest deliveries with their attempts, newest first, for the owners' log."""
    return list(endpoint.deliveries.select_related("event").prefetch_related("log")[:limit])
