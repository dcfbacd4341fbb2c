"""One access helper per object type. Every view opens with one of these.

404 for what a person cannot see (missing and forbidden look the same), 403 for what they can
see but not change.
"""

import uuid
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django_htmx.middleware import HtmxDetails

from gallery.models import Gallery, Generation, Image, Membership, Team, personal_team

EDIT_ROLES = (Membership.Role.OWNER, Membership.Role.EDITOR)


class Request(HttpRequest):
    """What views receive: htmx details from the middleware, and a logged-in user."""

    htmx: HtmxDetails
    user: User


def _require(user: Any, team: Team, roles: tuple[str, ...]) -> None:
    if team.role_of(user) not in roles:
        raise PermissionDenied


def _uuid(value: Any) -> Any:
    """A malformed id is as missing as an unknown one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def get_team(request: HttpRequest, team_uuid: Any, *, manage: bool = False) -> Team:
    team = get_object_or_404(Team.objects.of(request.user), uuid=_uuid(team_uuid))
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
        uuid=_uuid(gallery_uuid),
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


def current_team(request: HttpRequest) -> Team:
    """The team the person is working in: chosen with the switcher, else their own space."""
    chosen = request.session.get("team")
    if chosen:
        team = Team.objects.of(request.user).filter(uuid=chosen).first()
        if team is not None:
            return team
    return personal_team(request.user)


def can_edit(user: Any, team: Team) -> bool:
    return team.role_of(user) in EDIT_ROLES
