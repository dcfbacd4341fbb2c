"""Recording what happened to a team for its webhooks, inside the transaction that made it happen.

The event and its deliveries commit or roll back with the change they tell of; once it commits,
`deliveries_recorded` is sent with their ids, and jobs (its receiver, connected in
JobsConfig.ready) enqueues them, so nothing here knows of Celery. Should no receiver be
connected, the sweeper still finds them. Nothing is written for a team with no endpoint listening.
"""

from functools import partial

from django.db import IntegrityError, transaction

from gallery.teams.models import Team
from gallery.webhooks.models import Delivery, Endpoint, Event, EventType, deliveries_recorded

# Sent with `delivery_ids` (a list of Delivery pks) after the transaction that made them commits.


def announce(delivery_ids: list[int]) -> None:
    """Send `deliveries_recorded` once the current transaction commits (at once outside one)."""
    send = partial(deliveries_recorded.send, sender=Delivery, delivery_ids=delivery_ids)
    transaction.on_commit(send)


def record(team: Team, type: str, data: dict, *, once_key: str = "") -> Event | None:
    """Tell the team's listening endpoints; with `once_key`, only the first time."""
    return _record(team, type, Endpoint.objects.listening(team, type), data, once_key)


def _record(
    team: Team, type: str, endpoints: list[Endpoint], data: dict, once_key: str = ""
) -> Event | None:
    if not endpoints:
        return None
    try:
        with transaction.atomic():
            event = Event.objects.create(team=team, type=type, data=data, once_key=once_key)
    except IntegrityError:  # told already (once_key)
        return None
    deliveries = Delivery.objects.bulk_create(
        [Delivery(event=event, endpoint=endpoint) for endpoint in endpoints]
    )
    announce([delivery.pk for delivery in deliveries])
    return event


FINISHED = {"succeeded": EventType.GENERATION_SUCCEEDED, "failed": EventType.GENERATION_FAILED}


def generation_finished(generation) -> None:  # a Generation; its module builds on this one
    """generation.succeeded (its pictures, without links: those are signed at each send) or
    generation.failed (the reason); a cancel tells nothing. One query when nobody listens."""
    type = FINISHED.get(generation.status)
    endpoints = Endpoint.objects.listening(generation.team, type) if type else []
    if not type or not endpoints:
        return
    data = {
        "generation": str(generation.uuid),
        "model": generation.model_id,
        "prompt": generation.prompt,
        "author": generation.owner.get_username(),
    }
    if type == EventType.GENERATION_SUCCEEDED:
        pictures = generation.images.filter(deleted_at__isnull=True, copy_of=None).order_by("index")
        data["images"] = [
            {
                "id": str(image.uuid),
                "width": image.width,
                "height": image.height,
                "content_type": image.content_type,
            }
            for image in pictures
        ]
    else:
        data["reason"] = generation.error
    _record(generation.team, type, endpoints, data)


def budget_used(team: Team, kind: str, limit, used, period: str) -> None:
    """After a generation was counted: budget.exceeded once the team's limit is used up,
    budget.near_limit from 80 %; each once per period ("2025-06-01" for a day, "2025-06" …)."""
    ratio = float(used) / float(limit) if limit else 1.0
    if ratio < 0.8:
        return
    type = EventType.BUDGET_EXCEEDED if ratio >= 1 else EventType.BUDGET_NEAR_LIMIT
    data = {
        "team": str(team.uuid),
        "kind": kind,
        "limit": str(limit),
        "used": str(used),
        "period": period,
    }
    record(team, type, data, once_key=f"{type}:{kind}:{period}")
