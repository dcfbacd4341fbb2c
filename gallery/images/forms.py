"""The generate form, built from the model catalog: each model shows exactly its own parameters."""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxLengthValidator
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from gallery.models import Budget, Gallery, Image, InputImage, Price, personal_team
from gallery.policy import rules
from gallery.usage.limits import Limit, OverBudget
from jobs import catalog, images
from jobs.catalog import PROVIDERS, Model, Param
from jobs.providers import a1111

CUSTOM = "custom"
# The longest text a parameter without a documented limit takes (most documented ones allow
# 4000; the request itself could carry 10 MB).
TEXT_MAX_LENGTH = 4000


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


class GenerateForm(forms.Form):
    model = forms.ChoiceField(
        label="Model", error_messages={"invalid_choice": "Choose one of the models in the list."}
    )
    prompt = forms.CharField(label="Prompt", widget=forms.Textarea(attrs={"rows": 3}))

    gallery = forms.ModelChoiceField(
        label="Gallery",
        queryset=Gallery.objects.none(),
        empty_label=None,
        required=False,
        help_text="Where the images will go.",
    )

    def __init__(
        self,
        *args: Any,
        user: Any = None,
        team: Any = None,
        model_id: str | None = None,
        kept: dict[str, list[InputImage | None]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if team is None and user is not None and user.is_authenticated:
            team = personal_team(user)
        self.user, self.team = user, team
        # Uploads an earlier generation sent, by parameter, sent again (None: one that is gone).
        self.kept = kept or {}
        # Uploads `params()` stored, removed again if the generation is not made after all.
        self.stored: list[InputImage] = []
        galleries = Gallery.objects.editable_by(user).distinct() if user else Gallery.objects.none()
        if team is not None:
            galleries = galleries.filter(team=team)
        gallery_field = cast(forms.ModelChoiceField, self.fields["gallery"])
        gallery_field.queryset = galleries.order_by("created_at", "id")
        gallery_field.to_field_name = "uuid"
        if team is not None and "gallery" not in self.initial:
            self.initial["gallery"] = team.default_gallery().uuid
        choices = model_choices()
        model_field = cast(forms.ChoiceField, self.fields["model"])
        model_field.choices = choices
        # Why each model is unavailable: a missing setting first, then the team's rules.
        disabled = rules.unavailable(user, team) | unavailable_models(team)
        model_field.widget = ModelSelect(
            choices=choices,
            disabled=disabled,
            attrs={
                # Choosing a model swaps in its own fields; without JavaScript, a button does.
                "hx-get": reverse("gallery:model-fields"),
                "hx-trigger": "change",
                "hx-target": "#model-fields",
                "hx-swap": "outerHTML",
                "hx-include": "this",
            },
        )
        chosen = model_id or (
            self.data.get("model") if self.is_bound else self.initial.get("model")
        )
        self.catalog_model: Model = catalog.get(chosen or "") or rules.first_usable(
            catalog.default_model(team), disabled
        )
        self.initial.setdefault("model", self.catalog_model.id)
        prompt = self.catalog_model.prompt
        self.fields["prompt"].required = prompt is not None and prompt.required
        if prompt is None:
            self.fields["prompt"].help_text = "This model takes no prompt; it is kept as a note."
        most = (prompt and prompt.max_length) or TEXT_MAX_LENGTH
        self.fields["prompt"].validators.append(MaxLengthValidator(most))
        self.fields["prompt"].widget.attrs["maxlength"] = most
        for param in self.catalog_model.options:
            self.fields.update(build_fields(param, user, team))

    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("p_")]

    @cached_property
    def limits(self) -> list[Limit]:
        """The person's and the team's limits with what is used, shown under the form."""
        if self.team is None or self.user is None or not self.user.is_authenticated:
            return []
        return Budget.limits(self.user, self.team)

    @cached_property
    def price(self) -> str:
        return Price.note(self.catalog_model)

    def clean_gallery(self) -> Gallery | None:
        gallery = self.cleaned_data.get("gallery")
        if gallery is None and self.team is not None:
            return self.team.default_gallery()
        return gallery

    def clean_model(self) -> str:
        model = catalog.get(self.cleaned_data["model"])
        if model is None or not model.offered:
            raise ValidationError("Choose one of the models in the list.")
        if missing := catalog.missing_setting(model, self.team):
            raise ValidationError(f"{model.name} needs {missing}, which is not set on this server.")
        # The price ceiling, which can depend on the options, is checked by start_generation.
        if refused := rules.Rules.of(self.user, self.team).listed(model):
            raise ValidationError(f"{model.name} is {refused}.")
        return model.id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Fields were built for the model the data names; a mismatch means the page was stale.
        if cleaned.get("model") and cleaned["model"] != self.catalog_model.id:
            raise ValidationError("The model changed while the form was open; check its options.")
        for param in self.catalog_model.options:
            if param.type == "size":
                self._clean_size(param)
            elif param.type in ("image", "images"):
                self._clean_images(param)
        if problem := self._over_quota():
            self.add_error(*problem)
        return cleaned

    def _over_quota(self, *, lock: bool = False) -> tuple[str, str] | None:
        """(field, why) when the new uploads would take the person's uploads kept at once past
        UPLOAD_QUOTA_BYTES; None when they fit.

        With `lock`, inside the transaction that stores them: the person's row is locked first
        (as `Usage.open` locks it), so requests racing each other are counted in turn.
        """
        names = [field_name(p) for p in self.catalog_model.image_params]
        adding = sum(u.size or 0 for name in names for u in self.cleaned_data.get(name) or [])
        if not adding or self.user is None or not self.user.is_authenticated:
            return None
        if lock:
            get_user_model().objects.select_for_update().filter(pk=self.user.pk).first()
        kept = InputImage.objects.filter(owner=self.user).aggregate(total=Sum("byte_size"))
        used, most = kept["total"] or 0, settings.UPLOAD_QUOTA_BYTES
        if used + adding <= most:
            return None
        field = next(name for name in names if self.cleaned_data.get(name))
        return field, (
            f"These pictures ({filesizeformat(adding)}) and your uploads kept from before "
            f"({filesizeformat(used)}) would be more than the {filesizeformat(most)} each "
            "person may keep. Uploads no generation needs any more are removed after a day; "
            "use fewer or smaller pictures, or try again then."
        )

    def _clean_size(self, param: Param) -> None:
        name = field_name(param)
        if self.cleaned_data.get(name) != CUSTOM:
            return
        sides = (f"{name}_width", f"{name}_height")
        if any(side in self.errors for side in sides):
            return  # the side's own message says what is wrong with it
        if any(self.cleaned_data.get(side) is None for side in sides):
            self.add_error(name, "Give both a width and a height for a custom size.")

    def _clean_images(self, param: Param) -> None:
        name = field_name(param)
        kept = self.kept.get(param.name, [])
        count = (
            len(kept)
            + len(self.cleaned_data.get(name) or [])
            + len(self.cleaned_data.get(f"{name}_pick") or [])
        )
        most = 1 if param.type == "image" else param.max_items
        least = int(param.min or 1) if param.required else 0
        if None in kept:
            self.add_error(
                name, "A picture it starts from was deleted, so it cannot be sent again."
            )
        if name in self.errors:
            return  # an upload was refused; its own message says why
        if count < least:
            self.add_error(name, _count("Add at least {n} image{s}.", least))
        elif most is not None and count > most:
            self.add_error(name, _count("Use at most {n} image{s}.", most))

    def params(self) -> dict[str, Any]:
        """The validated parameters, under the provider's own names, leaving out blanks.

        Image inputs become references ({"upload": uuid} or {"image": uuid}); uploads are stored
        here, so call this inside the transaction that creates the generation. Raises
        OverBudget, storing nothing, when a request that raced this one has since filled
        the person's upload quota.
        """
        if problem := self._over_quota(lock=True):
            raise OverBudget(problem[1])
        params: dict[str, Any] = {}
        for param in self.catalog_model.options:
            if param.type in ("image", "images"):
                if refs := self._image_refs(param):
                    params[param.name] = refs[0] if param.type == "image" else refs
                continue
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

    def _image_refs(self, param: Param) -> list[dict[str, str]]:
        name = field_name(param)
        refs = [
            {"upload": str(share_upload(item, self.user).uuid)}
            for item in self.kept.get(param.name, [])
            if item is not None
        ]
        for upload in self.cleaned_data.get(name) or []:
            self.stored.append(save_upload(self.user, upload))
            refs.append({"upload": str(self.stored[-1].uuid)})
        refs += [{"image": str(uuid)} for uuid in self.cleaned_data.get(f"{name}_pick") or []]
        return refs

    @contextmanager
    def uploads_removed_on_error(self) -> Iterator[None]:
        """Around the transaction that calls `params()`: if it fails (a budget refuses the
        generation), the uploads' rows roll back with it, and their files go too."""
        try:
            yield
        except BaseException:
            for item in self.stored:
                item.file.delete(save=False)
            raise


def _count(template: str, n: int) -> str:
    return template.format(n=n, s="" if n == 1 else "s")


def save_upload(owner: Any, upload: UploadedFile) -> InputImage:
    info: images.Inspected = upload.inspected  # type: ignore[attr-defined]
    upload.seek(0)
    data = upload.read()
    item = InputImage(
        owner=owner,
        filename=(upload.name or "")[:200],
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        byte_size=len(data),
        sha256=info.sha256,
    )
    ext = images.CONTENT_TYPES_EXT[info.content_type]
    item.file.save(f"inputs/{item.uuid}.{ext}", ContentFile(data), save=False)
    item.save()
    return item


def share_upload(item: InputImage, user: Any) -> InputImage:
    """An upload as `user` owns it: itself, or a new row for them sharing the stored file.

    An upload is sent only for its own owner, so someone retrying another person's generation
    sends their own reference to the same picture (stored once, as copies of an image are).
    """
    if item.owner_id == user.pk:
        return item
    fields = ("file", "filename", "content_type", "width", "height", "byte_size", "sha256")
    return InputImage.objects.create(owner=user, **{f: getattr(item, f) for f in fields})


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
        return _is_uuid(value) and self.usable.filter(uuid=value).exists()


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


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
    return {name: upload, f"{name}_pick": _pick_field(param, user, team)}


def _at_most_items(most: int):
    def check(value: Any) -> None:
        if isinstance(value, list) and len(value) > most:
            raise ValidationError(_count("Give at most {n} item{s}.", most))

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
                owner=owner, uuid__in=[u for u in wanted if _is_uuid(u)]
            )
        }
        if wanted:
            kept[param.name] = [found.get(u) for u in wanted]
    return kept


def retry_form(user: Any, generation: Any) -> GenerateForm:
    """The generate form sent again with a generation's model, prompt and parameters, as `user`
    in the generation's team: checked as a new generation would be."""
    model = catalog.get(generation.model_id)
    data: dict[str, Any] = {"model": generation.model_id, "prompt": generation.prompt}
    if generation.gallery_id:
        data["gallery"] = str(generation.gallery.uuid)
    kept = None
    if model is not None:
        data |= form_values(model, generation.params)
        kept = kept_uploads(model, generation.params, generation.owner)
    return GenerateForm(data, user=user, team=generation.team, kept=kept)


def first_problem(form: GenerateForm) -> str:
    """The form's first error in one sentence, naming the field it is about."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return ""


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


def can_try(model: Model) -> bool:
    """Text-to-image models that need nothing but a prompt, for "Try on several models"."""
    return model.kind == "text-to-image" and not any(p.required for p in model.image_params)
