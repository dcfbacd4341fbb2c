"""Owners change members' roles and remove them; anyone may leave. A team keeps an owner."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from gallery.access import Request, get_membership, get_team
from gallery.models import Activity, Membership, Team
from gallery.teams.activity import record

Role = Membership.Role


@login_required
@require_POST
def change_role(request: Request, team_uuid, membership_id: int) -> HttpResponse:
    team = get_team(request, team_uuid, manage=True)
    role = request.POST.get("role", "")
    if role not in Role.values:
        messages.error(request, "Choose owner, editor or viewer.")
        return redirect("gallery:team-detail", team.uuid)
    with transaction.atomic():
        membership, refusal = _locked(team, membership_id, request.user, owner=True)
        if refusal is None and membership.role == Role.OWNER and role != Role.OWNER:
            refusal = _last_owner(team)
        if refusal is None:
            membership.role = role
            membership.source = Membership.Source.MANUAL  # a role given by hand: SSO keeps it
            membership.save(update_fields=["role", "source"])
            summary = f"{membership.user} is now {membership.get_role_display().lower()}"
            record(team, request.user, Activity.Verb.ROLE, summary)
    if refusal:
        messages.error(request, refusal)
    return redirect("gallery:team-detail", team.uuid)


@login_required
@require_POST
def remove_member(request: Request, team_uuid, membership_id: int) -> HttpResponse:
    """Owners remove anyone; anyone may leave. The last owner cannot go."""
    team = get_membership(request, team_uuid, membership_id).team
    if team.personal:
        messages.error(request, "Your personal space cannot be left.")
        return redirect("gallery:team-detail", team.uuid)
    with transaction.atomic():
        membership, refusal = _locked(team, membership_id, request.user, owner=False)
        if refusal is None and membership.role == Role.OWNER:
            refusal = _last_owner(team)
        if refusal is None:
            membership.delete()
            record(team, request.user, Activity.Verb.REMOVED, f"{membership.user} left the team")
    if refusal:
        messages.error(request, refusal)
        return redirect("gallery:team-detail", team.uuid)
    if membership.user == request.user:
        request.session.pop("team", None)
        return redirect("gallery:team-list")
    return redirect("gallery:team-detail", team.uuid)


def _locked(team: Team, membership_id: int, actor, *, owner: bool) -> tuple[Membership, str | None]:
    """Lock the team's row, then read the membership and the actor's role afresh.

    Role changes and removals of one team queue up here, so each sees the owners the one
    before it left: two owners demoting each other at once cannot leave the team with none.
    Returns the membership, and why the actor may no longer change it (None if they may).
    """
    Team.objects.select_for_update().filter(pk=team.pk).first()
    membership = get_object_or_404(team.memberships.select_related("user"), pk=membership_id)
    allowed = team.role_of(actor) == Role.OWNER or (not owner and membership.user == actor)
    if not allowed:
        return membership, "Only an owner of the team can do that, and you are not one any more."
    return membership, None


def _last_owner(team: Team) -> str | None:
    """Why the team's owner cannot step down or go: it would be left with none (call locked)."""
    if team.memberships.filter(role=Role.OWNER).count() <= 1:
        return "A team needs at least one owner; make someone else owner first."
    return None
