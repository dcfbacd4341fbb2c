"""Rebuild the usage dashboard's daily roll-ups from the ledger (safe to run again)."""

from django.core.management.base import BaseCommand

from gallery.models import UsageDay


class Command(BaseCommand):
    help = "Roll up the usage ledger by day for the last N whole days (today stays live)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=2, help="Whole days before today.")

    def handle(self, *args, days: int, **options):
        done = UsageDay.objects.rebuild_recent(days)
        if done:
            self.stdout.write(f"Rolled up {len(done)} days, {done[0]} to {done[-1]}.")
