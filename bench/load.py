"""A load test: people browsing, generating and keeping a tab open, at 1 and at 50 users.

A private site (bench/harness/fleet.py): PostgreSQL, Redis, moto's S3 server, two web
processes, two Celery workers and beat, the sandbox at a realistic latency (3 s). A team of 50
members with --images seeded images (seed_gallery; then ANALYZE, autovacuum may be off). locust
(bench/harness/locustfile.py, in a process of its own) runs the people: --solo-seconds with one
person, then --seconds with 50 users (40 people, 10 open tabs), spread over both web processes.
Printed: page times (p50/p95) at 1 and 50 users and their ratio, against the floor measured in
the same run (a minimal authenticated page, /password/change/, on the same servers);
requests/s held; errors; generations lost or duplicated; the delay from an image's row being
stored to an open tab seeing it.

Run: DATABASE_URL=postgres://... REDIS_URL=redis://... VAR_DIR=/tmp/var-bench \
     .venv/bin/python bench/load.py [--images 3000] [--solo-seconds 60] [--seconds 120]
Without PostgreSQL and Redis it says "skipped". It exits 0 when a goal is missed, 1 when it
could not run or a generation failed, was lost or was duplicated.
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness.fleet import Fleet
from bench.harness.report import machine, ratio_text, verdict
from bench.harness.stack import ROOT, StackError

TEAM = "Load team"
PAGES = ("gallery", "older", "gallery filtered", "image page", "minimal")
SETTLE = 5.0  # seconds after every user has logged in before figures count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000, help="seeded images (3000)")
    parser.add_argument("--users", type=int, default=50, help="users in the loaded phase (50)")
    parser.add_argument("--tabs", type=int, default=10, help="of them, open tabs only (10)")
    parser.add_argument("--solo-seconds", type=int, default=60, help="1-user phase (60)")
    parser.add_argument("--seconds", type=int, default=120, help="loaded phase (120)")
    parser.add_argument("--latency", type=float, default=3.0, help="provider seconds (3)")
    parser.add_argument("--web-workers", type=int, default=1, help="per web process (1)")
    parser.add_argument(
        "--web-threads",
        type=int,
        default=8,
        help="threads per web worker under WSGI (unused: the web runs ASGI, as the site)",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker (4)")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory and logs")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or not os.environ.get("REDIS_URL"):
        print("load: needs PostgreSQL (DATABASE_URL=postgres://...) and REDIS_URL; skipped")
        return 0
    fleet = Fleet(
        latency=args.latency,
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        concurrency=args.concurrency,
        keep=args.keep,
    )
    try:
        with fleet:
            return run(fleet, args)
    except StackError as e:
        print(f"load: could not run: {e}", file=sys.stderr)
        return 1


def run(fleet: Fleet, args) -> int:
    print(f"load: {machine()}; {fleet.description}", flush=True)
    password = secrets.token_urlsafe(12)
    team, users = seed(args.images, args.users, password)
    env = {
        **fleet.env,
        "LOAD_HOSTS": ",".join(fleet.web_urls),
        "LOAD_USERS": ",".join(users),
        "LOAD_PASSWORD": password,
        "LOAD_TEAM": str(team.uuid),
    }
    started = time.time()
    cpu_before = fleet.cpu_seconds()
    solo = swarm(fleet, env, "solo", 1, 0, args.solo_seconds, ["Person"])
    loaded = swarm(fleet, env, "loaded", args.users, args.tabs, args.seconds, [])
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in fleet.cpu_seconds().items()}
    load_end = os.getloadavg()[0]
    outcome = generations(fleet, started, solo + loaded)
    report(solo, loaded, args, outcome, cpu, load_end)
    return 1 if outcome["lost"] or outcome["duplicated"] or outcome["failed"] else 0


def seed(images: int, count: int, password: str):
    """A team of `count` members (one password hash for all: hashing is slow on purpose),
    `images` images in it, statistics fresh."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection

    from gallery.models import Gallery, Membership, Team

    started = time.monotonic()
    User = get_user_model()
    hashed = make_password(password)
    names = [f"load-{n}" for n in range(1, count + 1)]
    # One save each: a new person's own space is made on save (bulk_create would skip it).
    people = [User.objects.create(username=name, password=hashed) for name in names]
    team = Team.objects.create(name=TEAM)
    Membership.objects.bulk_create(
        Membership(team=team, user=u, role="owner" if i == 0 else "editor")
        for i, u in enumerate(people)
    )
    Gallery.objects.create(team=team, name="Main", created_by=people[0])
    call_command("seed_gallery", images=images, owner=names[0], team=TEAM, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {images} images for a team of {count} in {time.monotonic() - started:.0f} s")
    return team, names


def swarm(fleet: Fleet, env: dict, phase: str, users: int, tabs: int, seconds: int, classes):
    """One locust run in its own process; its records (bench/harness/locustfile.py)."""
    records = fleet.var_dir / f"{phase}.jsonl"
    command = [sys.executable, "-m", "locust", "-f", "bench/harness/locustfile.py"]
    command += ["--headless", "--host", fleet.web_urls[0], "-u", str(users)]
    # -t only bounds it: the locustfile stops `seconds` after the last user has logged in.
    command += ["-r", str(min(users, 10)), "-t", f"{seconds * 3}s", "--stop-timeout", "10"]
    command += ["--only-summary", "--loglevel", "WARNING", *classes]
    print(f"{phase}: {users} user(s) for {seconds} s", flush=True)
    with open(fleet.var_dir / f"locust-{phase}.log", "w") as log:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "LOAD_RECORDS": str(records), "LOAD_TABS": str(tabs)}
            | {"LOAD_SECONDS": str(seconds)},
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=seconds * 3 + 120,
        )
    fleet.check_alive()
    lines = records.read_text().splitlines() if records.exists() else []
    if not lines:
        raise StackError(f"locust ({phase}) exited with {done.returncode} and recorded nothing")
    return [json.loads(line) for line in lines]


def window(records: list[dict]) -> tuple[float, float]:
    """From SETTLE s after every user had logged in to the last request."""
    spawned = [r["at"] for r in records if r["kind"] == "ready"]
    done = [r["at"] for r in records if r["kind"] == "request"]
    return (spawned[0] if spawned else min(done)) + SETTLE, max(done)


def generations(fleet: Fleet, started: float, records: list[dict]) -> dict:
    """Every generation submitted must end succeeded, with its images once (rows and bucket)."""
    from datetime import UTC, datetime

    from bench.harness.stack import wait_terminal
    from gallery.models import Generation, Image
    from gallery.usage.prices import images_requested

    submitted = [r["uuid"] for r in records if r["kind"] == "generated" and r["uuid"]]
    since = datetime.fromtimestamp(started, UTC)
    rows = Generation.objects.filter(created_at__gte=since, prompt__startswith="load ")
    ids = list(rows.values_list("pk", flat=True))
    ended = wait_terminal(fleet, ids, timeout=120, label="generations")
    found = {str(g.uuid): g for g in rows}
    images = Counter(
        str(u)
        for u in Image.objects.filter(generation__in=ids).values_list("generation__uuid", flat=True)
    )
    keys = fleet.bucket_keys()
    originals = list(Image.objects.filter(generation__in=ids).values_list("original", flat=True))
    missing_files = sum(name not in keys for name in originals)
    wrong_count = sum(images[u] != images_requested(g.model_id, g.params) for u, g in found.items())
    statuses = Counter(g.status for g in found.values())
    return {
        "submitted": len(submitted),
        "rows": len(found),
        "ended": ended,
        "statuses": dict(statuses),
        "failed": sum(n for s, n in statuses.items() if s != "succeeded"),
        "lost": len(set(submitted) - set(found)) + missing_files,
        "duplicated": len(submitted)
        - len(set(submitted))
        + len(set(found) - set(submitted))
        + wrong_count
        + (len(originals) - len(set(originals))),
        "visible": visibility(records, since),
    }


def visibility(records: list[dict], since) -> list[float]:
    """Seconds from each new image's row being stored to a tab first seeing it."""
    from gallery.models import Image

    seen: dict[str, float] = {}
    for r in records:
        if r["kind"] == "seen":
            seen[r["uuid"]] = min(r["at"], seen.get(r["uuid"], r["at"]))
    stored = Image.objects.filter(uuid__in=list(seen), created_at__gte=since)
    return sorted(seen[str(u)] - t.timestamp() for u, t in stored.values_list("uuid", "created_at"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def times(records: list[dict], name: str) -> list[float]:
    start, end = window(records)
    return [
        r["ms"]
        for r in records
        if r["kind"] == "request" and r["name"] == name and start <= r["at"] <= end
    ]


def report(solo, loaded, args, outcome, cpu, load_end) -> None:
    print(f"\npage times, ms (from {SETTLE:g} s after the last user logged in)")
    print(f"{'page':<20}{'1 user p50':>12}{'p95':>8}{'n':>6}{'50 users p50':>14}{'p95':>8}{'n':>6}")
    for name in (*PAGES, "thumbnail + store", "original + store", "generate", "live", "new"):
        a, b = times(solo, name), times(loaded, name)
        print(
            f"{name:<20}{pct(a, 50):>12.1f}{pct(a, 95):>8.1f}{len(a):>6}"
            f"{pct(b, 50):>14.1f}{pct(b, 95):>8.1f}{len(b):>6}"
        )
    g1, g50 = times(solo, "gallery"), times(loaded, "gallery")
    m1, m50 = times(solo, "minimal"), times(loaded, "minimal")
    scale = pct(g50, 95) / pct(g1, 50)
    print(
        f"\ngallery p95 at {args.users} users / p50 at 1 user: {ratio_text(scale, 3)} "
        f"(goal <= 3: {verdict(scale <= 3)})"
    )
    for label, g, m in (("1 user", g1, m1), (f"{args.users} users", g50, m50)):
        r = pct(g, 50) / pct(m, 50)
        print(
            f"gallery / minimal page (/password/change/), p50 at {label}: {ratio_text(r, 3)} "
            f"(goal <= 3: {verdict(r <= 3)})"
        )
    start, end = window(loaded)
    held = sum(1 for r in loaded if r["kind"] == "request" and start <= r["at"] <= end)
    print(
        f"requests/s held at {args.users} users: {held / (end - start):.1f}"
        f" over {end - start:.0f} s"
    )
    failed = [
        r for r in solo + loaded if r["kind"] == "request" and (r["error"] or r["status"] >= 400)
    ]
    kinds = Counter(f"{r['name']} {r['status']} {r['error'][:80]}".strip() for r in failed)
    total = sum(1 for r in solo + loaded if r["kind"] == "request")
    print(
        f"errors: {len(failed)} of {total} requests (goal 0: {verdict(not failed)})"
        + "".join(f"\n  {n} x {k}" for k, n in kinds.most_common(8))
    )
    o = outcome
    print(
        f"generations: {o['submitted']} submitted, {o['rows']} rows, statuses {o['statuses']}"
        + ("" if o["ended"] else " (NOT ALL ENDED within 120 s)")
    )
    bad = o["lost"] + o["duplicated"] + o["failed"]
    print(
        f"lost {o['lost']}, duplicated {o['duplicated']}, failed {o['failed']} "
        f"(goal 0: {verdict(not bad)})"
    )
    v = o["visible"]
    print(
        f"stored -> visible in an open tab: median {pct(v, 50):.2f} s, p95 {pct(v, 95):.2f} s "
        f"over {len(v)} images (the page's live poll every second, then `new`)"
    )
    busy = ", ".join(f"{k} {s:.0f}" for k, s in sorted(cpu.items()))
    print(f"CPU seconds during both phases: {busy}; load average at end {load_end:.1f}")


if __name__ == "__main__":
    sys.exit(main())
