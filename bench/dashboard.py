"""Usage dashboard server time at 1,000,000 generations vs at 10,000 (issue 7: goal <= 3x).

PostgreSQL only (the goal is stated for it): creates its own database `atelier_bench_dashboard`
on the server of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/) and drops it at the
end. Ledger rows are made by one INSERT ... SELECT over generate_series: ~90 days, 200 people in
20 teams (a fifth of the work in personal teams), 40 models with skewed popularity, ~8 %
failures with a dozen reasons, ~1 % cancelled, log-normal times. Every whole day is rolled up
(`UsageDay.objects.rebuild`), today stays live, as in production. Then the median server time of
the dashboard (test client, interleaved runs) with the default filters (last 30 days) and
filtered to one team, at each size, and the ratios.
Run: `.venv/bin/python bench/dashboard.py [--small 10000] [--large 1000000] [--repeat 9]`.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness.report import server_times  # noqa: E402
from bench.harness.stack import operator_keys  # noqa: E402

DB = "atelier_bench_dashboard"
GOAL = 3.0

REASONS = [
    "The provider took too long and the generation was stopped.",
    "The provider refused the prompt (content policy).",
    "The provider is overloaded (HTTP 503); try again later.",
    "The provider rejected the key (HTTP 401).",
    "Rate limited by the provider (HTTP 429).",
    "The provider returned no images.",
    "Could not download the result (connection reset).",
    "The result was not a picture we can read.",
    "The provider said: invalid image size.",
    "The provider said: internal error.",
    "The generation took too long and was stopped.",
    '=HYPERLINK("http://example.com") is not a prompt',
]

LOAD = """
WITH s AS (
    SELECT floor(random() * %(users)s)::int AS u,
           floor(%(models)s * power(random(), 2.5))::int AS m,
           random() AS fate, random() AS side, random() AS billed,
           floor(power(random(), 2) * 12)::int AS why,
           now() - random() * interval '90 days' AS t,
           exp(ln(12) + 0.7 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS secs,
           1 + floor(power(random(), 3) * 4)::int AS n
    FROM generate_series(1, %(count)s)
), r AS (
    SELECT s.*,
           CASE WHEN s.t > now() - interval '5 minutes' THEN 'running'
                WHEN s.fate < 0.08 THEN 'failed'
                WHEN s.fate < 0.09 THEN 'cancelled'
                ELSE 'succeeded' END AS outcome
    FROM s
)
INSERT INTO gallery_usage (user_id, team_id, user_name, team_name, provider, model_id,
    created_at, images, outcome, error, queue_seconds, provider_seconds, download_seconds,
    total_seconds, estimated_usd, reported_usd, reported_credits, cost_usd, cost_source,
    settled_at)
SELECT p.user_id,
       CASE WHEN r.side < 0.8 THEN p.team_id ELSE p.personal_id END,
       p.user_name,
       CASE WHEN r.side < 0.8 THEN p.team_name ELSE p.user_name END,
       m.provider, m.model_id, r.t,
       CASE WHEN r.outcome IN ('succeeded', 'running') THEN r.n ELSE 0 END,
       r.outcome,
       CASE WHEN r.outcome = 'failed' THEN (%(reasons)s::text[])[r.why + 1] ELSE '' END,
       0.2 + r.secs * 0.02,
       CASE WHEN r.outcome = 'running' THEN NULL ELSE r.secs * 0.9 END,
       CASE WHEN r.outcome = 'succeeded' THEN r.secs * 0.08 END,
       CASE WHEN r.outcome = 'running' THEN NULL ELSE r.secs END,
       m.price * r.n,
       CASE WHEN r.outcome = 'succeeded' AND r.billed < 0.7 THEN m.price * r.n * 0.97 END,
       NULL,
       CASE WHEN r.outcome = 'failed' THEN 0
            WHEN r.outcome = 'succeeded' AND r.billed < 0.7 THEN m.price * r.n * 0.97
            ELSE m.price * r.n END,
       CASE WHEN r.outcome = 'succeeded' AND r.billed < 0.7 THEN 'reported' ELSE 'estimated' END,
       CASE WHEN r.outcome = 'running' THEN NULL ELSE r.t + r.secs * interval '1 second' END
FROM r JOIN bench_people p ON p.idx = r.u JOIN bench_models m ON m.idx = r.m
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="atelier-bench-")
    os.environ.setdefault("VAR_DIR", workdir)
    for name, value in operator_keys().items():
        os.environ.setdefault(name, value)
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/")
    if not base_url.startswith("postgres"):
        print("dashboard: needs PostgreSQL (DATABASE_URL=postgres://...); skipped")
        return
    server = base_url.rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{server}/{DB}"
    _admin(server, f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}")
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(server, f"DROP DATABASE IF EXISTS {DB}")


def run(args) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from gallery.models import Membership, SiteSettings, Team, Usage, UsageDay, personal_team
    from gallery.usage.sums import day_bounds
    from jobs import catalog

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    User = get_user_model()
    staff = User.objects.create_user("staff", is_staff=True)
    teams = [Team.objects.create(name=f"Team {n:02d}") for n in range(20)]
    people = []
    for n in range(200):
        user = User.objects.create_user(f"person{n:03d}")
        team = teams[n % 20]
        Membership.objects.create(team=team, user=user)
        people.append((n, user.pk, user.username, team.pk, team.name, personal_team(user).pk))
    models = [m for m in catalog.MODELS.values() if m.provider == "aimlapi"][:40]
    site = SiteSettings.load()
    site.user_images_per_day, site.team_usd_per_month = 150, 2000
    site.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_people (idx int, user_id int, user_name text, team_id int,"
            " team_name text, personal_id int)"
        )
        cursor.executemany("INSERT INTO bench_people VALUES (%s, %s, %s, %s, %s, %s)", people)
        cursor.execute(
            "CREATE TABLE bench_models (idx int, model_id text, provider text, price numeric)"
        )
        rows = [
            (i, m.id, m.provider, round(0.003 + 0.004 * (i % 10), 3)) for i, m in enumerate(models)
        ]
        cursor.executemany("INSERT INTO bench_models VALUES (%s, %s, %s, %s)", rows)

    def load(count: int) -> float:
        start = time.perf_counter()
        with connection.cursor() as cursor:
            params = {"users": len(people), "models": len(models), "count": count}
            cursor.execute(LOAD, {**params, "reasons": REASONS})
        return time.perf_counter() - start

    def roll_up() -> tuple[float, int]:
        start = time.perf_counter()
        first = timezone.localtime(Usage.objects.order_by("created_at").first().created_at).date()
        days = (timezone.localdate() - first).days
        UsageDay.objects.rebuild_recent(days)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return time.perf_counter() - start, UsageDay.objects.count()

    client = Client()
    client.force_login(staff)
    default, filtered = "/staff/usage/", f"/staff/usage/?team={teams[3].pk}"

    def timed(*paths: str) -> list[tuple[float, int]]:
        return server_times(client, paths, args.repeat)

    results = {}
    for label, count in (("small", args.small), ("large", args.large - args.small)):
        loaded = load(count)
        rolled, rollup_rows = roll_up()
        total = Usage.objects.count()
        (d, dq), (f, fq) = timed(default, filtered)
        results[label] = (d, f)
        today = Usage.objects.filter(created_at__gte=day_bounds(*[timezone.localdate()] * 2)[0])
        print(
            f"dashboard: {total:,} generations (loaded in {loaded:.1f} s; {today.count():,} today, "
            f"read live), roll-ups {rollup_rows:,} rows built in {rolled:.1f} s"
        )
        print(f"  default (last 30 days): {d * 1000:7.1f} ms, {dq} queries")
        print(f"  one team's:             {f * 1000:7.1f} ms, {fq} queries")
    for index, name in enumerate(("default", "one team")):
        ratio = results["large"][index] / results["small"][index]
        verdict = "goal met" if ratio <= GOAL else "GOAL MISSED"
        sizes = f"{args.large:,} / {args.small:,}"
        print(f"  ratio {name} {sizes} = {ratio:.2f} (goal <= {GOAL}): {verdict}")


def _admin(server: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


if __name__ == "__main__":
    main()
