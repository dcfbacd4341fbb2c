"""The form a team owner narrows a role's models with."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from gallery.policy.models import RoleModels, Rules
from jobs import catalog


class RoleModelsForm(forms.ModelForm):
    """What one role (editors or viewers) may use, within what the team may use."""

    model_ids = forms.MultipleChoiceField(
        label="Models", required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = RoleModels
        fields = ["scope", "model_ids", "max_usd_per_image"]
        widgets = {"scope": forms.RadioSelect}

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only what the team itself may use can be left to a role.
        rules = Rules.of(None, team)
        choices = [
            (m.id, f"{m.name} ({m.id})")
            for m in catalog.offered()
            if m.id not in rules.closed and (rules.team_list is None or m.id in rules.team_list)
        ]
        field = self.fields["model_ids"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = choices
        self.fields[
            "model_ids"
        ].label = f"Models {self.instance.get_role_display().lower()}s may use"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("scope") == RoleModels.Scope.SOME and not cleaned.get("model_ids"):
            raise ValidationError(
                "Tick at least one model for “Only the models ticked”, or choose “No model”."
            )
        return cleaned
