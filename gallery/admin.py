from django.contrib import admin

from gallery.models import Generation, Image


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    can_delete = False
    readonly_fields = fields = (
        "uuid",
        "index",
        "width",
        "height",
        "content_type",
        "byte_size",
        "sha256",
    )


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "owner", "model_id", "provider", "status", "short_error"]
    list_filter = ["status", "provider", "created_at"]
    search_fields = ["prompt", "model_id", "owner__username", "uuid"]
    readonly_fields = [
        "uuid",
        "created_at",
        "submitted_at",
        "finished_at",
        "touched_at",
        "deadline_at",
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
