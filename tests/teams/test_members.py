"""Members: roles that take effect at once, removal, and a team that always keeps an owner."""

import contextlib
import threading

import pytest
from django.db import connection
from django.test import Client

from gallery.models import Membership
from gallery.teams import members
from tests.factories import logged_in, make_generation, make_image

Role = Membership.Role


def test_a_role_change_takes_effect_at_once(client, studio, alice, bob):
    bob_membership = Membership.objects.get(team=studio, user=bob)
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    bob_client = logged_in(Client(), bob, studio)
    assert bob_client.post(f"/images/{image.uuid}/comment", {"body": "hi"}).status_code == 302
    logged_in(client, alice).post(
        f"/teams/{studio.uuid}/members/{bob_membership.pk}/role", {"role": "viewer"}
    )
    assert bob_client.post(f"/images/{image.uuid}/comment", {"body": "hi"}).status_code == 403
    assert bob_client.post("/generate", {}).status_code == 403


def test_a_removed_member_sees_nothing_at_once(client, studio, alice, bob):
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    bob_client = logged_in(Client(), bob, studio)
    assert bob_client.get(f"/images/{image.uuid}").status_code == 200
    membership = Membership.objects.get(team=studio, user=bob)
    logged_in(client, alice).post(f"/teams/{studio.uuid}/members/{membership.pk}/remove")
    assert bob_client.get(f"/images/{image.uuid}").status_code == 404
    assert bob_client.get(f"/images/{image.uuid}/thumbnail").status_code == 404


def test_the_last_owner_cannot_step_down_or_leave(client, studio, alice):
    membership = Membership.objects.get(team=studio, user=alice)
    logged_in(client, alice)
    client.post(f"/teams/{studio.uuid}/members/{membership.pk}/role", {"role": "editor"})
    client.post(f"/teams/{studio.uuid}/members/{membership.pk}/remove")
    assert studio.role_of(alice) == "owner"


def meet_in_the_check(monkeypatch) -> None:
    """Make both requests reach the "last owner?" check before either writes, if they can.

    Each waits up to a second for the other there: without a lock both arrive and both pass;
    with the team's row locked, the second is still waiting for the lock, so the first goes on.
    """
    barrier = threading.Barrier(2)
    check = members._last_owner

    def meeting(team):
        found = check(team)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)
        return found

    monkeypatch.setattr(members, "_last_owner", meeting)


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
    _membership, refusal = members._locked(studio, carol.pk, bob, owner=True)
    assert refusal == "Only an owner of the team can do that, and you are not one any more."
    assert members._locked(studio, carol.pk, alice, owner=True)[1] is None
    own = studio.memberships.get(user=bob)
    assert members._locked(studio, own.pk, bob, owner=False)[1] is None  # anyone may leave
