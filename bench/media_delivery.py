"""A thumbnail view with media on disk against the same view with media in an S3 bucket.

The floor is the disk: Django checks access and sends the file itself. With a bucket the view
checks access and signs a link (no request to the store); the browser then fetches the bytes
from the store. Streaming (MEDIA_STREAM=1) makes Atelier fetch them itself. The store is moto's
server on loopback, so its times say little about a real store; the view's own cost does.

Run: .venv/bin/python bench/media_delivery.py [--repeat 200]   (needs the dev dependencies)
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
VAR = tempfile.mkdtemp(prefix="atelier-bench-media-")
os.environ.update(VAR_DIR=VAR, DJANGO_SETTINGS_MODULE="webapp.settings")
for name in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME"):
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from bench.harness.report import machine  # noqa: E402
from gallery.models import Generation  # noqa: E402
from tests.factories import make_generation, make_image  # noqa: E402
from tests.storage_server import running_s3_server  # noqa: E402


def median_ms(action, repeat: int) -> float:
    action()  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    repeat = parser.parse_args().repeat
    setup_test_environment()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench", "bench@example.com", "password")
    client = Client()
    client.force_login(user)

    def thumbnail_url(image) -> str:
        return f"/images/{image.uuid}/thumbnail"

    print(machine())
    with override_settings(MEDIA_ROOT=str(Path(VAR) / "media")):
        disk_image = make_image(make_generation(user, status=Generation.Status.SUCCEEDED))
        disk = median_ms(lambda: b"".join(client.get(thumbnail_url(disk_image))), repeat)
    with running_s3_server() as server, override_settings(**server.new_bucket().settings(settings)):
        s3_image = make_image(make_generation(user, status=Generation.Status.SUCCEEDED))
        url = thumbnail_url(s3_image)
        redirect = median_ms(lambda: client.get(url), repeat)
        browser = httpx.Client()
        followed = median_ms(lambda: browser.get(client.get(url)["Location"]).content, repeat)
        with override_settings(MEDIA_STREAM=True):
            stream = median_ms(lambda: b"".join(client.get(url).streaming_content), repeat)
    print(f"thumbnail view, median of {repeat}; floor: media on disk, sent by Django")
    for name, ms in (
        ("disk (floor)", disk),
        ("S3: the view alone (access check + signed link)", redirect),
        ("S3: view + the browser's fetch from the store", followed),
        ("S3: MEDIA_STREAM=1, Atelier fetches and sends", stream),
    ):
        print(f"  {name:<50} {ms:7.2f} ms   {ms / disk:5.2f} x floor")


if __name__ == "__main__":
    main()
