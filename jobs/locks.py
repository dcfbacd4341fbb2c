"""Work that must not run twice at once across hosts: the sweeper's round, the roll-ups.

One beat is meant to run, but two may (a deployment that starts a new host before the old one
stops, an operator's mistake). Each takes a PostgreSQL advisory lock named after it; a
sweeper's round that finds the lock taken skips its turn, since the round holding it does the
same work; a roll-up waits for the other to end, then rebuilds its day (it deletes and inserts:
two at once would insert a day twice).
The lock is the session's: it goes with the connection if its process dies.

On SQLite (one machine, one beat) there is nothing to lock across hosts, and the database
serializes writers anyway.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def lock_id(name: str) -> int:
    """A stable signed 64-bit number for `name`, as pg_try_advisory_lock takes."""
    digest = hashlib.blake2b(f"atelier:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def exclusive(name: str, *, wait: bool = False) -> Iterator[bool]:
    """Yield True while this process alone holds the lock `name`. If another holds it: yield
    False at once (the caller skips its work), or with `wait`, wait for it and yield True."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = lock_id(name)
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s), true", [key])
            (_, held) = cursor.fetchone()
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            (held,) = cursor.fetchone()
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
