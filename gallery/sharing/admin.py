"""Share links in the admin: seen, and revoked by an admin; never made or edited by hand."""

from django.contrib import admin
from django.utils import timezone

from gallery.admin_bases import NoAdd
from gallery.models import ShareLink


@admin.register(ShareLink)
class ShareLinkAdmin(NoAdd):
    list_display = ["uuid", "team", "gallery", "image", "created_by", "expires_at", "revoked_at"]
    list_filter = ["allow_download", "show_prompts", "allow_indexing"]
    search_fields = ["=uuid", "team__name", "created_by__username"]
    date_hierarchy = "created_at"
    # The token is the access itself: it is not shown here.
    exclude = ["token"]
    readonly_fields = [
        f.name for f in ShareLink._meta.fields if f.name not in ("token", "id", "revoked_at")
    ]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected links")
    def revoke(self, request, queryset) -> None:
        queryset.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=request.user
        )
