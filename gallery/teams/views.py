"""Team views: create, switch, members and roles, invitations, the activity feed, team keys."""

import secrets as tokens
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.access import Request, get_team
from gallery.accounts import throttle
from gallery.models import Activity, Gallery, Invitation, Membership, Team, one_line
from gallery.teams import encryption as secrets
from gallery.teams.activity import mail, record
from gallery.teams.models import KEYED_PROVIDERS

Role = Membership.Role
AGAIN = "Ask the team's owner for a new one."


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=100, validators=[one_line])


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email (optional)", required=False)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.EDITOR)


class KeysForm(forms.Form):
    aimlapi_key = forms.CharField(label="AI/ML API key", required=False, max_length=500)
    relay_key = forms.CharField(label="Relay key", required=False, max_length=500)
    clear = forms.MultipleChoiceField(
        label="Remove",
        required=False,
        choices=[("aimlapi_key", "AI/ML API key"), ("relay_key", "Relay key")],
        widget=forms.CheckboxSelectMultiple,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_list(request: Request) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if refused := throttle.refusal(request.user, "team"):
            form.add_error(None, refused)
            context = {"teams": Team.objects.of(request.user), "form": form}
            return TemplateResponse(request, "gallery/teams.html", context, status=429)
        with transaction.atomic():
            team = Team.objects.create(name=form.cleaned_data["name"])
            Membership.objects.create(team=team, user=request.user, role=Role.OWNER)
            Gallery.objects.create(team=team, name="Main", created_by=request.user)
        request.session["team"] = str(team.uuid)
        messages.success(request, f"Created {team.name}. Invite people from its page.")
        return redirect("gallery:team-detail", team.uuid)
    teams = Team.objects.of(request.user).prefetch_related("memberships")
    return TemplateResponse(request, "gallery/teams.html", {"teams": teams, "form": form})


@login_required
@require_GET
def team_detail(request: Request, team_uuid) -> TemplateResponse:
    team = get_team(request, team_uuid)
    role = team.role_of(request.user)
    context = {
        "team": team,
        "role": role,
        "members": team.memberships.select_related("user").order_by("created_at"),
        "invitations": team.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        if role == Role.OWNER
        else [],
        "invite_form": InviteForm(),
        "keys_form": KeysForm(),
        "keys": _masked_keys(team) if role == Role.OWNER else {},
        "encryption_ready": secrets.configured(),
        "galleries": team.galleries.all(),
        "roles": Role.choices,
        "share_links": team.share_links.select_related("created_by", "gallery")[:100],
    }
    return TemplateResponse(request, "gallery/team_detail.html", context)


def _masked_keys(team: Team) -> dict[str, str]:
    masked = {}
    for name in ("aimlapi_key", "relay_key"):
        if stored := getattr(team, name):
            try:
                masked[name] = secrets.mask(secrets.decrypt(stored))
            except (secrets.SecretError, Exception):
                masked[name] = "stored (cannot be read with the current FIELD_ENCRYPTION_KEY)"
    return masked


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
            membership.save(update_fields=["role"])
            summary = f"{membership.user} is now {membership.get_role_display().lower()}"
            record(team, request.user, Activity.Verb.ROLE, summary)
    if refusal:
        messages.error(request, refusal)
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


@login_required
@require_POST
def remove_member(request: Request, team_uuid, membership_id: int) -> HttpResponse:
    """Owners remove anyone; anyone may leave. The last owner cannot go."""
    team = get_team(request, team_uuid)
    membership = get_object_or_404(team.memberships, pk=membership_id)
    if membership.user != request.user and team.role_of(request.user) != Role.OWNER:
        raise PermissionDenied
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


@login_required
@require_POST
def create_invitation(request: Request, team_uuid) -> HttpResponse:
    team = get_team(request, team_uuid, manage=True)
    if team.personal:
        raise PermissionDenied
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the email address and role.")
        return redirect("gallery:team-detail", team.uuid)
    if refused := _too_many_invitations(request.user, team, form.cleaned_data["email"]):
        messages.error(request, f"Not invited: {refused}")
        return redirect("gallery:team-detail", team.uuid)
    invitation = Invitation.objects.create(
        team=team,
        token=tokens.token_urlsafe(32),
        email=form.cleaned_data["email"],
        role=form.cleaned_data["role"],
        created_by=request.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
    )
    link = request.build_absolute_uri(reverse("gallery:invitation", args=[invitation.token]))
    if invitation.email:
        mail(
            f"Join {team.name} on Atelier",
            f"{request.user} invited you to {team.name} as {invitation.get_role_display()}.\n"
            f"Open this link within {settings.INVITATION_DAYS} days: {link}",
            invitation.email,
        )
    record(team, request.user, Activity.Verb.INVITED, invitation.email or "by link")
    messages.success(request, f"Invitation link (valid {settings.INVITATION_DAYS} days): {link}")
    return redirect("gallery:team-detail", team.uuid)


def _too_many_invitations(user, team: Team, email: str) -> str | None:
    """Why no more invitations now: each may mail the team's name (words its owner chose) to any
    address through the site's mail server, so they are limited per person and per team, and a
    team has only so many emailed ones waiting for an answer at once."""
    if email:
        waiting = team.invitations.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).exclude(email="")
        if (most := settings.OPEN_EMAILED_INVITATIONS) <= waiting.count():
            return (
                f"The team already has {most} emailed invitations waiting for an answer. "
                "Revoke some, or send a link instead."
            )
    return throttle.refusal(user, "invite") or throttle.refusal(team, "team_invite")


@login_required
@require_POST
def revoke_invitation(request: Request, team_uuid, invitation_id: int) -> HttpResponse:
    team = get_team(request, team_uuid, manage=True)
    invitation = get_object_or_404(team.invitations, pk=invitation_id)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    messages.success(request, "The invitation no longer works.")
    return redirect("gallery:team-detail", team.uuid)


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Whoever holds the link sees which team invites them; a logged-in person joins in one click.

    Someone without an account is offered to log in or to sign up through the invitation,
    which works even while sign-up is closed.
    """
    invite = Invitation.objects.select_related("team").filter(token=token).first()
    user = request.user if request.user.is_authenticated else None
    refusal, status = invitation_refusal(invite, user)
    if invite is not None and refusal is None and request.method == "POST":
        if user is None:
            return redirect_to_login(request.get_full_path())
        refusal, status = join(invite, user)
        if refusal is None:
            request.session["team"] = str(invite.team.uuid)
            messages.success(request, f"You joined {invite.team.name}.")
            return redirect("gallery:index")
    context = {"invite": invite, "refusal": refusal}
    return TemplateResponse(request, "gallery/invitation.html", context, status=status)


def invitation_refusal(invite: Invitation | None, user=None) -> tuple[str | None, int]:
    """Why this invitation cannot be accepted (by `user`, if given), and the status to answer."""
    if invite is None:
        return "This invitation link is not valid. Check that you copied all of it.", 410
    if invite.revoked_at is not None:
        return f"This invitation was revoked. {AGAIN}", 410
    if invite.accepted_at is not None:
        return f"This invitation was already used. {AGAIN}", 410
    if invite.expires_at <= timezone.now():
        return f"This invitation expired on {invite.expires_at:%Y-%m-%d %H:%M} UTC. {AGAIN}", 410
    if user is not None and invite.email and invite.email.lower() != user.email.lower():
        return (
            f"This invitation was sent to {mask_email(invite.email)}, which is not your "
            "account's email address. Log in with the account that has it, or ask the team's "
            "owner to invite the address of this account."
        ), 403
    return None, 200


def join(invite: Invitation, user) -> tuple[str | None, int]:
    """Accept the invitation for `user`: (None, 200) when they joined, else why not.

    The compare-and-set claims it only while it is still unused, unrevoked and unexpired, so an
    owner's revoke, its expiry or another acceptance that lands after the page was read wins.
    """
    refusal = invitation_refusal(invite, user)
    if refusal[0] is not None:
        return refusal
    now = timezone.now()
    with transaction.atomic():
        won = Invitation.objects.filter(
            pk=invite.pk,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).update(accepted_at=now, accepted_by=user)
        if not won:  # someone else changed it since it was read: say what
            invite.refresh_from_db()
            refusal = invitation_refusal(invite, user)
            return refusal if refusal[0] else ("This invitation was just used. " + AGAIN, 410)
        Membership.objects.get_or_create(
            team=invite.team, user=user, defaults={"role": invite.role}
        )
        record(invite.team, user, Activity.Verb.JOINED, str(user))
    return None, 200


def mask_email(email: str) -> str:
    """Enough of an address for its owner to recognise it: e…@example.com."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}…@{domain}"


@login_required
@require_POST
def team_keys(request: Request, team_uuid) -> HttpResponse:
    """Owners set the team's own provider keys; stored encrypted, never shown whole again."""
    team = get_team(request, team_uuid, manage=True)
    form = KeysForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Those keys could not be saved.")
        return redirect("gallery:team-detail", team.uuid)
    if not secrets.configured():
        messages.error(request, "Set FIELD_ENCRYPTION_KEY on the server to store team keys.")
        return redirect("gallery:team-detail", team.uuid)
    for provider in KEYED_PROVIDERS:
        if f"{provider}_key" in form.cleaned_data["clear"]:
            team.set_provider_key(provider, "")
        elif value := form.cleaned_data[f"{provider}_key"].strip():
            team.set_provider_key(provider, value)
    team.save(update_fields=["aimlapi_key", "relay_key"])
    messages.success(request, "Team keys saved.")
    return redirect("gallery:team-detail", team.uuid)
