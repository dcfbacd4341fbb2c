"""Helpers for the budget races: two or more submits at once, on PostgreSQL, where each
transaction really runs beside the others (SQLite runs one writing transaction at a time, so
there a race passes with or without the locks and proves nothing)."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from gallery.models import OverBudget

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serializes writing transactions: the race passes there even without the locks",
)


def backend_pid() -> int:
    """This thread's PostgreSQL backend, opening its connection if need be."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waiting_for_a_lock() -> set[int]:
    """The backends waiting for a lock right now (pg_locks is read afresh every time)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_locks WHERE NOT granted")
        return {pid for (pid,) in cursor.fetchall()}


def until(condition, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.01)


def race_two(first: Callable[[], object], second: Callable[[], object]) -> tuple[dict, bool]:
    """Run `first` in a transaction held open until `second` is seen waiting for a lock (or
    has finished: without the locks it gets straight through). Returns each one's outcome,
    "passed" or "refused" (OverBudget), and whether the second had to wait for the first."""
    first_in, release = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}
    pids: dict[str, int] = {}

    def run_first():
        try:
            with transaction.atomic():
                first()
                first_in.set()
                release.wait(20)
            outcomes["first"] = "passed"
        finally:
            first_in.set()
            connection.close()

    def run_second():
        pids["second"] = backend_pid()
        first_in.wait(20)
        try:
            second()
            outcomes["second"] = "passed"
        except OverBudget:
            outcomes["second"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for t in threads:
        t.start()
    until(
        lambda: pids.get("second") in waiting_for_a_lock() or not threads[1].is_alive(),
        "the second submit waiting or finishing",
    )
    waited = threads[1].is_alive()
    release.set()
    for t in threads:
        t.join(20)
    return outcomes, waited
