"""Waiting for a generation to end without holding a worker: an `await` between looks.

What wakes a look is the team's live-updates version (webapp/live.py), which every change to a
generation bumps after it commits: one cache read a second tells whether anything moved, and
the row is read only then. A bump lost with the cache (a wipe, a restart) costs at most
`SAFETY_LOOK` seconds, when the row is read anyway.

The cache and the database are sync APIs, run through `sync_to_async`: under ASGI, Django keeps
one thread per request for those calls (its thread-sensitive context), idle between them; the
event loop serves every other request meanwhile, so a thousand waits are a thousand coroutines
and as many parked threads, not a thousand busy workers.
"""

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection

from gallery.models import Generation
from webapp import live

FIRST_PAUSE = 0.2
LONGEST_PAUSE = 1.0
SAFETY_LOOK = 5.0


def _ended(generation_id: int) -> Generation | None:
    try:
        return Generation.objects.filter(pk=generation_id, status__in=Generation.TERMINAL).first()
    finally:
        # A wait holds no database connection between looks: a thousand waits must not be a
        # thousand open connections (the server allows about a hundred). Not inside a
        # transaction someone else opened (a test's).
        if not connection.in_atomic_block:
            connection.close()


async def ended(generation_id: int, team_id: int, seconds: float) -> Generation | None:
    """The generation once it has ended, or None when `seconds` pass first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    seen, next_look, pause = None, 0.0, FIRST_PAUSE
    while True:
        version = await sync_to_async(live.version)(team_id)
        if version != seen or loop.time() >= next_look:
            seen, next_look = version, loop.time() + SAFETY_LOOK
            if (generation := await sync_to_async(_ended)(generation_id)) is not None:
                return generation
        left = deadline - loop.time()
        if left <= 0:
            return None
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 1.5, LONGEST_PAUSE)
