"""The admin of teams, memberships, invitations, comments, the activity feed and notifications."""

from django.contrib import admin
from django.urls import reverse

from gallery.admin_bases import NoAdd
from gallery.models import (
    Activity,
    Comment,
    Invitation,
    Membership,
    Notification,
    Team,
)


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
    list_display = ["user", "team", "role", "source", "created_at"]
    list_filter = ["role", "source", "team__personal"]
    search_fields = ["user__username", "user__email", "team__name"]
    list_select_related = ["user", "team"]
    raw_id_fields = ["user", "team"]
    readonly_fields = ["created_at"]


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
