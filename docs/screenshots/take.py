"""Take the README's screenshots of a running Atelier: desktop light, desktop dark, phone.

    python docs/screenshots/take.py http://127.0.0.1:8000 USERNAME PASSWORD PREFIX

writes PREFIX-desktop-light.png, PREFIX-desktop-dark.png and PREFIX-phone.png next to this file.
The dark shot asks for the system's dark setting, as a person's browser would.
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
SHOTS = {
    "desktop-light": {"viewport": DESKTOP, "color_scheme": "light"},
    "desktop-dark": {"viewport": DESKTOP, "color_scheme": "dark"},
    "phone": {"viewport": PHONE, "color_scheme": "light", "is_mobile": True},
}


def main(url: str, username: str, password: str, prefix: str) -> None:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        for name, options in SHOTS.items():
            context = browser.new_context(**options)
            page = context.new_page()
            page.goto(f"{url}/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=HERE / f"{prefix}-{name}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
