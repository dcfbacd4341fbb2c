"""Create the admin account on first run, with ADMIN_PASSWORD or a generated password.

A generated password is printed once and kept in var/admin_password (readable by this user
only) for the newcomer who missed the terminal line, until the admin first logs in: then
`gallery.accounts.logins` deletes the file.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin account if it does not exist yet."

    def handle(self, *args, **options) -> None:
        username = settings.ADMIN_USERNAME
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
            path = settings.VAR_DIR / "admin_password"
            # Created readable by this user only, before the password is written into it.
            path.unlink(missing_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as f:
                f.write(password + "\n")
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin account: username {username}, password {password} "
                    f"(also saved in {path} until the admin first logs in)"
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Created admin account {username}."))
