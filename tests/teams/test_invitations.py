"""Invitations: owners make and revoke them, limits on them, and joining a team with one."""

import pytest
from django.test import Client
from django.utils import timezone

from gallery.models import Activity, Invitation, Membership, Team
from gallery.teams import invitations
from tests.factories import logged_in, make_invitation


def invite(client, team, **data):
    client.post(f"/teams/{team.uuid}/invitations", {"role": "editor", **data})
    return Invitation.objects.latest("created_at")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def joined(client: Client, invite: Invitation):
    return client.post(f"/invitations/{invite.token}")


def test_an_invitation_link_lets_someone_join_with_its_role(
    client, studio, alice, dave, mailoutbox
):
    invitation = invite(logged_in(client, alice), studio, role="viewer", email="dave@example.com")
    assert invitation.expires_at > timezone.now()
    assert len(mailoutbox) == 1 and invitation.token in mailoutbox[0].body
    logged_in(client, dave)
    assert "Join Studio" in client.get(f"/invitations/{invitation.token}").content.decode()
    client.post(f"/invitations/{invitation.token}")
    assert studio.role_of(dave) == "viewer"
    assert Activity.objects.filter(team=studio, verb="joined", actor=dave).exists()
    # Used once: it does not work again.
    assert client.get(f"/invitations/{invitation.token}").status_code == 410


def test_invitations_are_limited_per_person(client, studio, alice, settings, mailoutbox):
    """Anyone can make a team and mail invitations with its name in them to any address."""
    settings.ACTION_RATES = {**settings.ACTION_RATES, "invite": (2, 3600)}
    logged_in(client, alice)
    for i in range(2):
        invite(client, studio, email=f"p{i}@example.com")
    data = {"role": "editor", "email": "p9@example.com"}
    refused = client.post(f"/teams/{studio.uuid}/invitations", data, follow=True)
    assert any("more than 2 invitations in an hour" in m for m in messages_of(refused))
    assert studio.invitations.count() == 2 and len(mailoutbox) == 2


def test_invitations_are_limited_per_team(client, studio, alice, bob, settings, mailoutbox):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "team_invite": (2, 86400)}
    Membership.objects.filter(team=studio, user=bob).update(role="owner")
    invite(logged_in(client, alice), studio, email="p1@example.com")
    invite(logged_in(client, bob), studio, email="p2@example.com")
    refused = client.post(f"/teams/{studio.uuid}/invitations", {"role": "editor"}, follow=True)
    assert any("more than 2 invitations for this team in" in m for m in messages_of(refused))
    assert studio.invitations.count() == 2 and len(mailoutbox) == 2


def test_a_team_has_at_most_so_many_emailed_invitations_open(
    client, studio, alice, settings, mailoutbox
):
    settings.OPEN_EMAILED_INVITATIONS = 2
    logged_in(client, alice)
    first = invite(client, studio, email="p1@example.com")
    invite(client, studio, email="p2@example.com")
    data = {"role": "editor", "email": "p3@example.com"}
    refused = client.post(f"/teams/{studio.uuid}/invitations", data, follow=True)
    assert any("2 emailed invitations waiting" in m for m in messages_of(refused))
    assert len(mailoutbox) == 2
    assert invite(client, studio).email == ""  # a link, mailed to no one, is still made
    client.post(f"/teams/{studio.uuid}/invitations/{first.pk}/revoke")
    assert invite(client, studio, email="p3@example.com").email == "p3@example.com"
    assert len(mailoutbox) == 3


def test_an_invitation_mail_names_a_team_with_a_line_break_on_one_line(
    client, studio, alice, mailoutbox
):
    """A team named before names were checked: the mail's subject raised ValueError (a 500),
    with the invitation already saved."""
    Team.objects.filter(pk=studio.pk).update(name="Studio\r\nBcc: everyone@example.com")
    invitation = invite(logged_in(client, alice), studio, email="dave@example.com")
    assert invitation.email == "dave@example.com"
    [mail] = mailoutbox
    assert mail.subject == "Join Studio Bcc: everyone@example.com on Atelier"
    assert mail.to == ["dave@example.com"] and not mail.bcc


def test_an_expired_invitation_does_not_work(client, studio, alice, dave):
    invitation = invite(logged_in(client, alice), studio)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    logged_in(client, dave)
    assert client.post(f"/invitations/{invitation.token}").status_code == 410
    assert studio.role_of(dave) is None


def test_a_revoked_invitation_does_not_work(client, studio, alice, dave):
    invitation = invite(logged_in(client, alice), studio)
    client.post(f"/teams/{studio.uuid}/invitations/{invitation.pk}/revoke")
    logged_in(client, dave)
    assert client.get(f"/invitations/{invitation.token}").status_code == 410
    assert client.post(f"/invitations/{invitation.token}").status_code == 410
    assert studio.role_of(dave) is None


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"revoked_at": timezone.now()}, "was revoked"),
        ({"expires_at": timezone.now() - timezone.timedelta(seconds=1)}, "expired on"),
    ],
)
def test_accepting_checks_revoked_and_expired_in_its_compare_and_set(studio, dave, change, reason):
    """The page read the invitation while it still worked; the owner revoked it (or it expired)
    before the click landed. The claim itself must see that, not only the earlier read."""
    invite = Invitation.objects.select_related("team").get(pk=make_invitation(studio).pk)
    Invitation.objects.filter(pk=invite.pk).update(**change)
    invite.__dict__.update(revoked_at=None, expires_at=timezone.now() + timezone.timedelta(days=1))
    refusal, status = invitations.join(invite, dave)
    assert status == 410 and reason in refusal
    assert studio.role_of(dave) is None
    assert Invitation.objects.get(pk=invite.pk).accepted_at is None


def test_an_emailed_invitation_is_only_for_the_account_with_that_address(client, studio, dave):
    invite = make_invitation(studio, email="erin@example.com")
    client.force_login(dave)  # dave@example.com, holding a forwarded link
    page = client.get(f"/invitations/{invite.token}")
    assert page.status_code == 403
    assert "sent to e…@example.com, which is not your account" in page.content.decode()
    assert joined(client, invite).status_code == 403
    assert studio.role_of(dave) is None
    dave.email = "ERIN@example.com"
    dave.save()
    assert joined(client, invite).status_code == 302
    assert studio.role_of(dave) == "editor"


def test_a_link_invitation_works_for_whoever_holds_it(client, studio, dave):
    invite = make_invitation(studio)
    client.force_login(dave)
    assert joined(client, invite).status_code == 302
    assert studio.role_of(dave) == "editor"
    assert Activity.objects.filter(team=studio, verb="joined", actor=dave).exists()
    again = joined(client, invite)
    assert again.status_code == 410 and "was already used" in again.content.decode()


def test_someone_without_an_account_is_offered_to_log_in_or_sign_up(client, studio):
    invite = make_invitation(studio)
    page = client.get(f"/invitations/{invite.token}").content.decode()
    assert "Join Studio" in page
    assert f"/signup/?invitation={invite.token}" in page
    assert "/login/?next=/invitations/tok-1" in page
    assert joined(client, invite)["Location"].startswith("/login/")
    assert Invitation.objects.get(pk=invite.pk).accepted_at is None


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"revoked_at": timezone.now()}, "was revoked"),
        ({"expires_at": timezone.now() - timezone.timedelta(seconds=1)}, "expired on"),
    ],
)
def test_each_refusal_says_why(client, studio, dave, change, reason):
    invite = make_invitation(studio)
    Invitation.objects.filter(pk=invite.pk).update(**change)
    client.force_login(dave)
    response = client.get(f"/invitations/{invite.token}")
    assert response.status_code == 410 and reason in response.content.decode()
    missing = client.get("/invitations/no-such-token")
    assert missing.status_code == 410 and "not valid" in missing.content.decode()
