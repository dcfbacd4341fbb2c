"""Team pages: the list of one's teams (and making one), a team's page, switching, the feed.

Members and roles are in `members.py`, invitations in `invitations.py`, provider keys in
`keys.py`, the forms in `forms.py`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.access import Request, get_team
from gallery.accounts import throttle
from gallery.models import Gallery, Membership, Team
from gallery.teams import encryption
from gallery.teams.forms import InviteForm, KeysForm, TeamForm
from gallery.teams.keys import masked_keys

Role = Membership.Role


@login_required
@require_http_methods(["GET", "POST"])
def team_list(request: Request) -> HttpResponse:
    teams = Team.objects.of(request.user)
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if refused := throttle.refusal(request.user, "team"):
            form.add_error(None, refused)
            context = {"teams": teams, "form": form}
            return TemplateResponse(request, "gallery/teams.html", context, status=429)
        team = _create(form.cleaned_data["name"], request.user)
        request.session["team"] = str(team.uuid)
        messages.success(request, f"Created {team.name}. Invite people from its page.")
        return redirect("gallery:team-detail", team.uuid)
    context = {"teams": teams.prefetch_related("memberships"), "form": form}
    return TemplateResponse(request, "gallery/teams.html", context)


@transaction.atomic
def _create(name: str, owner) -> Team:
    """A new team, owned by the person who made it, with its first gallery."""
    team = Team.objects.create(name=name)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    Gallery.objects.create(team=team, name="Main", created_by=owner)
    return team


@login_required
@require_GET
def team_detail(request: Request, team_uuid) -> TemplateResponse:
    team = get_team(request, team_uuid)
    role = team.role_of(request.user)
    owner = role == Role.OWNER
    open_invitations = team.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True)
    context = {
        "team": team,
        "role": role,
        "members": team.memberships.select_related("user").order_by("created_at"),
        "invitations": open_invitations if owner else [],
        "invite_form": InviteForm(),
        "keys_form": KeysForm(),
        "keys": masked_keys(team) if owner else {},
        "encryption_ready": encryption.configured(),
        "galleries": team.galleries.all(),
        "roles": Role.choices,
        "share_links": team.share_links.select_related("created_by", "gallery")[:100],
    }
    return TemplateResponse(request, "gallery/team_detail.html", context)


@login_required
@require_POST
def switch_team(request: Request) -> HttpResponse:
    team = get_team(request, request.POST.get("team"))
    request.session["team"] = str(team.uuid)
    return redirect("gallery:index")


@login_required
@require_GET
def team_activity(request: Request, team_uuid) -> TemplateResponse:
    team = get_team(request, team_uuid)
    feed = team.activities.select_related("actor", "image")[:100]
    return TemplateResponse(request, "gallery/activity.html", {"team": team, "feed": feed})
