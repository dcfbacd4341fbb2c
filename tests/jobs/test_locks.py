"""Two beats by mistake: the sweeper's rounds and the roll-ups never run twice at once.

Real concurrency on PostgreSQL: threads with their own connections, as two beats' workers on two
hosts would be. SQLite is one machine with one beat, and serializes writers anyway.
"""

import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from gallery.models import Generation, Usage, UsageDay
from jobs import locks, tasks
from tests.factories import make_generation

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's; SQLite is one host"
)
YESTERDAY = timezone.localdate() - timedelta(days=1)


def in_thread(target, *args) -> threading.Thread:
    """Run `target` on a connection of its own, closed at the end."""

    def run():
        try:
            target(*args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def ledger(alice, team, count: int) -> None:
    noon = timezone.make_aware(datetime.combine(YESTERDAY, datetime.min.time())) + timedelta(
        hours=12
    )
    for n in range(count):
        Usage.objects.create(
            user=alice,
            team=team,
            user_name="alice",
            team_name=team.name,
            provider="sandbox",
            model_id="sandbox/flux-sync" if n % 2 else "flux/schnell",
            created_at=noon,
            images=1,
            outcome=Generation.Status.SUCCEEDED if n % 3 else Generation.Status.FAILED,
            error="" if n % 3 else f"reason {n % 2}",
            cost_usd=Decimal("0.01"),
            estimated_usd=Decimal("0.01"),
        )


def test_two_roll_ups_of_a_day_at_once_store_it_once(transactional_db, alice, studio):
    """Both delete the day and insert it again. Started together, the second's delete cannot
    see the rows the first inserted and has not committed yet: without the lock it keeps them
    and inserts its own, and the day counts twice."""
    ledger(alice, studio, 12)
    expected = UsageDay.objects.rebuild(YESTERDAY)
    assert UsageDay.objects.filter(day=YESTERDAY).count() == expected
    # Hold the day's rows, so that both roll-ups are inside their delete when they go on.
    holding, release, released = threading.Event(), threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            list(UsageDay.objects.select_for_update().filter(day=YESTERDAY))
            holding.set()
            release.wait(30)
        released.set()

    holder = in_thread(hold)
    assert holding.wait(10)
    rounds = [in_thread(UsageDay.objects.rebuild, YESTERDAY) for _ in range(2)]
    deadline = time.monotonic() + 20
    while waiting_on_locks() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting_on_locks() == 2  # both roll-ups are waiting, on the rows or on each other
    release.set()
    for thread in [holder, *rounds]:
        thread.join(30)
        assert not thread.is_alive()
    assert UsageDay.objects.filter(day=YESTERDAY).count() == expected


def test_a_sweep_round_skips_while_another_beat_s_round_runs(transactional_db, alice, monkeypatch):
    """Another beat's round holds the sweep (here: a thread holding its lock); this round sends
    nothing, so nothing is sent twice. Once that round is over, the next one does its work."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.submit, "delay", sent.append)
    stale = make_generation(alice, touched_at=timezone.now() - timedelta(minutes=5))
    holding, release = threading.Event(), threading.Event()

    def other_round():
        with locks.exclusive("sweep") as alone:
            assert alone
            holding.set()
            release.wait(30)

    other = in_thread(other_round)
    assert holding.wait(10)
    tasks.sweep()
    assert sent == []
    release.set()
    other.join(30)
    tasks.sweep()
    assert sent == [stale.pk]


def test_lock_ids_are_stable_and_distinct():
    assert locks.lock_id("sweep") == locks.lock_id("sweep")
    assert locks.lock_id("sweep") != locks.lock_id("rollup-usage")
    assert -(2**63) <= locks.lock_id("sweep") < 2**63
