"""Where and with which key a model's provider is reached: the server's keys, or the team's own."""

from django.conf import settings

from gallery.models import Generation, Team, UnreadableKey
from jobs import catalog
from jobs.providers import (
    Connection,
)
from jobs.sandbox import auth as sandbox_auth

Status = Generation.Status


def connection_for(model: catalog.Model, team: Team | None = None) -> Connection:
    """Where to send a model's requests, with the team's own key when it has one.

    Keys are read here, in the worker, from settings or the database: never from task
    arguments, so they never travel through the broker.
    """
    if model.provider == "sandbox":
        return Connection(settings.SANDBOX_BASE_URL, sandbox_auth.key())
    if model.provider == "aimlapi":
        key = team_key(team, "aimlapi") or settings.AIMLAPI_API_KEY
        return Connection(settings.AIMLAPI_BASE_URL, key)
    if model.provider == "relay":
        return Connection(
            settings.RELAY_BASE_URL, team_key(team, "relay") or settings.RELAY_API_KEY
        )
    return Connection(settings.A1111_BASE_URL)


def team_key(team: Team | None, provider: str) -> str:
    """The team's own key for a provider ("" if none); UnreadableKey if it cannot be read."""
    return team.provider_key(provider) if team is not None else ""


def known_keys(team: Team | None) -> list[str]:
    """Every key the worker may have sent for this team's generations: the site's, the team's
    own (decrypted here as for a request), the sandbox's."""
    keys = [settings.AIMLAPI_API_KEY, settings.RELAY_API_KEY, sandbox_auth.key()]
    for provider in ("aimlapi", "relay"):
        try:
            keys.append(team_key(team, provider))
        except UnreadableKey:
            continue  # a key that cannot be decrypted was never sent
    return keys
