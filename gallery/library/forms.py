"""Forms for the library page: a style, and a preset's name and prompt."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from gallery.library.models import Preset, Style


class NamedInTeam(forms.ModelForm):
    """A name unique in the team, said in words rather than as a database error."""

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.team = team

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        taken = type(self.instance).objects.filter(team=self.instance.team, name=name)
        if taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"The team already has one named “{name}”.")
        return name


class StyleForm(NamedInTeam):
    class Meta:
        model = Style
        fields = ["name", "suffix", "negative"]
        widgets = {
            "suffix": forms.Textarea(attrs={"rows": 2}),
            "negative": forms.Textarea(attrs={"rows": 2}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("suffix", "").strip() and not cleaned.get("negative", "").strip():
            raise ValidationError("Write words to add to the prompt, a negative prompt, or both.")
        return cleaned


class PresetForm(NamedInTeam):
    class Meta:
        model = Preset
        fields = ["name", "prompt"]
        labels = {"prompt": "Prompt template"}
        help_texts = {
            "prompt": "Write {subject} where the subject goes when the preset is applied."
        }
        widgets = {"prompt": forms.Textarea(attrs={"rows": 3})}
