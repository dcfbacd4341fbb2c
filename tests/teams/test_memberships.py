"""Joining a team by invitation, and owners changing roles at the same moment."""

import contextlib
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from gallery.models import Activity, Invitation, Membership
from gallery.teams import views as teams

Role = Membership.Role


def invitation(team, **fields) -> Invitation:
    fields.setdefault("expires_at", timezone.now() + timezone.timedelta(days=7))
    fields.setdefault("role", Role.EDITOR)
    return Invitation.objects.create(team=team, token="tok-1", **fields)


def joined(client: Client, invite: Invitation):
    return client.post(f"/invitations/{invite.token}")


# --- Invitations ------------------------------------------------------------------------------


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
    invite = Invitation.objects.select_related("team").get(pk=invitation(studio).pk)
    Invitation.objects.filter(pk=invite.pk).update(**change)
    invite.__dict__.update(revoked_at=None, expires_at=timezone.now() + timezone.timedelta(days=1))
    refusal, status = teams.join(invite, dave)
    assert status == 410 and reason in refusal
    assert studio.role_of(dave) is None
    assert Invitation.objects.get(pk=invite.pk).accepted_at is None


def test_an_emailed_invitation_is_only_for_the_account_with_that_address(client, studio, dave):
    invite = invitation(studio, email="erin@example.com")
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
    invite = invitation(studio)
    client.force_login(dave)
    assert joined(client, invite).status_code == 302
    assert studio.role_of(dave) == "editor"
    assert Activity.objects.filter(team=studio, verb="joined", actor=dave).exists()
    again = joined(client, invite)
    assert again.status_code == 410 and "was already used" in again.content.decode()


def test_someone_without_an_account_is_offered_to_log_in_or_sign_up(client, studio):
    invite = invitation(studio)
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
    invite = invitation(studio)
    Invitation.objects.filter(pk=invite.pk).update(**change)
    client.force_login(dave)
    response = client.get(f"/invitations/{invite.token}")
    assert response.status_code == 410 and reason in response.content.decode()
    missing = client.get("/invitations/no-such-token")
    assert missing.status_code == 410 and "not valid" in missing.content.decode()


# --- Two owners at once -----------------------------------------------------------------------


def meet_in_the_check(monkeypatch) -> None:
    """Make both requests reach the "last owner?" check before either writes, if they can.

    Each waits up to a second for the other there: without a lock both arrive and both pass;
    with the team's row locked, the second is still waiting for the lock, so the first goes on.
    """
    barrier = threading.Barrier(2)
    check = teams._last_owner

    def meeting(team):
        found = check(team)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)
        return found

    monkeypatch.setattr(teams, "_last_owner", meeting)


def at_once(*requests) -> None:
    def run(client, path, data):
        try:
            client.post(path, data)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=r) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


@pytest.fixture
def two_owners(transactional_db, studio, alice, bob):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks between connections (PostgreSQL); SQLite runs one writer")
    Membership.objects.filter(team=studio, user=bob).update(role=Role.OWNER)
    clients = {}
    for user in (alice, bob):
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    memberships = {m.user.username: m.pk for m in studio.memberships.select_related("user")}
    return clients, memberships


def test_two_owners_demoting_each_other_at_once_leave_one_owner(studio, two_owners, monkeypatch):
    clients, ids = two_owners
    meet_in_the_check(monkeypatch)
    url = f"/teams/{studio.uuid}/members/{{}}/role"
    at_once(
        (clients["alice"], url.format(ids["bob"]), {"role": "editor"}),
        (clients["bob"], url.format(ids["alice"]), {"role": "editor"}),
    )
    owners = list(studio.memberships.filter(role=Role.OWNER).values_list("user__username"))
    assert len(owners) == 1


def test_two_owners_removing_each_other_at_once_leave_one_owner(studio, two_owners, monkeypatch):
    clients, ids = two_owners
    meet_in_the_check(monkeypatch)
    url = f"/teams/{studio.uuid}/members/{{}}/remove"
    at_once(
        (clients["alice"], url.format(ids["bob"]), {}),
        (clients["bob"], url.format(ids["alice"]), {}),
    )
    assert studio.memberships.filter(role=Role.OWNER).count() == 1


def test_under_the_lock_the_actor_is_checked_again(studio, alice, bob):
    """The view's access check ran before the lock; an owner demoted while their request
    waited for it is an owner no more once it has it."""
    carol = studio.memberships.get(user__username="carol")
    Membership.objects.filter(team=studio, user=bob).update(role=Role.EDITOR)
    _membership, refusal = teams._locked(studio, carol.pk, bob, owner=True)
    assert refusal == "Only an owner of the team can do that, and you are not one any more."
    assert teams._locked(studio, carol.pk, alice, owner=True)[1] is None
    own = studio.memberships.get(user=bob)
    assert teams._locked(studio, own.pk, bob, owner=False)[1] is None  # anyone may leave
