"""One access helper per object type. Every view opens with one of these.

404 for what a person cannot see (missing and forbidden look the same), 403 for what they can
see but not change.
"""

import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from gallery.models import (
    ApiToken,
    Gallery,
    Generation,
    Image,
    Membership,
    Team,
    card_images,
    personal_team,
)

EDIT_ROLES = (Membership.Role.OWNER, Membership.Role.EDITOR)


class Request(HttpRequest):
    """What views receive: htmx details from the middleware, and a logged-in user."""

    htmx: HtmxDetails
    user: User


def _require(user: Any, team: Team, roles: tuple[str, ...]) -> None:
    if team.role_of(user) not in roles:
        raise PermissionDenied


def as_uuid(value: Any) -> uuid.UUID | None:
    """The UUID a text (from a URL, a form or stored parameters) names; None when malformed."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def uuid_or_404(value: Any) -> uuid.UUID:
    """A malformed id is as missing as an unknown one."""
    if (found := as_uuid(value)) is None:
        raise Http404
    return found


def get_team(request: HttpRequest, team_uuid: Any, *, manage: bool = False) -> Team:
    team = get_object_or_404(Team.objects.of(request.user), uuid=uuid_or_404(team_uuid))
    if manage:
        _require(request.user, team, (Membership.Role.OWNER,))
    return team


def get_membership(request: HttpRequest, team_uuid: Any, membership_id: int) -> Membership:
    """A membership of one of the person's teams: their own, or anyone's if they own the team."""
    team = get_team(request, team_uuid)
    membership = get_object_or_404(team.memberships, pk=membership_id)
    if membership.user != request.user:
        _require(request.user, team, (Membership.Role.OWNER,))
    return membership


def get_gallery(request: HttpRequest, gallery_uuid: Any, *, edit: bool = False) -> Gallery:
    gallery = get_object_or_404(
        Gallery.objects.visible_to(request.user).select_related("team").distinct(),
        uuid=uuid_or_404(gallery_uuid),
    )
    if edit:
        _require(request.user, gallery.team, EDIT_ROLES)
    return gallery


def get_generation(request: HttpRequest, generation_uuid: Any, *, edit: bool = False) -> Generation:
    generation = get_object_or_404(
        Generation.objects.visible_to(request.user).distinct(), uuid=generation_uuid
    )
    if edit:
        _require(request.user, generation.team, EDIT_ROLES)
    return generation


def get_image(request: HttpRequest, image_uuid: Any, *, edit: bool = False) -> Image:
    image = get_object_or_404(
        Image.objects.visible_to(request.user)
        .select_related("generation", "gallery__team", "generation__owner")
        .distinct(),
        uuid=image_uuid,
    )
    if edit:
        _require(request.user, image.gallery.team, EDIT_ROLES)
    return image


def get_deleted_image(request: Request, image_uuid: Any, *, minutes: int) -> Image:
    """An image deleted in the last `minutes` (still restorable), for an editor of its team."""
    since = timezone.now() - timedelta(minutes=minutes)
    image = get_object_or_404(
        Image.objects.filter(
            team__memberships__user=request.user, deleted_at__gte=since, hidden_at__isnull=True
        ).distinct(),
        uuid=image_uuid,
    )
    _require(request.user, image.team, EDIT_ROLES)
    return image


def get_batch(request: HttpRequest, batch: Any) -> list[Generation]:
    """The generations of one try-models batch that the person can see; 404 when none."""
    generations = list(
        Generation.objects.visible_to(request.user)
        .filter(batch=uuid_or_404(batch))
        .select_related("owner")
        .prefetch_related(card_images())
        .order_by("model_id")
        .distinct()
    )
    if not generations:
        raise Http404
    return generations


def get_api_token(request: HttpRequest, token_uuid: Any) -> ApiToken:
    """One of the person's own API tokens; anyone else's is not found."""
    return get_object_or_404(ApiToken.objects.of(request.user), uuid=uuid_or_404(token_uuid))


def current_team(request: HttpRequest, *, edit: bool = False) -> Team:
    """The team the person is working in: chosen with the switcher, else their own space.

    With `edit`, 403 unless they may add to it (a viewer may look, not make). Looked up once
    per request (the view and the page's team switcher both ask), again if the choice changes."""
    chosen = request.session.get("team")
    asked = (request.user.pk, chosen)
    known = getattr(request, "_current_team", None)
    if known and known[0] == asked:
        team = known[1]
    else:
        team = Team.objects.of(request.user).filter(uuid=chosen).first() if chosen else None
        team = team or personal_team(request.user)
        request._current_team = (asked, team)  # type: ignore[attr-defined]
    if edit:
        _require(request.user, team, EDIT_ROLES)
    return team


def can_edit(user: Any, team: Team) -> bool:
    return team.role_of(user) in EDIT_ROLES
