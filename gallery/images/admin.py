"""The admin of galleries, generations and images: review, and hiding an image everywhere it is
shown (with its copies), each hide and show recorded in the admin's log."""

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from gallery.admin_bases import NoAdd
from gallery.models import (
    Favorite,
    Gallery,
    Generation,
    Image,
    InputImage,
)
from webapp import live, storage

NO_REASON = "No reason given."


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
            live.bump(*{i.team_id for i in chosen})
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
            live.bump(*{i.team_id for i in chosen})
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


@admin.register(Gallery)
class GalleryAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created_at"]
    list_filter = ["team__personal"]
    search_fields = ["name", "team__name", "created_by__username", "=uuid"]
    list_select_related = ["team", "created_by"]
    raw_id_fields = ["team"]
    readonly_fields = ["uuid", "created_by", "created_at"]
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
