"""The generate form's fields, one builder per documented parameter type, with its limits as
validators; the model select, grouped by provider, that chooses which fields there are; and
stored parameters turned back into the fields' values (a retry, "Use these settings", a try)."""

import json
from collections.abc import Callable
from html import escape
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.safestring import SafeString, mark_safe

from gallery.access import as_uuid
from gallery.images import masks
from gallery.models import Image, InputImage
from jobs import catalog, images
from jobs.catalog import PROVIDERS, Model, Param
from jobs.providers import a1111

CUSTOM = "custom"
# The longest text a parameter without a documented limit takes (most documented ones allow
# 4000; the request itself could carry 10 MB).
TEXT_MAX_LENGTH = 4000


class QuickSelect(forms.Select):
    """A select written out in Python, the same markup as Django's templates give.

    Django renders each option through two templates; for the model list's ~95 options that
    cost more than the rest of the gallery page's form (bench/README.md, load.py). Plain
    string building with the standard library's escape keeps it near a millisecond."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group, options, _index in widget["optgroups"]:
            if group:
                parts.append(f'<optgroup label="{_escape(group)}">')
            parts.extend(
                f'<option value="{_escape(o["value"])}"{_attrs(o["attrs"])}>'
                f"{_escape(o['label'])}</option>"
                for o in options
            )
            if group:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value escaped on the way in


def _escape(value: Any) -> str:
    """Django's conditional_escape, without its lazy-string wrapper (the cost here)."""
    return str(value.__html__()) if hasattr(value, "__html__") else escape(str(value))


def _attrs(attrs: dict[str, Any]) -> str:
    """As django/forms/widgets/attrs.html: True alone, False (and None) left out."""
    return "".join(
        f" {key}" if value is True else f' {key}="{_escape(value)}"'
        for key, value in attrs.items()
        if value is not False and value is not None
    )


class ModelSelect(QuickSelect):
    """A select whose options can be disabled (a provider without a key) with a reason, and
    carry what the model picker shows about each model (`details`: its data attributes by
    model id, asked for only when the select is rendered)."""

    def __init__(
        self,
        *args,
        disabled: dict[str, str] | None = None,
        details: Callable[[], dict[str, dict[str, str]]] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.disabled = disabled or {}
        self.details = details
        self.shown: dict[str, dict[str, str]] = {}

    def get_context(self, name, value, attrs):
        self.shown = self.details() if self.details else {}
        return super().get_context(name, value, attrs)

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        # What the picker shows first, so selected and disabled still close the tag.
        option["attrs"] = {**self.shown.get(str(value), {}), **option["attrs"]}
        if reason := self.disabled.get(str(value)):
            option["attrs"]["disabled"] = True
            option["label"] = f"{label} ({reason})"
        return option


def unavailable_models(team: Any = None) -> dict[str, str]:
    """Models shown but not usable yet, with the setting that would enable them."""
    return {
        m.id: f"set {missing} to use"
        for m in catalog.offered()
        if (missing := catalog.missing_setting(m, team))
    }


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


def counted(template: str, n: int) -> str:
    return template.format(n=n, s="" if n == 1 else "s")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImageUploadField(forms.FileField):
    """One or several uploaded pictures, each decoded with Pillow before it is accepted."""

    def __init__(self, *, multiple: bool, **kwargs: Any) -> None:
        attrs = {"accept": "image/png,image/jpeg,image/webp"}
        if multiple:
            attrs["multiple"] = "multiple"
        kwargs["widget"] = MultipleFileInput(attrs=attrs) if multiple else forms.FileInput(attrs)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:  # type: ignore[override]
        items = data if isinstance(data, list | tuple) else [data] if data else []
        return [self._check(super(ImageUploadField, self).clean(item, initial)) for item in items]

    def _check(self, upload: UploadedFile) -> UploadedFile:
        limit = settings.UPLOAD_MAX_BYTES
        if upload.size and upload.size > limit:
            raise ValidationError(
                f"{upload.name} is larger than {filesizeformat(limit)}; use a smaller picture."
            )
        try:
            upload.inspected = images.inspect(upload.read())  # type: ignore[attr-defined]
        except images.ImageError:
            raise ValidationError(f"{upload.name} is not a PNG, JPEG or WebP picture.") from None
        return upload


class PickImages(forms.CheckboxSelectMultiple):
    """Pictures already in the gallery, shown as thumbnails to tick."""

    template_name = "gallery/widgets/pick_images.html"


class PickField(forms.TypedMultipleChoiceField):
    """Ticks among the recent pictures; an older one the person may use is accepted too (a
    retry or "Use these settings" carries the pictures a generation started from)."""

    def __init__(self, *, usable: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.usable = usable

    def valid_value(self, value: Any) -> bool:
        if super().valid_value(value):
            return True
        return as_uuid(value) is not None and self.usable.filter(uuid=value).exists()


def _pick_field(param: Param, user: Any, team: Any) -> forms.Field:
    usable = Image.objects.visible_to(user) if user is not None else Image.objects.none()
    if team is not None:
        # The worker sends only the generation's own team's pictures: offer only those.
        usable = usable.filter(team=team)
    recent = usable.select_related("generation").order_by("-created_at")[:24]
    return PickField(
        usable=usable,
        label=f"{param.title} from your gallery",
        required=False,
        coerce=str,
        choices=[(str(i.uuid), i.generation.prompt[:80]) for i in recent],
        widget=PickImages,
    )


def _image_fields(
    param: Param, common: dict[str, Any], user: Any, team: Any
) -> dict[str, forms.Field]:
    name = field_name(param)
    most = 1 if param.type == "image" else param.max_items
    help_text = param.help + (f" Up to {most}." if most and most > 1 else "")
    upload = ImageUploadField(
        multiple=param.type == "images",
        label=param.title,
        required=False,
        help_text=help_text.strip(),
    )
    upload.widget.attrs |= masks.widget_attrs(param)
    return {name: upload, f"{name}_pick": _pick_field(param, user, team)}


def _at_most_items(most: int):
    def check(value: Any) -> None:
        if isinstance(value, list) and len(value) > most:
            raise ValidationError(counted("Give at most {n} item{s}.", most))

    return check


def _multiple_of(step: int):
    def check(value: Any) -> None:
        if value is not None and value % step:
            raise ValidationError(f"Must be a multiple of {step}.")

    return check


def _no_picture_references(value: Any) -> None:
    # Pictures go only through the picture fields, where the worker checks whose they are.
    if catalog.holds_picture_reference(value):
        raise ValidationError(
            'A picture cannot be named here ({"image": …} or {"upload": …}); '
            "use the picture fields."
        )


class JSONDecoder(json.JSONDecoder):
    """Invalid JSON, not a server error, for a value nested deeper than Python's stack."""

    def decode(self, s: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().decode(s, *args, **kwargs)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", s, 0) from None


def build_fields(param: Param, user: Any = None, team: Any = None) -> dict[str, forms.Field]:
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
    if param.type in ("image", "images"):
        return _image_fields(param, common, user, team)
    if param.type == "json":
        json_field = forms.JSONField(decoder=JSONDecoder, **common)
        json_field.validators.append(_no_picture_references)
        if param.max_items:
            json_field.validators.append(_at_most_items(param.max_items))
        return {name: json_field}
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
        if param.default is None:
            # No documented default: leave it to the provider unless the person chooses.
            return {name: forms.NullBooleanField(widget=ProviderDefaultBoolean, **common)}
        return {name: forms.BooleanField(**common)}
    if param.type == "enum":
        choices = [(v, str(v)) for v in param.enum or dynamic_choices(param)]
        if not param.required and param.default is None:
            choices.insert(0, ("", "Provider default"))
        return {name: forms.TypedChoiceField(choices=choices, coerce=_coerce(param), **common)}
    widget = forms.Textarea(attrs={"rows": 2}) if "prompt" in param.name else None
    most = param.max_length or TEXT_MAX_LENGTH
    return {name: forms.CharField(max_length=most, widget=widget, **common)}


def _bound(value: float | None) -> Any:
    """Whole-number limits as ints, so integer fields render min="64" rather than "64.0"."""
    return int(value) if value is not None and float(value).is_integer() else value


class ProviderDefaultBoolean(forms.NullBooleanSelect):
    def __init__(self, attrs: Any = None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", "Provider default"), ("true", "Yes"), ("false", "No")]


def dynamic_choices(param: Param) -> list[Any]:
    """Choices only the provider knows, e.g. the checkpoints on a person's own A1111 server."""
    if param.name == "sd_model_checkpoint":
        return a1111.checkpoints(settings.A1111_BASE_URL)
    return []


def _coerce(param: Param):
    kinds = {type(v) for v in param.enum}
    if not kinds:
        return str
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
                help_text=_side_help(param),
            )
            if param.multiple_of:
                field.validators.append(_multiple_of(param.multiple_of))
                field.widget.attrs["step"] = param.multiple_of
            fields[f"{name}_{side}"] = field
    return fields


def _side_help(param: Param) -> str:
    parts = []
    if param.min is not None and param.max is not None:
        parts.append(f"{param.min:g}–{param.max:g} px")
    if param.multiple_of:
        parts.append(f"a multiple of {param.multiple_of}")
    return ", ".join(parts)


def size_label(value: str) -> str:
    if value in catalog.SIZE_PRESETS:
        width, height = catalog.SIZE_PRESETS[value]
        return f"{value.replace('_', ' ')} ({width}×{height})"
    return value.replace("x", "×")


def form_values(model: Model, params: dict[str, Any]) -> dict[str, Any]:
    """The form's values for stored parameters: "Use these settings" shows them as the form's
    initial values, a retry sends them as its data. Uploads are not form values (see `kept`)."""
    values: dict[str, Any] = {}
    for param in model.options:
        if param.name not in params:
            continue
        value, name = params[param.name], field_name(param)
        if param.type in ("image", "images"):
            refs = value if isinstance(value, list) else [value]
            values[f"{name}_pick"] = [
                r["image"] for r in refs if isinstance(r, dict) and "image" in r
            ]
        elif param.type == "size" and isinstance(value, dict):
            values |= {
                name: CUSTOM,
                f"{name}_width": value.get("width"),
                f"{name}_height": value.get("height"),
            }
        else:
            values[name] = value
    return values


def kept_uploads(model: Model, params: dict[str, Any], owner: Any) -> dict[str, list]:
    """The uploads a generation's image inputs name, by parameter; None for one that is gone
    (or was never its owner's)."""
    kept: dict[str, list] = {}
    for param in model.image_params:
        value = params.get(param.name)
        refs = value if isinstance(value, list) else [value]
        wanted = [str(r["upload"]) for r in refs if isinstance(r, dict) and "upload" in r]
        found = {
            str(item.uuid): item
            for item in InputImage.objects.filter(
                owner=owner, uuid__in=[u for u in wanted if as_uuid(u)]
            )
        }
        if wanted:
            kept[param.name] = [found.get(u) for u in wanted]
    return kept


def default_data(model: Model, prompt: str) -> dict[str, Any]:
    """Bound form data that asks a model for its documented defaults."""
    data: dict[str, Any] = {"model": model.id, "prompt": prompt}
    for param in model.options:
        if param.default is None or param.type in ("image", "images", "json"):
            continue
        if param.type == "boolean":
            if param.default:
                data[field_name(param)] = "on"
            continue
        data[field_name(param)] = param.default
    return data
