"""How soon a SIGKILLed worker's generations move again, against the lease it was given.

A private stack (bench/harness/stack.py) with CLAIM_LEASE=--lease; this process runs the sweeper
every SWEEP_INTERVAL, as beat would. The floor, measured in the same run: how long a generation
of the sandbox's async model takes with nothing killed. Then --count generations go in; when
half are done the worker is SIGKILLed (its process group, as a host that is gone) and another
starts. Printed: the delay from the kill until the last generation in flight at the kill moved
again, against its bound CLAIM_LEASE + SWEEP_INTERVAL (jobs/leases.py) and the issue's 60 s.

Run: VAR_DIR=/tmp/var-bench .venv/bin/python bench/takeover.py [--lease 30] [--count 40]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness.report import machine, ratio_text, verdict
from bench.harness.stack import (
    Stack,
    StackError,
    create_generations,
    enqueue_submits,
    wait_terminal,
)

GOAL = 60.0  # seconds: the "taken over within 60 s of its death"
MODEL = "sandbox/relay-async"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lease", type=int, default=30, help="CLAIM_LEASE seconds (30)")
    parser.add_argument("--sweep", type=float, default=10.0, help="SWEEP_INTERVAL seconds (10)")
    parser.add_argument("--count", type=int, default=40, help="generations (40)")
    parser.add_argument("--latency", type=float, default=2.0, help="provider seconds (2)")
    args = parser.parse_args()
    os.environ["CLAIM_LEASE"] = str(args.lease)
    os.environ["SWEEP_INTERVAL"] = str(args.sweep)
    try:
        with Stack("takeover", latency=args.latency, concurrency=4) as stack:
            return run(stack, args)
    except StackError as e:
        print(f"takeover: could not run: {e}", file=sys.stderr)
        return 1


def run(stack: Stack, args: argparse.Namespace) -> int:
    from django.conf import settings

    from gallery.models import Generation
    from jobs import tasks

    print(
        f"takeover: {stack.description}, CLAIM_LEASE {settings.CLAIM_LEASE} s, "
        f"SWEEP_INTERVAL {settings.SWEEP_INTERVAL:g} s"
    )
    print(f"takeover: {machine()}")
    params = lambda i: {"width": 64, "height": 64, "seed": i}  # noqa: E731
    floor_ids = create_generations(4, MODEL, params, username="bench-floor")
    enqueue_submits(floor_ids)
    if not wait_terminal(stack, floor_ids, 120, "floor"):
        print("takeover: the floor's generations did not finish", file=sys.stderr)
        return 1
    rows = Generation.objects.filter(pk__in=floor_ids).values_list("created_at", "finished_at")
    floor = statistics.median((end - start).total_seconds() for start, end in rows)

    ids = create_generations(args.count, MODEL, params)
    enqueue_submits(ids)
    mine = Generation.objects.filter(pk__in=ids)
    deadline = time.monotonic() + 120
    while mine.filter(status=Generation.Status.SUCCEEDED).count() < args.count // 2:
        if time.monotonic() > deadline:
            print("takeover: half were not done in 120 s", file=sys.stderr)
            return 1
        time.sleep(0.05)
    before = {
        pk: (status, touched)
        for pk, status, touched in mine.filter(status__in=Generation.IN_FLIGHT).values_list(
            "pk", "status", "touched_at"
        )
    }
    killed_at = time.monotonic()
    stack.replace_worker()
    moved: dict[int, float] = {}
    next_sweep = killed_at
    while len(moved) < len(before) and time.monotonic() - killed_at < 3 * GOAL:
        if time.monotonic() >= next_sweep:
            tasks.sweep()  # as beat does, every SWEEP_INTERVAL
            next_sweep += settings.SWEEP_INTERVAL
        rows = mine.filter(pk__in=set(before) - set(moved)).values_list(
            "pk", "status", "touched_at"
        )
        for pk, status, touched in rows:
            queued = status == Generation.Status.QUEUED
            if status != before[pk][0] or (not queued and touched != before[pk][1]):
                moved[pk] = time.monotonic() - killed_at
        time.sleep(0.1)
    wait_terminal(stack, ids, 120, "takeover")
    failed = mine.exclude(status=Generation.Status.SUCCEEDED).count()
    bound = settings.CLAIM_LEASE + settings.SWEEP_INTERVAL
    delay = max(moved.values(), default=0.0)
    stalled = len(before) - len(moved)
    print(f"  floor: a generation takes {floor:.1f} s (median of 4) with nothing killed")
    print(
        f"  {len(before)} in flight at the kill; the last moved again {delay:.1f} s after it "
        f"({delay / floor:.1f}x the floor; bound CLAIM_LEASE + SWEEP_INTERVAL = {bound:g} s, "
        f"ratio {ratio_text(delay / bound, 1.0)})"
    )
    print(
        f"takeover: lease {settings.CLAIM_LEASE} s, takeover {delay:.1f} s (goal <= {GOAL:g} s): "
        f"{verdict(not stalled and delay <= GOAL)}; {stalled} never moved, {failed} not succeeded"
    )
    return 0 if not stalled and not failed and delay <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
