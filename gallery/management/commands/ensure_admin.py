"""Create the admin account on first run, with ADMIN_PASSWORD or a generated password."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin account if it does not exist yet."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("ADMIN_USERNAME", "admin")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin account: {username} (already set up)")
            return
        password = os.environ.get("ADMIN_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            # Kept for the newcomer who missed the terminal line; readable by this user only.
            path = settings.VAR_DIR / "admin_password"
            path.write_text(password + "\n")
            path.chmod(0o600)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin account: username {username}, password {password} "
                    f"(also saved in {path})"
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Created admin account {username}."))
