"""Gallery page server time at depth and at size (issue: a gallery that stays instant).

Prints two ratios measured in one run against floors measured in the same run:
  - page 90,000 images deep / first page, at 100,000 images (goal <= 1.5)
  - first page at 100,000 images / first page at 100 images (goal <= 1.5)
with the number of queries per page. Uses PostgreSQL when DATABASE_URL is set (the goal is
stated for PostgreSQL); otherwise a throwaway SQLite file.
Run: `.venv/bin/python bench/gallery_pages.py` (`--images N` to change the size).
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness.report import server_times  # noqa: E402
from bench.harness.stack import operator_keys  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="atelier-bench-")
    os.environ.setdefault("VAR_DIR", workdir)
    for name, value in operator_keys().items():
        os.environ.setdefault(name, value)
    os.environ["MEDIA_ROOT"] = str(Path(workdir) / "media")
    base_url = os.environ.get("DATABASE_URL", "")
    if base_url.startswith("postgres"):
        os.environ["DATABASE_URL"] = base_url.rsplit("/", 1)[0] + "/atelier_bench_pages"
        _recreate_postgres(base_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from gallery.images import browse
    from gallery.models import Image, personal_team

    user = get_user_model().objects.create_user("bench")
    client = Client()
    client.force_login(user)

    def timed(*paths: str) -> list[tuple[float, int]]:
        return server_times(client, paths, args.repeat)

    small = 100
    call_command("seed_gallery", images=small, owner="bench", verbosity=0)
    ((first_small, q_small),) = timed("/")
    call_command("seed_gallery", images=args.images - small, owner="bench", verbosity=0, seed=2)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    depth = min(90_000, int(args.images * 0.9))
    team = personal_team(user)
    # Setting up the bench only: find the item `depth` deep to start the page after it.
    ordered = Image.objects.filter(team=team).order_by("-created_at", "-uuid")
    anchor = ordered[depth - 1 : depth].get()
    (first_big, q_big), (deep, q_deep) = timed("/", f"/?after={browse.encode_cursor(anchor)}")
    print(f"gallery_pages: database {connection.vendor}, {args.images} images")
    print(f"  first page at {small} images:      {first_small * 1000:7.1f} ms, {q_small} queries")
    print(f"  first page at {args.images} images: {first_big * 1000:7.1f} ms, {q_big} queries")
    print(f"  page {depth} deep:                  {deep * 1000:7.1f} ms, {q_deep} queries")
    print(f"  ratio deep / first      = {deep / first_big:.2f} (goal <= 1.5)")
    print(
        f"  ratio {args.images} / {small} first page = {first_big / first_small:.2f} (goal <= 1.5)"
    )


def _recreate_postgres(url: str) -> None:
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS atelier_bench_pages")
        conn.execute("CREATE DATABASE atelier_bench_pages")


if __name__ == "__main__":
    main()
