"""Team memberships that follow the identity provider's groups, at each single sign-on login.

An admin maps a group to (team, role) (`GroupMapping`). At each login the person's groups
decide which teams single sign-on gives them and with which role (the highest, when several
groups lead to one team). Memberships single sign-on made (`source=sso`) are added, changed
and removed to match; memberships given by hand (an invitation, an owner, an admin) are left
as they are. A sync never leaves a team without an owner: it keeps the last owner, writes a
warning to the log and an entry in the team's activity feed (which admins read in the admin
under Activities), and goes on.
"""

import logging
from collections.abc import Iterable

from django.db import transaction

from gallery.accounts.models import GroupMapping
from gallery.models import Activity, Membership, Team
from gallery.teams.activity import record

log = logging.getLogger(__name__)
Role = Membership.Role
RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


def granted(groups: Iterable[str]) -> dict[int, str]:
    """{team id: role} the mappings give someone in these groups; the highest role per team."""
    roles: dict[int, str] = {}
    for mapping in GroupMapping.objects.filter(group__in=set(groups), team__personal=False):
        held = roles.get(mapping.team_id)
        if held is None or RANK[Role(mapping.role)] > RANK[Role(held)]:
            roles[mapping.team_id] = mapping.role
    return roles


@transaction.atomic
def sync_memberships(user, groups: Iterable[str]) -> list[str]:
    """Make `user`'s single sign-on memberships match `groups`; what changed, in words.

    The rows of every team touched are locked first (in id order, so two logins never wait on
    each other crosswise), as owners' own role changes lock them: the owner count each step
    reads stays true until the step is written.
    """
    roles = granted(groups)
    mine = {m.team_id: m for m in user.memberships.filter(team__personal=False)}
    teams = sorted(set(roles) | {t for t, m in mine.items() if m.source == Membership.Source.SSO})
    locked = {t.pk: t for t in Team.objects.select_for_update().filter(pk__in=teams).order_by("pk")}
    changes = []
    for team_id in teams:
        team, membership = locked[team_id], mine.get(team_id)
        if membership is None:
            changes.append(_add(team, user, roles[team_id]))
        elif membership.source != Membership.Source.SSO:
            continue  # given by hand: kept as it is
        elif team_id not in roles:
            changes.append(_remove(team, membership))
        elif membership.role != roles[team_id]:
            changes.append(_change(team, membership, roles[team_id]))
    return changes


def _add(team: Team, user, role: str) -> str:
    Membership.objects.create(team=team, user=user, role=role, source=Membership.Source.SSO)
    record(team, user, Activity.Verb.JOINED, f"through single sign-on, as {role}")
    return f"joined {team.name} as {role}"


def _change(team: Team, membership: Membership, role: str) -> str:
    if membership.role == Role.OWNER and _last_owner(team):
        return _kept(team, membership, f"would have become {role}")
    membership.role = role
    membership.save(update_fields=["role"])
    record(team, membership.user, Activity.Verb.SSO, f"now {role}")
    return f"now {role} in {team.name}"


def _remove(team: Team, membership: Membership) -> str:
    if membership.role == Role.OWNER and _last_owner(team):
        return _kept(team, membership, "would have been removed")
    membership.delete()
    record(team, membership.user, Activity.Verb.SSO, "removed: no group gives this team any more")
    return f"left {team.name}"


def _last_owner(team: Team) -> bool:
    return team.memberships.filter(role=Role.OWNER).count() <= 1


def _kept(team: Team, membership: Membership, change: str) -> str:
    """The last owner stays: an admin is told in the log and in the team's feed."""
    said = (
        f"kept as the team's last owner; their groups say they {change}. "
        "Make someone else owner, or fix the group mapping."
    )
    log.warning("single sign-on: %s in team %s (%s) %s", membership.user, team.pk, team, said)
    record(team, membership.user, Activity.Verb.SSO, said)
    return f"kept as the last owner of {team.name}"
