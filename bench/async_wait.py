"""Waiting on an async provider must not occupy the worker.

N generations with the sandbox's async model (sandbox/relay-async), whose provider takes L
seconds each, are created at once and go through ONE Celery worker process. If waiting never
holds a worker slot, all N finish in about L seconds, however large N is: wall / L ~ 1.
First, untimed, a few generations run so the app has seen the model finish before, as a
running site has (polls aim at the model's usual time); `--warm 0` measures a cold start.

Run: VAR_DIR=/tmp/var-bench .venv/bin/python bench/async_wait.py [--count 500] [--latency 20]
"""

import argparse
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

GOAL = 1.2
MODEL = "sandbox/relay-async"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="generations (default 500)")
    parser.add_argument("--latency", type=float, default=20.0, help="provider seconds (20)")
    parser.add_argument("--size", type=int, default=64, help="image side in px, multiple of 32")
    parser.add_argument(
        "--warm", type=int, default=4, help="untimed generations run first (4; 0: cold start)"
    )
    parser.add_argument("--pool", default="threads", choices=("threads", "prefork", "solo"))
    parser.add_argument("--concurrency", type=int, default=8, help="worker slots (8)")
    parser.add_argument(
        "--timeout", type=float, default=150.0, help="give up waiting after this many seconds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR")
    args = parser.parse_args()
    if not 1 <= args.count <= 5000 or not 0 < args.latency <= 120:
        parser.error("--count must be 1..5000 and --latency 0..120")

    try:
        with Stack(
            "async_wait",
            latency=args.latency,
            pool=args.pool,
            concurrency=args.concurrency,
            keep=args.keep,
        ) as stack:
            return run(stack, args)
    except StackError as e:
        print(f"async_wait: could not run: {e}", file=sys.stderr)
        return 1


def run(stack: Stack, args: argparse.Namespace) -> int:
    from django.conf import settings

    from gallery.models import Generation

    count, latency = args.count, args.latency
    print(f"async_wait: {stack.description}, POLL_INTERVAL {settings.POLL_INTERVAL} s")
    print(f"async_wait: {machine()}")
    size = args.size
    params = lambda i: {"width": size, "height": size, "seed": i}  # noqa: E731
    if args.warm:
        from jobs import timing

        warm = create_generations(args.warm, MODEL, params, username="bench-warm")
        started = time.time()
        enqueue_submits(warm)
        if not wait_terminal(stack, warm, args.timeout, "warm-up"):
            print("async_wait: the warm-up did not finish", file=sys.stderr)
            return 1
        expected = timing.ready_after(MODEL)
        print(
            f"  warm-up: {args.warm} generations in {time.time() - started:.1f} s, untimed; "
            f"the first poll now aims {expected or 0:.2f} s after submission"
        )
    ids = create_generations(count, MODEL, params)

    cpu_before, tasks_before = stack.cpu_seconds(), stack.count_tasks()
    started = time.time()
    enqueued = enqueue_submits(ids)
    finished = wait_terminal(stack, ids, args.timeout, "async_wait")
    observed = time.time() - started
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in stack.cpu_seconds().items()}

    gens = list(
        Generation.objects.filter(pk__in=ids).values("status", "submitted_at", "finished_at")
    )
    done = [g for g in gens if g["status"] == Generation.Status.SUCCEEDED]
    failed = sum(g["status"] == Generation.Status.FAILED for g in gens)
    unfinished = count - len(done) - failed
    if done and finished:
        wall = max(g["finished_at"].timestamp() for g in done) - started
    else:
        wall = observed  # a lower bound: not all were done when we stopped waiting
    ratio = wall / latency
    submitted = [g["submitted_at"].timestamp() - started for g in gens if g["submitted_at"]]
    # How long after the provider was ready each one ended: polling and fetch lag.
    lags = [
        g["finished_at"].timestamp() - g["submitted_at"].timestamp() - latency
        for g in done
        if g["submitted_at"]
    ]
    polls = stack.count_requests("/sandbox/v2/tasks/")
    worker_tasks = stack.count_tasks() - tasks_before

    print(f"  enqueue of {count} submit tasks took {enqueued:.2f} s")
    if submitted:
        print(f"  last submission reached the provider at +{max(submitted):.1f} s")
    if lags:
        print(
            f"  end after provider ready: median {statistics.median(lags):.1f} s, "
            f"max {max(lags):.1f} s; {polls} polls ({polls / count:.1f} per generation)"
        )
    worker_cpu, web_cpu = cpu.get("worker", 0.0), cpu.get("web", 0.0)
    print(
        f"  worker ran {worker_tasks} tasks ({worker_tasks / count:.1f} per generation); CPU: "
        f"worker {worker_cpu:.1f} s ({worker_cpu / observed:.2f} of a core, "
        f"{1000 * worker_cpu / max(worker_tasks, 1):.0f} ms per task), web {web_cpu:.1f} s"
    )
    bound = "" if finished else ">= "
    print(
        f"async_wait: {count} generations, provider {latency:.1f} s, wall {bound}{wall:.1f} s, "
        f"ratio {bound}{ratio_text(ratio, GOAL)} (goal <= {GOAL}): "
        f"{verdict(finished and ratio <= GOAL)}; "
        f"{failed} failed, {unfinished} unfinished"
    )
    if failed:
        print("async_wait: some generations FAILED:", file=sys.stderr)
        for error in (
            Generation.objects.filter(pk__in=ids, status=Generation.Status.FAILED)
            .values_list("error", flat=True)
            .distinct()[:5]
        ):
            print(f"  failure: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
