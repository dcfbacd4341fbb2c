"""The generate form, built from the model catalog: each model shows exactly its own parameters."""

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.urls import reverse

from jobs import catalog
from jobs.catalog import PROVIDERS, Model, Param

CUSTOM = "custom"


class ModelSelect(forms.Select):
    """A select whose options can be disabled (a provider without a key) with a reason."""

    def __init__(self, *args, disabled: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.disabled = disabled or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if reason := self.disabled.get(str(value)):
            option["attrs"]["disabled"] = True
            option["label"] = f"{label} ({reason})"
        return option


def model_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for model in catalog.offered():
        group = f"{PROVIDERS[model.provider]} · {model.developer}"
        groups.setdefault(group, []).append((model.id, model_label(model)))
    return list(groups.items())


def model_label(model: Model) -> str:
    kind = catalog.KINDS.get(model.kind, model.kind)
    offline = " · offline" if model.provider == "sandbox" else ""
    return f"{model.name} ({kind}{offline})"


def field_name(param: Param) -> str:
    return f"p_{param.name}"


class GenerateForm(forms.Form):
    model = forms.ChoiceField(label="Model")
    prompt = forms.CharField(label="Prompt", widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, model_id: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        choices = model_choices()
        model_field = cast(forms.ChoiceField, self.fields["model"])
        model_field.choices = choices
        model_field.widget = ModelSelect(
            choices=choices,
            attrs={
                # Choosing a model swaps in its own fields; without JavaScript, a button does.
                "hx-get": reverse("gallery:model-fields"),
                "hx-trigger": "change",
                "hx-target": "#model-fields",
                "hx-swap": "outerHTML",
                "hx-include": "this",
            },
        )
        chosen = model_id or (self.data.get("model") if self.is_bound else None)
        self.catalog_model: Model = (
            catalog.get(chosen or "") or catalog.MODELS[catalog.DEFAULT_MODEL]
        )
        self.initial.setdefault("model", self.catalog_model.id)
        prompt = self.catalog_model.prompt
        if prompt is not None and prompt.max_length:
            self.fields["prompt"].validators.append(MaxLengthValidator(prompt.max_length))
            self.fields["prompt"].widget.attrs["maxlength"] = prompt.max_length
        for param in self.catalog_model.options:
            self.fields.update(build_fields(param))

    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("p_")]

    def clean_model(self) -> str:
        model = catalog.get(self.cleaned_data["model"])
        if model is None or not model.offered:
            raise ValidationError("Choose one of the models in the list.")
        return model.id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Fields were built for the model the data names; a mismatch means the page was stale.
        if cleaned.get("model") and cleaned["model"] != self.catalog_model.id:
            raise ValidationError("The model changed while the form was open; check its options.")
        for param in self.catalog_model.options:
            if param.type == "size":
                self._clean_size(param)
        return cleaned

    def _clean_size(self, param: Param) -> None:
        name = field_name(param)
        if self.cleaned_data.get(name) != CUSTOM:
            return
        width = self.cleaned_data.get(f"{name}_width")
        height = self.cleaned_data.get(f"{name}_height")
        if width is None or height is None:
            self.add_error(name, "Give both a width and a height for a custom size.")

    def params(self) -> dict[str, Any]:
        """The validated parameters, under the provider's own names, leaving out blanks."""
        params: dict[str, Any] = {}
        for param in self.catalog_model.options:
            value = self.cleaned_data.get(field_name(param))
            if param.type == "size" and value == CUSTOM:
                name = field_name(param)
                value = {
                    "width": self.cleaned_data[f"{name}_width"],
                    "height": self.cleaned_data[f"{name}_height"],
                }
            if value is not None and value != "":
                params[param.name] = value
        return params


def _multiple_of(step: int):
    def check(value: Any) -> None:
        if value is not None and value % step:
            raise ValidationError(f"Must be a multiple of {step}.")

    return check


def build_fields(param: Param) -> dict[str, forms.Field]:
    """The form field(s) for one documented parameter, with its limits as validators."""
    name = field_name(param)
    common: dict[str, Any] = {
        "label": param.title,
        "required": param.required,
        "help_text": param.help,
        "initial": param.default,
    }
    if param.type == "size":
        return _size_fields(param, common)
    if param.type in ("integer", "number"):
        field_class = forms.IntegerField if param.type == "integer" else forms.FloatField
        field = field_class(min_value=_bound(param.min), max_value=_bound(param.max), **common)
        if param.multiple_of:
            field.validators.append(_multiple_of(param.multiple_of))
            field.widget.attrs["step"] = param.multiple_of
        elif param.type == "number":
            field.widget.attrs["step"] = "any"
        return {name: field}
    if param.type == "boolean":
        common["required"] = False
        return {name: forms.BooleanField(**common)}
    if param.type == "enum":
        choices = [(v, str(v)) for v in param.enum]
        if not param.required and param.default is None:
            choices.insert(0, ("", "Provider default"))
        return {name: forms.TypedChoiceField(choices=choices, coerce=_coerce(param), **common)}
    widget = forms.Textarea(attrs={"rows": 2}) if "prompt" in param.name else None
    return {name: forms.CharField(max_length=param.max_length, widget=widget, **common)}


def _bound(value: float | None) -> Any:
    """Whole-number limits as ints, so integer fields render min="64" rather than "64.0"."""
    return int(value) if value is not None and float(value).is_integer() else value


def _coerce(param: Param):
    kinds = {type(v) for v in param.enum}
    if kinds == {int}:
        return int
    if kinds <= {int, float}:
        return float
    return str


def _size_fields(param: Param, common: dict[str, Any]) -> dict[str, forms.Field]:
    name = field_name(param)
    choices = [(v, size_label(v)) for v in param.enum]
    if param.custom_size:
        choices.append((CUSTOM, "Custom width × height"))
    fields: dict[str, forms.Field] = {
        name: forms.ChoiceField(choices=choices, **common),
    }
    if param.custom_size:
        for side in ("width", "height"):
            field = forms.IntegerField(
                label=side.capitalize(),
                required=False,
                min_value=_bound(param.min),
                max_value=_bound(param.max),
                help_text=f"{param.min:g}–{param.max:g} px"
                + (f", a multiple of {param.multiple_of}" if param.multiple_of else ""),
            )
            if param.multiple_of:
                field.validators.append(_multiple_of(param.multiple_of))
                field.widget.attrs["step"] = param.multiple_of
            fields[f"{name}_{side}"] = field
    return fields


def size_label(value: str) -> str:
    if value in catalog.SIZE_PRESETS:
        width, height = catalog.SIZE_PRESETS[value]
        return f"{value.replace('_', ' ')} ({width}×{height})"
    return value.replace("x", "×")
