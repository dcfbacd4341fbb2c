"""Generations per second through the whole pipeline vs the bare work in one loop.

With a zero-latency sandbox, N generations with sandbox/flux-sync (URL outputs) go through web
+ broker + worker: submit, download the file URL, decode, thumbnails, store. The floor is a
bare loop in this process over the same file URLs: httpx GET + `jobs.images.process`. The ratio
pipeline rate / bare rate says how much of the machine the pipeline's machinery costs.

Run: VAR_DIR=/tmp/var-bench .venv/bin/python bench/throughput.py [--count 200] [--size 512]
"""

import argparse
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

GOAL = 0.5
MODEL = "sandbox/flux-sync"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="generations (default 200)")
    parser.add_argument("--size", type=int, default=512, help="image side, multiple of 32 (512)")
    parser.add_argument(
        "--pool",
        default="prefork",
        choices=("threads", "prefork", "solo"),
        help="worker pool (default prefork, as `make run` starts it)",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="worker slots (2)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="give up waiting after this many seconds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR")
    args = parser.parse_args()
    if not 1 <= args.count <= 2000 or not 64 <= args.size <= 2048 or args.size % 32:
        parser.error("--count must be 1..2000 and --size a multiple of 32 in 64..2048")

    try:
        with Stack(
            "throughput",
            latency=0.0,
            pool=args.pool,
            concurrency=args.concurrency,
            keep=args.keep,
        ) as stack:
            return run(stack, args)
    except StackError as e:
        print(f"throughput: could not run: {e}", file=sys.stderr)
        return 1


def run(stack: Stack, args: argparse.Namespace) -> int:
    from gallery.models import Generation

    count, size = args.count, args.size
    print(f"throughput: {stack.description}, sandbox latency 0")
    print(f"throughput: {machine()}")
    ids = create_generations(
        count,
        MODEL,
        lambda i: {
            "image_size": {"width": size, "height": size},
            "num_images": 1,
            "seed": i,
            "output_format": "png",
        },
    )

    # The floor is measured before and after the pipeline, and averaged: the machine's load
    # may change while the pipeline runs. Before, over URLs the sandbox gives for the same
    # prompts, seeds and sizes (the same pictures); after, over the pipeline's own URLs.
    bare_before = bare_loop(sandbox_urls(stack, ids))

    cpu_before, tasks_before = stack.cpu_seconds(), stack.count_tasks()
    started = time.time()
    enqueued = enqueue_submits(ids)
    finished = wait_terminal(stack, ids, args.timeout, "throughput")
    observed = time.time() - started
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in stack.cpu_seconds().items()}
    worker_tasks = stack.count_tasks() - tasks_before

    gens = list(Generation.objects.filter(pk__in=ids).values("status", "finished_at", "outputs"))
    done = [g for g in gens if g["status"] == Generation.Status.SUCCEEDED]
    failed = sum(g["status"] == Generation.Status.FAILED for g in gens)
    if not done:
        print("throughput: no generation succeeded; nothing to compare", file=sys.stderr)
        return 2
    wall = max(g["finished_at"].timestamp() for g in done) - started if finished else observed
    pipeline_rate = len(done) / wall

    urls = [g["outputs"][0]["url"] for g in done]
    bare_after = bare_loop(urls)
    bare_rate = (count / bare_before + len(urls) / bare_after) / 2
    ratio = pipeline_rate / bare_rate

    worker_cpu, web_cpu = cpu.get("worker", 0.0), cpu.get("web", 0.0)
    print(f"  enqueue of {count} submit tasks took {enqueued:.2f} s")
    print(
        f"  pipeline: {len(done)} done in {wall:.1f} s; worker ran {worker_tasks} tasks; CPU: "
        f"worker {worker_cpu:.1f} s ({1000 * worker_cpu / len(done):.0f} ms per generation), "
        f"web {web_cpu:.1f} s ({1000 * web_cpu / len(done):.0f} ms per generation), "
        f"{(worker_cpu + web_cpu) / wall:.2f} cores of 2 busy"
    )
    print(
        f"  bare loop, one process: {count} GET + process in {bare_before:.1f} s before the "
        f"pipeline, {len(urls)} in {bare_after:.1f} s after; their mean rate is the floor"
    )
    print(
        f"throughput: {len(done)} generations at {size}x{size}: pipeline {pipeline_rate:.2f}/s, "
        f"bare loop {bare_rate:.2f}/s, ratio {ratio_text(ratio, GOAL)} (goal >= {GOAL}): "
        f"{verdict(ratio >= GOAL)}; {failed} failed, {count - len(done) - failed} unfinished"
    )
    if failed:
        errors = (
            Generation.objects.filter(pk__in=ids, status=Generation.Status.FAILED)
            .values_list("error", flat=True)
            .distinct()[:5]
        )
        for error in errors:
            print(f"  failure: {error}", file=sys.stderr)
        return 2
    return 0


def sandbox_urls(stack: Stack, ids: list[int]) -> list[str]:
    """File URLs for the same pictures the generations will make, asked of the sandbox."""
    import httpx

    from gallery.models import Generation
    from jobs.sandbox import auth

    rows = Generation.objects.filter(pk__in=ids).order_by("pk").values("prompt", "params")
    # The sandbox answers only the worker's key; this process shares the stack's SECRET_KEY.
    headers = {"Authorization": f"Bearer {auth.key()}"}
    with httpx.Client(timeout=30, headers=headers) as client:
        return [
            client.post(
                f"{stack.base_url}/sandbox/v1/images/generations",
                json={"model": MODEL, "prompt": row["prompt"], **row["params"]},
            ).json()["images"][0]["url"]
            for row in rows
        ]


def bare_loop(urls: list[str]) -> float:
    """Download and thumbnail each file URL in turn, in this process; seconds taken."""
    import httpx
    from django.conf import settings

    from jobs import images

    with httpx.Client(timeout=30) as client:
        images.process(client.get(urls[0]).content, settings.THUMBNAIL_SIZES)  # warm up
        started = time.perf_counter()
        for url in urls:
            response = client.get(url)
            response.raise_for_status()
            images.process(response.content, settings.THUMBNAIL_SIZES)
        return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
