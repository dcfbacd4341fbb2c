"""Invitations: owners make and revoke them; whoever holds the link joins the team with its role.

`invitation_refusal` and `join` also serve sign-up through an invitation (gallery.accounts.views).
"""

import secrets
from datetime import timedelta

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
from django.views.decorators.http import require_http_methods, require_POST

from gallery.access import Request, get_team
from gallery.accounts import throttle
from gallery.models import Activity, Invitation, Membership, Team
from gallery.teams.activity import mail, record
from gallery.teams.forms import InviteForm

AGAIN = "Ask the team's owner for a new one."


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
        token=secrets.token_urlsafe(32),
        email=form.cleaned_data["email"],
        role=form.cleaned_data["role"],
        created_by=request.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
    )
    link = request.build_absolute_uri(reverse("gallery:invitation", args=[invitation.token]))
    _send(invitation, request.user, link)
    record(team, request.user, Activity.Verb.INVITED, invitation.email or "by link")
    messages.success(request, f"Invitation link (valid {settings.INVITATION_DAYS} days): {link}")
    return redirect("gallery:team-detail", team.uuid)


def _send(invitation: Invitation, sender, link: str) -> None:
    """Mail the link to the address the invitation is for, if it is for one."""
    if invitation.email:
        team = invitation.team
        mail(
            f"Join {team.name} on Atelier",
            f"{sender} invited you to {team.name} as {invitation.get_role_display()}.\n"
            f"Open this link within {settings.INVITATION_DAYS} days: {link}",
            invitation.email,
        )


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
    invite = by_token(token)
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


def by_token(token: str) -> Invitation | None:
    """The invitation a link names, whatever its state: the token is its only access check."""
    return Invitation.objects.select_related("team").filter(token=token).first()


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
