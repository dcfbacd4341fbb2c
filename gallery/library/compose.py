"""The library and the generate form: a preset or a style filling it in, the form saved as a
preset. The form stays the one place that validates what a generation asks for."""

from typing import Any

from django.http import QueryDict

from gallery.images.fields import field_name, form_values
from gallery.images.forms import GenerateForm
from gallery.library.models import Preset, Style
from gallery.models import Team
from jobs import catalog

NEGATIVE = "negative_prompt"


def preset_initial(preset: Preset, subject: str) -> dict[str, Any]:
    """The form's values for a preset: its model, its prompt for the subject, its options."""
    initial: dict[str, Any] = {"model": preset.model_id, "prompt": preset.fill(subject)}
    if model := catalog.get(preset.model_id):
        initial |= form_values(model, preset.params)
    return initial


def style_initial(data: QueryDict, style: Style) -> dict[str, Any]:
    """The form's values as sent, with the style added to the prompt and, where the model
    takes one, to the negative prompt. (Pictures chosen as files cannot come back.)"""
    initial: dict[str, Any] = {
        name: values if len(values) > 1 or name.endswith("_pick") else values[0]
        for name, values in data.lists()
        if name != "csrfmiddlewaretoken"
    }
    model = catalog.get(str(initial.get("model", "")))
    negative_field = f"p_{NEGATIVE}"
    takes_negative = model is not None and model.param(NEGATIVE) is not None
    prompt, negative = style.applied(
        str(initial.get("prompt", "")), initial.get(negative_field, "") if takes_negative else None
    )
    initial["prompt"] = prompt
    if negative is not None:
        initial[negative_field] = negative
    return initial


def preset_params(form: GenerateForm) -> dict[str, Any]:
    """A checked form's options under the provider's names, without pictures: those belong to
    one generation, not to a starting point. Call only without files (nothing is stored)."""
    pictures = {p.name for p in form.catalog_model.image_params}
    return {k: v for k, v in form.params().items() if k not in pictures}


def savable(form: GenerateForm) -> bool:
    """Valid but for the pictures a preset leaves out (a model that needs one still saves)."""
    form.is_valid()
    pictures = {field_name(p) for p in form.catalog_model.image_params}
    pictures |= {f"{name}_pick" for name in pictures}
    return not set(form.errors) - pictures


def save_preset(form: GenerateForm, team: Team, user: Any) -> Preset:
    """The form as a new preset of the team, named after its prompt (renamed later at will)."""
    prompt = form.cleaned_data.get("prompt", "")
    words = "".join(c for c in " ".join(prompt.split()) if c.isprintable())
    base = words[:60] or form.catalog_model.name
    name, n = base, 1
    while Preset.objects.filter(team=team, name=name).exists():
        n += 1
        name = f"{base} ({n})"
    return Preset.objects.create(
        team=team,
        name=name,
        model_id=form.catalog_model.id,
        prompt=prompt,
        params=preset_params(form),
        created_by=user,
    )
