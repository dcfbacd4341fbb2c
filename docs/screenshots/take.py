"""Take the README's screenshots of the gallery: desktop light, desktop dark and a phone.

    .venv/bin/python docs/screenshots/take.py after            # this checkout
    .venv/bin/python docs/screenshots/take.py before --app DIR  # another checkout (e.g. main)

It runs the app in DIR as an operator would (gunicorn on SQLite in a temporary VAR_DIR, so it
touches no database of yours), seeds a gallery with `manage.py seed_gallery`, adds one picture
in flight and one that failed, and drives Debian's Chromium (never a downloaded browser) to
save `<label>-desktop-light.png`, `<label>-desktop-dark.png` and `<label>-phone.png` here.
No worker runs: the in-flight card stays in flight, as a screenshot wants it.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
SHOTS = {
    "desktop-light": {"viewport": {"width": 1440, "height": 900}, "color_scheme": "light"},
    "desktop-dark": {"viewport": {"width": 1440, "height": 900}, "color_scheme": "dark"},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "color_scheme": "light",
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
# Run inside the app's `manage.py shell`: the person, and two cards besides the seeded images.
SETUP = """
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user("demo", password="demo-password")
"""
CARDS = """
from django.contrib.auth import get_user_model
from gallery.models import Generation, personal_team
user = get_user_model().objects.get(username="demo")
team = personal_team(user)
for status, prompt, error in (
    (Generation.Status.FAILED, "a glass whale over a city", "The provider refused the prompt."),
    (Generation.Status.RUNNING, "a lighthouse in a storm, oil on canvas", ""),
):
    Generation.objects.create(owner=user, team=team, gallery=team.default_gallery(),
        model_id="sandbox/flux-sync", provider="sandbox", prompt=prompt, params={},
        status=status, error=error)
"""


# Every picture in sight has loaded (lazy ones below the fold never will, unscrolled).
SHOWN = """() => [...document.querySelectorAll('#grid img')]
  .filter(i => i.getBoundingClientRect().top < innerHeight)
  .every(i => i.complete && i.naturalWidth > 0)"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(app: Path, env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=app, env=env, check=True)


def serve(app: Path, env: dict, port: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "webapp.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=app,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("The app did not start.")


def shoot(base: str, label: str) -> None:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        for name, options in SHOTS.items():
            context = browser.new_context(**options)
            page = context.new_page()
            page.goto(f"{base}/login/")
            page.get_by_label("Username").fill("demo")
            page.get_by_label("Password").fill("demo-password")
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state("networkidle")
            page.wait_for_function(SHOWN)
            path = HERE / f"{label}-{name}.png"
            page.screenshot(path=str(path))
            print(path)
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("label", help="the files' prefix: before, after")
    parser.add_argument("--app", type=Path, default=HERE.parent.parent, help="the checkout")
    parser.add_argument("--images", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env |= {"VAR_DIR": var, "DEBUG": "0", "SANDBOX_ENABLED": "1"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        manage(args.app, env, "migrate", "--noinput", "-v", "0")
        manage(args.app, env, "collectstatic", "--noinput", "-v", "0")
        manage(args.app, env, "shell", "-c", SETUP)
        manage(args.app, env, "seed_gallery", "--images", str(args.images), "--owner", "demo")
        manage(args.app, env, "shell", "-c", CARDS)
        port = free_port()
        server = serve(args.app, env, port)
        try:
            shoot(f"http://127.0.0.1:{port}", args.label)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
