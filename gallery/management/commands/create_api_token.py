"""`manage.py create_api_token USERNAME [--team TEAM] --name NAME`: print a new API token.

For automation (a CI job, a provisioning script): the token is printed once, on its own line,
and only its digest is kept. TEAM is a team's name or uuid; left out, the person's own space.
"""

import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gallery.models import ApiToken, Team, one_line, personal_team


class Command(BaseCommand):
    help = "Print a new API token for USERNAME, acting in TEAM (default: their own space)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument("--team", help="A team's name or uuid; default: the personal space.")
        parser.add_argument("--days", type=int, help="Expire after this many days (default never).")
        parser.add_argument("--read-only", action="store_true", help="It can read, not change.")

    def handle(self, *args, username: str, name: str, team: str | None, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user named {username!r}.")
        name = name.strip()
        try:
            one_line(name)
        except ValidationError as e:
            raise CommandError(e.messages[0]) from None
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters.")
        days = options["days"]
        if days is not None and days < 1:
            raise CommandError("--days must be 1 or more.")
        chosen = _team(user, team)
        expires_at = timezone.now() + timedelta(days=days) if days else None
        _, text = ApiToken.issue(
            user, chosen, name, expires_at=expires_at, read_only=options["read_only"]
        )
        self.stdout.write(text)


def _team(user, wanted: str | None) -> Team:
    if not wanted:
        return personal_team(user)
    theirs = Team.objects.of(user)
    try:
        found = list(theirs.filter(uuid=uuid.UUID(wanted)))
    except ValueError:
        found = list(theirs.filter(name=wanted))
    if not found:
        raise CommandError(f"{user.get_username()} is in no team {wanted!r}.")
    if len(found) > 1:
        raise CommandError(
            f"{user.get_username()} is in several teams named {wanted!r}: give its uuid."
        )
    return found[0]
