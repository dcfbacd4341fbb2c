"""Re-encrypt every team key with the first FIELD_ENCRYPTION_KEY (after adding a new one first)."""

from django.core.management.base import BaseCommand

from gallery.models import Team
from gallery.teams import encryption as secrets


class Command(BaseCommand):
    help = "Re-encrypt stored team keys with the newest FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options) -> None:
        rotated = 0
        for team in Team.objects.exclude(aimlapi_key="", relay_key=""):
            for name in ("aimlapi_key", "relay_key"):
                if stored := getattr(team, name):
                    setattr(team, name, secrets.rotate(stored))
            team.save(update_fields=["aimlapi_key", "relay_key"])
            rotated += 1
        self.stdout.write(f"Re-encrypted the keys of {rotated} team(s).")
