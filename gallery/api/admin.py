"""API tokens in the admin: seen and revoked, never made or edited here (their secret exists
only in the answer that made them)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from gallery.admin_bases import NoAdd
from gallery.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(NoAdd):
    FIELDS = (
        "name",
        "owner",
        "team",
        "prefix",
        "read_only",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_display = list(FIELDS)
    list_filter = ["read_only", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=prefix", "owner__username", "team__name"]
    list_select_related = ["owner", "team"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["revoke"]
    fields = readonly_fields = FIELDS

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoked, never deleted: the ledger and the API filter point at it

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("gallery.change_apitoken")

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(token.revoke() for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
