"""Peak memory of the zip export (`/bulk`, action "export") for 500 originals of 4 MB against 50.

The export streams: each original is read in chunks and sent as it is read, so the process's
peak resident memory should not grow with the selection. Each export runs in a fresh
interpreter that serves it through the real view (Django's test client) and reads the streamed
response to the end, counting its bytes; the figure is its peak RSS (Linux `VmHWM`), before and
after the export. Goal: peak(500) / peak(50) <= 1.1.

Disk stays small: every image row points at the same 4 MB original (as copies of an image do),
so 500 originals cost 4 MB of disk while 2 GB go through the export. The database is a SQLite
file in a temporary directory (under $VAR_DIR when set), removed at the end with everything in it.

Run: VAR_DIR=/tmp/var-bench .venv/bin/python bench/zip_export.py [--size-mb 4]
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness.report import machine, ratio_text, verdict  # noqa: E402

GOAL = 1.1
COUNTS = (50, 500)
USERNAME = "bench"


def peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM on Linux; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def use_folder(folder: Path) -> None:
    """Point the app at the bench's own folder: SQLite, media, cache, no broker needed."""
    os.environ.update(
        {
            "VAR_DIR": str(folder),
            "MEDIA_ROOT": str(folder / "media"),
            "BROKER_DIR": str(folder / "broker"),
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "SECRET_KEY": "bench-zip-export",
            "ALLOWED_HOSTS": "testserver",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def fill(size: int, count: int) -> None:
    """One user, `count` succeeded generations, each with one image sharing one original."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    from gallery.models import Generation, Image, personal_team

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(USERNAME)
    team = personal_team(user)
    gallery = team.default_gallery()
    # Incompressible, like a real JPEG; the export stores it as it is anyway.
    name = default_storage.save("originals/bench.jpg", ContentFile(random.randbytes(size)))
    generations = Generation.objects.bulk_create(
        Generation(
            owner=user,
            team=team,
            gallery=gallery,
            model_id="sandbox/flux-sync",
            provider="sandbox",
            prompt=f"picture {i}",
            status=Generation.Status.SUCCEEDED,
        )
        for i in range(count)
    )
    Image.objects.bulk_create(
        Image(
            generation=generation,
            gallery=gallery,
            team=team,
            index=0,
            original=name,
            thumbnail=name,
            width=2048,
            height=2048,
            thumb_width=768,
            thumb_height=768,
            content_type="image/jpeg",
            byte_size=size,
            sha256="0" * 64,
        )
        for generation in generations
    )


def export(client, uuids: list[str]) -> int:
    """POST the export as the bulk bar does; read the whole stream, keep none of it."""
    response = client.post("/bulk", {"image": uuids, "action": "export"})
    assert response.status_code == 200 and response.streaming, response.status_code
    return sum(len(piece) for piece in response.streaming_content)


def child(folder: Path, count: int) -> None:
    use_folder(folder)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from gallery.models import Image

    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    uuids = [str(u) for u in Image.objects.order_by("id").values_list("uuid", flat=True)]
    export(client, uuids[:1])  # warm up: every module the export needs is loaded
    before = peak_rss()
    start = time.perf_counter()
    sent = export(client, uuids[:count])
    seconds = time.perf_counter() - start
    print(json.dumps({"before": before, "after": peak_rss(), "bytes": sent, "seconds": seconds}))


def measure(folder: Path, count: int) -> dict:
    command = [sys.executable, __file__, "--child", str(count), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"zip_export: the export of {count} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=4.0, help="size of each original")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("folder", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.folder, args.child)
        return 0
    base = Path(os.environ.get("VAR_DIR") or tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="zip-export-", dir=base))
    size = int(args.size_mb * 1_000_000)
    try:
        use_folder(folder)
        fill(size, max(COUNTS))
        print(f"zip_export: originals of {mb(size)}, one fresh process per export; {machine()}")
        found = {count: measure(folder, count) for count in COUNTS}
        for count, figures in found.items():
            print(
                f"  {count:3} images: peak RSS {mb(figures['after'])} "
                f"(before the export {mb(figures['before'])}, "
                f"+{mb(figures['after'] - figures['before'])}); "
                f"streamed {mb(figures['bytes'])} in {figures['seconds']:.1f} s"
            )
        small, large = (found[c]["after"] for c in COUNTS)
        ratio = large / small
        print(
            f"zip_export: peak RSS {max(COUNTS)} / {min(COUNTS)} images = "
            f"{ratio_text(ratio, GOAL)} (goal <= {GOAL}): {verdict(ratio <= GOAL)}"
        )
    finally:
        if args.keep:
            print(f"zip_export: kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
