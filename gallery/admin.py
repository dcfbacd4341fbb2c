from django.contrib import admin

from gallery.models import (
    Activity,
    Comment,
    Gallery,
    Generation,
    Image,
    InputImage,
    Invitation,
    Membership,
    Notification,
    SiteSettings,
    Team,
)


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
    )


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "owner", "team", "model_id", "provider", "status", "short_error"]
    list_filter = ["status", "provider", "created_at"]
    search_fields = ["prompt", "model_id", "owner__username", "uuid"]
    readonly_fields = [
        "uuid",
        "created_at",
        "submitted_at",
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

    @admin.display(description="Error")
    def short_error(self, obj: Generation) -> str:
        return obj.error[:80]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "personal", "created_at"]
    list_filter = ["personal"]
    search_fields = ["name"]
    # Encrypted provider keys are never shown, not even to admins.
    exclude = ["aimlapi_key", "relay_key"]
    readonly_fields = ["uuid", "created_at"]
    inlines = [MembershipInline]


@admin.register(Gallery)
class GalleryAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created_at"]
    search_fields = ["name", "team__name"]
    readonly_fields = ["uuid", "created_at"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "author", "image", "body"]
    search_fields = ["body", "author__username"]
    readonly_fields = ["uuid", "created_at"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["team", "email", "role", "expires_at", "revoked_at", "accepted_by"]
    list_filter = ["role"]
    exclude = ["token"]
    readonly_fields = ["created_at", "accepted_at", "accepted_by"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["created_at", "team", "actor", "verb", "summary"]
    list_filter = ["verb"]
    readonly_fields = ["created_at"]


admin.site.register(Notification)


@admin.register(InputImage)
class InputImageAdmin(admin.ModelAdmin):
    list_display = ["filename", "owner", "content_type", "width", "height", "created_at"]
    readonly_fields = ["uuid", "sha256", "created_at"]


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "signup_enabled"]

    def has_add_permission(self, request) -> bool:
        return not SiteSettings.objects.exists()
