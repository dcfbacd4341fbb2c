"""The admin site: every model, with read-only audit fields, image hiding and the action log.

What people did (who, when, uuids, hashes, the usage ledger) is shown but never edited by hand.
Every change an admin makes here, hiding and showing images included, lands in Django's
LogEntry, which has its own read-only page.
"""

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.models import LogEntry
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db import models, transaction
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from gallery.logins import AdminLoginForm
from gallery.models import (
    Activity,
    Budget,
    Comment,
    Favorite,
    Gallery,
    Generation,
    Image,
    InputImage,
    Invitation,
    Membership,
    Notification,
    Price,
    SiteSettings,
    Team,
    Usage,
    UsageDay,
    UsageRollup,
    by_param_problem,
)
from webapp import storage

NO_REASON = "No reason given."
# The admin's login counts failures and refuses as /login/ does (gallery.logins).
admin.site.login_form = AdminLoginForm


class NoAdd(admin.ModelAdmin):
    """Records the app makes (images, the feed, notifications, favorites): never added here."""

    def has_add_permission(self, request) -> bool:
        return False


class ReadOnly(NoAdd):
    """Records that are read here, never written by hand: the ledger, its roll-ups, the log."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ValuesInChangeMessage(admin.ModelAdmin):
    """Log what a change was from and to, not only which fields changed (for tables of money)."""

    def construct_change_message(self, request, form, formsets, add=False):
        if add or not form.changed_data:
            return super().construct_change_message(request, form, formsets, add)
        changes = [
            f"{form.fields[name].label}: {_shown(form, name, form.initial.get(name))} → "
            f"{_shown(form, name, form.cleaned_data.get(name))}"
            for name in form.changed_data
        ]
        return "Changed " + "; ".join(changes) + "."


def _shown(form: forms.ModelForm, name: str, value: Any) -> str:
    field = form.fields[name]
    if isinstance(field, forms.ModelChoiceField) and not isinstance(value, models.Model | None):
        try:
            value = field.to_python(value)
        except forms.ValidationError:
            value = f"#{value} (gone)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


# --- Images: review and hiding ---------------------------------------------------------------


class HideForm(ActionForm):
    """The changelist's action bar, with a place for the reason an image is hidden."""

    reason = forms.CharField(
        label="Reason (when hiding):",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"size": 40}),
    )


class ImageStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("shown", "Shown in galleries"),
            ("hidden", "Hidden by an admin"),
            ("deleted", "Deleted (awaiting removal)"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "shown":
            return queryset.shown()
        if self.value() == "hidden":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Image)
class ImageAdmin(NoAdd):
    action_form = HideForm
    actions = ["hide", "show_again"]
    list_display = ["preview", "created_at", "owner", "team", "gallery", "model_used", "state"]
    list_filter = [ImageStateFilter, "content_type", "team__personal"]
    search_fields = [
        "=uuid",
        "generation__prompt",
        "generation__owner__username",
        "team__name",
        "gallery__name",
        "=sha256",
        "hidden_reason",
    ]
    list_select_related = ["generation__owner", "team", "gallery"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    ABOUT = ("large_preview", "uuid", "generation", "gallery", "team", "copy_of")
    HIDDEN = ("state", "hidden_at", "hidden_by", "hidden_reason")
    FILE = (
        "index",
        "original",
        "thumbnail",
        "thumbnail_small",
        "width",
        "height",
        "content_type",
        "byte_size",
        "sha256",
        "seed",
        "created_at",
        "deleted_at",
    )
    fieldsets = [
        (None, {"fields": ABOUT}),
        ("Hidden", {"fields": HIDDEN}),
        ("File", {"fields": FILE}),
    ]
    # Nothing about an image is edited by hand; it is hidden and shown with the actions.
    readonly_fields = ABOUT + HIDDEN + FILE

    def get_urls(self):
        view = self.admin_site.admin_view(self.file_view)
        return [
            path("<path:object_id>/file/<str:kind>/", view, name="gallery_image_file"),
            *super().get_urls(),
        ]

    def file_view(self, request: HttpRequest, object_id: str, kind: str) -> HttpResponseBase:
        """The picture, for staff reviewing it (the gallery's own URLs refuse hidden ones)."""
        image = self.get_object(request, object_id)
        if image is None:
            raise Http404
        if not self.has_view_permission(request, image):
            raise PermissionDenied
        stored = {
            "original": image.original,
            "thumbnail": image.thumbnail,
            "small": image.thumbnail_small or image.thumbnail,
        }.get(kind)
        if not stored:
            raise Http404
        content_type = image.content_type if kind == "original" else "image/webp"
        try:
            return storage.deliver(stored, content_type)
        except OSError:
            raise Http404 from None

    def _file_url(self, image: Image, kind: str) -> str:
        return reverse("admin:gallery_image_file", args=[image.pk, kind])

    @admin.display(description="Image")
    def preview(self, image: Image) -> str:
        return format_html(
            '<img src="{}" alt="" width="64" loading="lazy">', self._file_url(image, "small")
        )

    @admin.display(description="Image")
    def large_preview(self, image: Image) -> str:
        return format_html(
            '<a href="{}"><img src="{}" alt="" width="{}" height="{}"></a>',
            self._file_url(image, "original"),
            self._file_url(image, "thumbnail"),
            image.thumb_width,
            image.thumb_height,
        )

    @admin.display(description="By", ordering="generation__owner__username")
    def owner(self, image: Image) -> str:
        return str(image.generation.owner)

    @admin.display(description="Model", ordering="generation__model_id")
    def model_used(self, image: Image) -> str:
        return image.generation.model_id

    @admin.display(description="State")
    def state(self, image: Image) -> str:
        if image.hidden_at:
            return "Hidden by an admin"
        if image.deleted_at:
            return "Deleted"
        return "Shown"

    @admin.action(description="Hide from galleries", permissions=["change"])
    def hide(self, request: HttpRequest, queryset) -> None:
        """Hide the selected images, and their copies, everywhere in the galleries; files and
        rows are kept."""
        reason = request.POST.get("reason", "").strip()[:300] or NO_REASON
        now = timezone.now()
        with transaction.atomic():
            chosen = list(_locked(queryset).filter(hidden_at__isnull=True))
            Image.objects.filter(pk__in=[i.pk for i in chosen]).update(
                hidden_at=now, hidden_by=request.user, hidden_reason=reason
            )
            for image in chosen:
                self.log_change(request, image, f"Hidden from galleries. Reason: {reason}")
        self.message_user(request, f"Hid {len(chosen)} image(s). Reason: {reason}")

    @admin.action(description="Show again", permissions=["change"])
    def show_again(self, request: HttpRequest, queryset) -> None:
        """Undo a hide: the images are back wherever they were."""
        with transaction.atomic():
            chosen = list(_locked(queryset).filter(hidden_at__isnull=False))
            Image.objects.filter(pk__in=[i.pk for i in chosen]).update(
                hidden_at=None, hidden_by=None, hidden_reason=""
            )
            for image in chosen:
                said = f"Shown again (had been hidden: {image.hidden_reason or NO_REASON})"
                self.log_change(request, image, said)
        self.message_user(request, f"Showed {len(chosen)} image(s) again.")


def _locked(queryset):
    """The chosen images with every copy of them, locked: two admins acting at once cannot both
    record a hide. A copy is the same stored picture (`Image.copy_to`), so it is hidden and
    shown with the image, in whichever gallery or team it is; found by the file it shares,
    which also holds after the image it was copied from is gone."""
    same_picture = Image.objects.filter(original__in=queryset.values("original"))
    return Image.objects.select_for_update().filter(pk__in=same_picture.values("pk"))


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    can_delete = False
    readonly_fields = fields = (
        "uuid",
        "index",
        "gallery",
        "width",
        "height",
        "content_type",
        "byte_size",
        "sha256",
        "deleted_at",
        "hidden_at",
        "hidden_reason",
    )
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Generation)
class GenerationAdmin(NoAdd):
    """Read here, never edited: a status changed by hand would skip the pipeline and the ledger
    (and a form saved late could undo what the worker wrote meanwhile)."""

    list_display = ["created_at", "owner", "team", "model_id", "provider", "status", "short_error"]
    list_filter = ["status", "provider", "team__personal"]
    search_fields = ["prompt", "model_id", "owner__username", "team__name", "=uuid", "=batch"]
    list_select_related = ["owner", "team"]
    show_full_result_count = False
    raw_id_fields = ["gallery"]
    readonly_fields = [
        "uuid",
        "owner",
        "team",
        "batch",
        "retry_of",
        "created_at",
        "submitted_at",
        "result_at",
        "finished_at",
        "touched_at",
        "deadline_at",
        "lease_until",
        "attempts",
        "provider_task_id",
        "poll_url",
        "provider_meta",
        "outputs",
    ]
    inlines = [ImageInline]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Error")
    def short_error(self, obj: Generation) -> str:
        return obj.error[:80]


# --- Teams and people ------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "personal", "created_at"]
    list_filter = ["personal"]
    search_fields = ["name", "=uuid"]
    date_hierarchy = "created_at"
    # Encrypted provider keys are never shown, not even to admins.
    exclude = ["aimlapi_key", "relay_key"]
    readonly_fields = ["uuid", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team__personal"]
    search_fields = ["user__username", "user__email", "team__name"]
    list_select_related = ["user", "team"]
    raw_id_fields = ["user", "team"]
    readonly_fields = ["created_at"]


@admin.register(Gallery)
class GalleryAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created_at"]
    list_filter = ["team__personal"]
    search_fields = ["name", "team__name", "created_by__username", "=uuid"]
    list_select_related = ["team", "created_by"]
    raw_id_fields = ["team"]
    readonly_fields = ["uuid", "created_by", "created_at"]
    date_hierarchy = "created_at"


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "team",
        "email",
        "role",
        "created_by",
        "expires_at",
        "revoked_at",
        "accepted_by",
    ]
    list_filter = [
        "role",
        ("accepted_at", admin.EmptyFieldListFilter),
        ("revoked_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["email", "team__name", "created_by__username", "accepted_by__username"]
    list_select_related = ["team", "created_by", "accepted_by"]
    raw_id_fields = ["team"]
    # The token is the invitation's secret: made by the model, shown once as a link when added
    # here, never again.
    exclude = ["token"]
    readonly_fields = ["created_by", "created_at", "accepted_at", "accepted_by"]
    date_hierarchy = "created_at"

    def save_model(self, request, obj: Invitation, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            link = request.build_absolute_uri(reverse("gallery:invitation", args=[obj.token]))
            said = f"The invitation's link, shown only now (it is not mailed from here): {link}"
            self.message_user(request, said)


# --- What people said and did ----------------------------------------------------------------


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "author", "image", "body"]
    search_fields = ["body", "author__username", "=uuid"]
    list_select_related = ["author", "image"]
    readonly_fields = ["uuid", "image", "author", "created_at"]
    date_hierarchy = "created_at"


@admin.register(Activity)
class ActivityAdmin(NoAdd):
    list_display = ["created_at", "team", "actor", "verb", "summary"]
    list_filter = ["verb", "team__personal"]
    search_fields = ["summary", "actor__username", "team__name"]
    list_select_related = ["team", "actor"]
    readonly_fields = ["team", "actor", "verb", "summary", "image", "created_at"]
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(NoAdd):
    list_display = ["created_at", "user", "actor", "text", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["text", "user__username", "actor__username"]
    list_select_related = ["user", "actor"]
    readonly_fields = ["user", "actor", "comment", "text", "created_at", "read_at"]
    date_hierarchy = "created_at"


@admin.register(Favorite)
class FavoriteAdmin(NoAdd):
    list_display = ["created_at", "user", "image"]
    search_fields = ["user__username", "=image__uuid"]
    list_select_related = ["user", "image"]
    readonly_fields = ["user", "image", "created_at"]
    date_hierarchy = "created_at"


@admin.register(InputImage)
class InputImageAdmin(admin.ModelAdmin):
    list_display = ["filename", "owner", "content_type", "width", "height", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["filename", "owner__username", "=uuid", "=sha256"]
    list_select_related = ["owner"]
    readonly_fields = [
        "uuid",
        "owner",
        "file",
        "content_type",
        "width",
        "height",
        "byte_size",
        "sha256",
        "created_at",
    ]
    date_hierarchy = "created_at"


# --- Money: prices, budgets, the ledger, default limits --------------------------------------


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = ["model_id", "usd_per_image", "per_megapixel", "by_param", "source"]
        help_texts = {
            "by_param": 'Prices per image by a parameter\'s value: {"quality": {"high": "0.17"}}.'
        }

    def clean_by_param(self) -> dict:
        value = self.cleaned_data.get("by_param")
        value = {} if value is None else value
        if problem := by_param_problem(value):
            raise forms.ValidationError(problem)
        return value


@admin.register(Price)
class PriceAdmin(ValuesInChangeMessage):
    form = PriceForm
    list_display = [
        "model_id",
        "usd_per_image",
        "per_megapixel",
        "by_param",
        "source",
        "updated_at",
    ]
    list_filter = ["per_megapixel"]
    search_fields = ["model_id", "source"]
    readonly_fields = ["updated_at"]


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = ["team", "user", "images_per_day", "usd_per_month"]

    def validate_constraints(self) -> None:
        # Budget.clean() has said it plainly; the constraint's generic message would repeat it.
        if not self.has_error(NON_FIELD_ERRORS):
            super().validate_constraints()


class BudgetKindFilter(admin.SimpleListFilter):
    title = "for"
    parameter_name = "for"

    def lookups(self, request, model_admin):
        return [("team", "A team"), ("user", "A person")]

    def queryset(self, request, queryset):
        if self.value() in ("team", "user"):
            return queryset.filter(**{f"{self.value()}__isnull": False})
        return queryset


@admin.register(Budget)
class BudgetAdmin(ValuesInChangeMessage):
    form = BudgetForm
    list_display = ["__str__", "team", "user", "images_per_day", "usd_per_month", "updated_at"]
    list_filter = [BudgetKindFilter]
    search_fields = ["team__name", "user__username"]
    list_select_related = ["team", "user"]
    raw_id_fields = ["team", "user"]
    readonly_fields = ["updated_at"]


@admin.register(Usage)
class UsageAdmin(ReadOnly):
    """The ledger: read, filtered and searched here, never written by hand."""

    list_display = [
        "created_at",
        "user_name",
        "team_name",
        "provider",
        "model_id",
        "images",
        "outcome",
        "cost",
        "cost_source",
        "settled_at",
    ]
    list_filter = [
        "outcome",
        "cost_source",
        "provider",
        ("settled_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["user_name", "team_name", "model_id", "error", "=generation__uuid"]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Usage._meta.fields]

    @admin.display(description="Cost (USD)", ordering="cost_usd")
    def cost(self, entry: Usage) -> Decimal:
        return entry.cost_usd


@admin.register(UsageDay)
class UsageDayAdmin(ReadOnly):
    """The dashboard's daily roll-ups, rebuilt from the ledger by `manage.py rollup_usage`."""

    list_display = ["day", "grain", "team_name", "user_name", "model_id", "generations", "images"]
    list_filter = ["grain"]
    search_fields = ["team_name", "user_name", "model_id", "reason"]
    show_full_result_count = False
    date_hierarchy = "day"


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnly):
    list_display = ["day", "built_at"]
    date_hierarchy = "day"


@admin.register(SiteSettings)
class SiteSettingsAdmin(ValuesInChangeMessage):
    list_display = [
        "__str__",
        "signup_enabled",
        "user_images_per_day",
        "user_usd_per_month",
        "team_images_per_day",
        "team_usd_per_month",
    ]
    fieldsets = [
        (None, {"fields": ["signup_enabled", "site_usd_per_month"]}),
        (
            "Default limits (for everyone without a budget of their own; empty: no limit)",
            {
                "fields": [
                    "user_images_per_day",
                    "user_usd_per_month",
                    "team_images_per_day",
                    "team_usd_per_month",
                ]
            },
        ),
        (
            "Budget given to each new account, in all its teams (empty: none)",
            {"fields": ["new_user_images_per_day", "new_user_usd_per_month"]},
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return not SiteSettings.objects.exists()


# --- The log of what admins did --------------------------------------------------------------


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnly):
    """Django's record of every add, change and delete made here; it can only be read."""

    list_display = ["action_time", "user", "action_flag", "content_type", "object_repr", "message"]
    list_filter = [
        "action_flag",
        ("content_type", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["object_repr", "change_message", "user__username", "=object_id"]
    list_select_related = ["user", "content_type"]
    show_full_result_count = False
    date_hierarchy = "action_time"
    fields = readonly_fields = (
        "action_time",
        "user",
        "action_flag",
        "content_type",
        "object_id",
        "object_repr",
        "message",
    )

    @admin.display(description="Change")
    def message(self, entry: LogEntry) -> str:
        return entry.get_change_message()
