"""The generate form, built from the model catalog: each model shows exactly its own parameters;
and the small forms beside it."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxLengthValidator
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from gallery.accounts import throttle
from gallery.images import masks, picker
from gallery.images.fields import (
    CUSTOM,
    TEXT_MAX_LENGTH,
    ModelSelect,
    QuickSelect,
    build_fields,
    counted,
    default_data,
    field_name,
    form_values,
    kept_uploads,
    model_choices,
    unavailable_models,
)
from gallery.images.uploads import save_upload, share_upload
from gallery.models import (
    Budget,
    Gallery,
    Generation,
    InputImage,
    Preferences,
    Price,
    one_line,
    personal_team,
)
from gallery.policy.models import Rules, first_usable, models_unavailable
from gallery.usage.limits import Limit, OverBudget
from jobs import catalog
from jobs.catalog import Model, Param
from jobs.start import start_generation

# The codes of the errors saying the person is generating faster than GENERATE_RATE allows,
# and that a budget refuses what they asked for.
THROTTLED = "throttled"
OVER_BUDGET = "over_budget"
# Models tried at once on "Try on several models".
MOST_TRIED = 6


class GalleryForm(forms.Form):
    name = forms.CharField(label="Gallery name", max_length=100, validators=[one_line])


class GenerateForm(forms.Form):
    model = forms.ChoiceField(
        label="Model", error_messages={"invalid_choice": "Choose one of the models in the list."}
    )
    prompt = forms.CharField(
        label="Prompt",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Describe the picture you want"}),
    )

    gallery = forms.ModelChoiceField(
        label="Gallery",
        queryset=Gallery.objects.none(),
        empty_label=None,
        required=False,
        help_text="Where the images will go.",
        widget=QuickSelect,
    )

    def __init__(
        self,
        *args: Any,
        user: Any = None,
        team: Any = None,
        model_id: str | None = None,
        kept: dict[str, list[InputImage | None]] | None = None,
        rate_limited: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if team is None and user is not None and user.is_authenticated:
            team = personal_team(user)
        self.user, self.team = user, team
        # A form that makes a generation counts against the person's generate rate, once valid.
        self.rate_limited = rate_limited
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
        # Read once, when first shown: the composer's select and the bulk bar's "Move to" both
        # list them (the field's own choices query at each rendering); the queryset still checks.
        gallery_field.choices = lambda: [(g.uuid, g.name) for g in self.galleries]
        if team is not None and "gallery" not in self.initial:
            self.initial["gallery"] = team.default_gallery().uuid
        choices = model_choices()
        model_field = cast(forms.ChoiceField, self.fields["model"])
        model_field.choices = choices
        # Why each model is unavailable: a missing setting first, then the team's rules.
        disabled = models_unavailable(user, team) | unavailable_models(team)
        model_field.widget = ModelSelect(
            choices=choices,
            disabled=disabled,
            details=lambda: picker.details(user, disabled),
            attrs={
                # static/picker.js makes it a searchable list; a star keeps a favorite.
                "data-picker": reverse("favorite-model"),
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
        self.catalog_model: Model = catalog.get(chosen or "") or first_usable(
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
        # The composer's three places for a model's fields (catalog.Model.place).
        self.placed: dict[str, list[str]] = {"quick": [], "main": [], "more": []}
        for param in self.catalog_model.options:
            built = build_fields(param, user, team)
            self.fields.update(built)
            self.placed[self.catalog_model.place(param)] += list(built)

    @cached_property
    def galleries(self) -> list[Gallery]:
        """The galleries the person may add to here, as the gallery field offers them."""
        return list(cast(forms.ModelChoiceField, self.fields["gallery"]).queryset or [])

    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("p_")]

    def quick_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.placed["quick"]]

    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.placed["main"]]

    def more_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.placed["more"]]

    @cached_property
    def options_open(self) -> bool:
        """Whether "Options" starts open: as the person last left it, and always when one of
        its fields has an error to show."""
        if any(name in self.errors for name in self.placed["more"]):
            return True
        user = self.user
        return bool(user and user.is_authenticated and Preferences.options_open_for(user))

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
        if refused := Rules.of(self.user, self.team).listed(model):
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
        if problem := masks.problem(self, field_name):
            self.add_error(*problem)
        if problem := self._over_quota():
            self.add_error(*problem)
        if self.rate_limited and not self.errors and (refused := self._too_fast()):
            raise ValidationError(refused, code=THROTTLED)
        return cleaned

    def _too_fast(self) -> str | None:
        # Counted only for a form that is otherwise valid, as the generation it would make.
        return throttle.refusal(self.user, "generate")

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
            self.add_error(name, counted("Add at least {n} image{s}.", least))
        elif most is not None and count > most:
            self.add_error(name, counted("Use at most {n} image{s}.", most))

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

    def start(self, **extra: Any) -> Generation:
        """Create the generation the form describes, as its user in its team, and enqueue it
        once committed. Call inside a transaction; raises OverBudget."""
        return start_generation(
            owner=self.user,
            team=self.team,
            gallery=self.cleaned_data["gallery"],
            model_id=self.catalog_model.id,
            provider=self.catalog_model.provider,
            prompt=self.cleaned_data["prompt"],
            params=self.params(),
            **extra,
        )

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


def retry_form(user: Any, generation: Any) -> GenerateForm:
    """The generate form sent again with a generation's model, prompt and parameters, as `user`
    in the generation's team: checked as a new generation would be, charged to `user`'s rate."""
    model = catalog.get(generation.model_id)
    data: dict[str, Any] = {"model": generation.model_id, "prompt": generation.prompt}
    if generation.gallery_id:
        data["gallery"] = str(generation.gallery.uuid)
    kept = None
    if model is not None:
        data |= form_values(model, generation.params)
        kept = kept_uploads(model, generation.params, generation.owner)
    return GenerateForm(data, user=user, team=generation.team, kept=kept, rate_limited=True)


def first_problem(form: GenerateForm) -> str:
    """The form's first error in one sentence, naming the field it is about."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return ""


def can_try(model: Model) -> bool:
    """Text-to-image models that need nothing but a prompt, for "Try on several models"."""
    return model.kind == "text-to-image" and not any(p.required for p in model.image_params)


def refused_status(form: forms.Form) -> int:
    """The status of a page showing a form that was refused: 429 too fast, 403 over a budget,
    400 a mistake to correct."""
    if form.has_error(NON_FIELD_ERRORS, THROTTLED):
        return 429
    if form.has_error(NON_FIELD_ERRORS, OVER_BUDGET):
        return 403
    return 400


class TryForm(forms.Form):
    """One prompt for several models at once, each with its documented defaults."""

    prompt = forms.CharField(label="Prompt", error_messages={"required": "Write a prompt to try."})
    # Ids not offered are dropped, not refused: a model may have gone since the page was shown.
    models = forms.Field(label="Models", required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, user: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.team = user, team
        self.offered = [
            m for m in catalog.offered() if can_try(m) and not catalog.missing_setting(m, team)
        ]
        # One generate form per model chosen, checked as a generation from the form would be.
        self.forms: list[GenerateForm] = []

    def chosen(self) -> list[str]:
        wanted = self["models"].value() or []
        return [m.id for m in self.offered if m.id in wanted]

    def clean_models(self) -> list[Model]:
        chosen = [m for m in self.offered if m.id in self.chosen()]
        if not 1 <= len(chosen) <= MOST_TRIED:
            raise ValidationError(f"Choose between 1 and {MOST_TRIED} models.")
        return chosen

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        self.forms = [
            GenerateForm(default_data(m, cleaned["prompt"]), user=self.user, team=self.team)
            for m in cleaned["models"]
        ]
        if bad := [
            f"{f.catalog_model.name}: {first_problem(f)}" for f in self.forms if not f.is_valid()
        ]:
            raise ValidationError(bad)
        # Each model tried is a generation, and counts against the generate limit as one.
        if refused := throttle.refusal(self.user, "generate", times=len(self.forms)):
            raise ValidationError(refused, code=THROTTLED)
        return cleaned

    def problems(self) -> list[str]:
        return [str(e) for errors in self.errors.values() for e in errors]
