"""The team's Models page: its owners narrow what editors and viewers may use."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from gallery.access import Request, get_team
from gallery.policy.forms import RoleModelsForm
from gallery.policy.models import RoleModels, Rules


@login_required
@require_http_methods(["GET", "POST"])
def team_models(request: Request, team_uuid) -> HttpResponse:
    team = get_team(request, team_uuid, manage=True)
    data = request.POST if request.method == "POST" else None
    forms = [
        RoleModelsForm(
            data,
            team=team,
            prefix=role,
            instance=RoleModels.objects.filter(team=team, role=role).first()
            or RoleModels(team=team, role=role),
        )
        for role, _ in RoleModels.ROLES
    ]
    if data is not None and all(form.is_valid() for form in forms):
        for form in forms:
            form.save()
        messages.success(request, "Saved what each role may use.")
        return redirect("gallery:team-models", team.uuid)
    rules = Rules.of(None, team)
    context = {"team": team, "forms": forms, "team_list": rules.team_list, "closed": rules.closed}
    status = 400 if data is not None else 200
    return TemplateResponse(request, "gallery/team_models.html", context, status=status)
