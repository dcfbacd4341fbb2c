"""The person's API tokens page: make one (shown once), see when each was last used, revoke."""

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from gallery.access import Request, get_api_token
from gallery.accounts import throttle
from gallery.models import ApiToken, Team, one_line
from gallery.usage.limits import month_start

EXPIRY = [
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("7", "In 7 days"),
    ("", "Never"),
]


class TeamChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return "Your own space" if obj.personal else obj.name


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        validators=[one_line],
        help_text="What it is for, e.g. “nightly batch” or “laptop scripts”.",
    )
    team = TeamChoice(
        label="Team",
        queryset=Team.objects.none(),
        empty_label=None,
        to_field_name="uuid",
        help_text="It acts in this team only, with your role there.",
    )
    expires = forms.ChoiceField(label="Expires", choices=EXPIRY, required=False)
    read_only = forms.BooleanField(
        label="Read only", required=False, help_text="It can look, not generate or change."
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = Team.objects.of(user)

    def issue(self, user: Any) -> tuple[ApiToken, str]:
        days = self.cleaned_data["expires"]
        expires_at = timezone.now() + timedelta(days=int(days)) if days else None
        return ApiToken.issue(
            user,
            self.cleaned_data["team"],
            self.cleaned_data["name"],
            expires_at=expires_at,
            read_only=self.cleaned_data["read_only"],
        )


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: Request) -> HttpResponse:
    """The list, and the form; a token just made is shown in full on this answer only."""
    form = TokenForm(request.POST or None, user=request.user)
    created, status = None, 200
    if request.method == "POST":
        if form.is_valid() and (refused := throttle.refusal(request.user, "api_token")):
            form.add_error(None, refused)
        if form.is_valid():
            created = form.issue(request.user)
            form, status = TokenForm(user=request.user), 201
        else:
            status = 429 if form.non_field_errors() else 400
    tokens = ApiToken.objects.of(request.user).with_usage(month_start()).select_related("team")
    context = {"form": form, "tokens": tokens, "created": created}
    response = TemplateResponse(request, "gallery/api_tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may hold a secret, once
    return response


@login_required
@require_POST
def revoke_api_token(request: Request, token_uuid) -> HttpResponse:
    token = get_api_token(request, token_uuid)
    if token.revoke():
        messages.success(request, f"Revoked “{token.name}”: it no longer works.")
    return redirect("gallery:api-tokens")
