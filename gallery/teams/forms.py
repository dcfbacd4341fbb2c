"""The teams' forms: a new team, an invitation, the team's provider keys."""

from django import forms

from gallery.models import Membership, one_line

Role = Membership.Role


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=100, validators=[one_line])


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email (optional)", required=False)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.EDITOR)


def _key_field(label: str) -> forms.CharField:
    """A key is typed, never shown: the input is a password box that is always empty, and the
    browser is asked not to fill in the person's own password there."""
    widget = forms.PasswordInput(attrs={"autocomplete": "new-password"})
    return forms.CharField(label=label, required=False, max_length=500, widget=widget)


class KeysForm(forms.Form):
    aimlapi_key = _key_field("AI/ML API key")
    relay_key = _key_field("Relay key")
    clear = forms.MultipleChoiceField(
        label="Remove",
        required=False,
        choices=[("aimlapi_key", "AI/ML API key"), ("relay_key", "Relay key")],
        widget=forms.CheckboxSelectMultiple,
    )
