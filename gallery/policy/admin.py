"""The admin of which models may be used: turned off site-wide, each team's allow list, and
(for reading and fixing) what owners left each role."""

from django import forms
from django.contrib import admin

from gallery.admin_bases import ValuesInChangeMessage
from gallery.policy.models import ClosedModel, RoleModels, TeamModelList, model_choices


class ModelIdsField(forms.MultipleChoiceField):
    """The catalog's models as boxes to tick, stored as a list of ids."""

    def __init__(self, **kwargs):
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.pop("max_length", None)
        super().__init__(
            choices=model_choices, widget=forms.CheckboxSelectMultiple, required=False, **kwargs
        )


class ClosedModelForm(forms.ModelForm):
    model_id = forms.ChoiceField(label="Model", choices=model_choices)

    class Meta:
        model = ClosedModel
        fields = ["model_id", "reason"]


@admin.register(ClosedModel)
class ClosedModelAdmin(ValuesInChangeMessage):
    """Models listed here are offered to no one: the picker shows them greyed out, with the
    reason, and every way of starting a generation refuses them."""

    form = ClosedModelForm
    list_display = ["model_id", "reason", "created_at"]
    search_fields = ["model_id"]


class TeamModelListForm(forms.ModelForm):
    model_ids = ModelIdsField(label="Models the team may use")

    class Meta:
        model = TeamModelList
        fields = ["team", "model_ids"]


@admin.register(TeamModelList)
class TeamModelListAdmin(ValuesInChangeMessage):
    """A team with a list here may use only the models ticked (and not turned off site-wide);
    a team without one may use every model the site offers. Its owners can narrow it further
    for editors and viewers, on the team's Models page."""

    form = TeamModelListForm
    list_display = ["team", "updated_at"]
    search_fields = ["team__name"]
    raw_id_fields = ["team"]


class RoleModelsForm(forms.ModelForm):
    model_ids = ModelIdsField(label="Models ticked")

    class Meta:
        model = RoleModels
        fields = ["team", "role", "scope", "model_ids", "max_usd_per_image"]


@admin.register(RoleModels)
class RoleModelsAdmin(ValuesInChangeMessage):
    """What a team's owners left its editors or viewers, within the team's own list."""

    form = RoleModelsForm
    list_display = ["team", "role", "scope", "max_usd_per_image", "updated_at"]
    list_filter = ["role", "scope"]
    search_fields = ["team__name"]
    raw_id_fields = ["team"]
