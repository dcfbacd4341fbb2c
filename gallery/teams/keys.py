"""A team's own provider keys: owners set and remove them; stored encrypted, shown only masked."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from gallery.access import Request, get_team
from gallery.models import Team
from gallery.teams import encryption
from gallery.teams.forms import KeysForm
from gallery.teams.models import KEYED_PROVIDERS, UnreadableKey

UNREADABLE = "stored (cannot be read with the current FIELD_ENCRYPTION_KEY)"


@login_required
@require_POST
def team_keys(request: Request, team_uuid) -> HttpResponse:
    """Owners set the team's own provider keys; stored encrypted, never shown whole again."""
    team = get_team(request, team_uuid, manage=True)
    form = KeysForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Those keys could not be saved.")
        return redirect("gallery:team-detail", team.uuid)
    if not encryption.configured():
        messages.error(request, "Set FIELD_ENCRYPTION_KEY on the server to store team keys.")
        return redirect("gallery:team-detail", team.uuid)
    for provider in KEYED_PROVIDERS:
        if f"{provider}_key" in form.cleaned_data["clear"]:
            team.set_provider_key(provider, "")
        elif value := form.cleaned_data[f"{provider}_key"].strip():
            team.set_provider_key(provider, value)
    team.save(update_fields=[f"{provider}_key" for provider in KEYED_PROVIDERS])
    messages.success(request, "Team keys saved.")
    return redirect("gallery:team-detail", team.uuid)


def masked_keys(team: Team) -> dict[str, str]:
    """The team's stored keys as their owners may see them: enough to recognise, never to use."""
    masked = {}
    for provider in KEYED_PROVIDERS:
        try:
            if key := team.provider_key(provider):
                masked[f"{provider}_key"] = encryption.mask(key)
        except UnreadableKey:
            masked[f"{provider}_key"] = UNREADABLE
    return masked
