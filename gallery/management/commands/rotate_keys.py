"""Re-encrypt every team key with the first FIELD_ENCRYPTION_KEY (after adding a new one first)."""

from django.core.management.base import BaseCommand

from gallery.models import Team


class Command(BaseCommand):
    help = "Re-encrypt stored team keys with the newest FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options) -> None:
        rotated = 0
        for team in Team.objects.exclude(aimlapi_key="", relay_key=""):
            rotated += team.rotate_provider_keys()
        self.stdout.write(f"Re-encrypted the keys of {rotated} team(s).")
