"""The admin of single sign-on: which provider groups give which team roles, and who is linked."""

from django.contrib import admin

from gallery.accounts.models import GroupMapping, SsoIdentity
from gallery.admin_bases import NoAdd


@admin.register(GroupMapping)
class GroupMappingAdmin(admin.ModelAdmin):
    """Members of the group get the role in the team at their next single sign-on login.

    Membership and roles follow the groups at each login: added, changed, and removed when no
    mapped group gives the team any more. Roles given by hand are kept. A team's last owner is
    never removed or demoted by a login; that is written to the team's activity feed instead.
    """

    list_display = ["group", "team", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["group", "team__name"]
    list_select_related = ["team"]
    raw_id_fields = ["team"]
    readonly_fields = ["created_at"]


@admin.register(SsoIdentity)
class SsoIdentityAdmin(NoAdd):
    """Made at a person's first single sign-on login; deleting one lets the next login match
    the account again by verified email, or make a new one."""

    list_display = ["user", "issuer", "subject", "created_at", "last_login_at"]
    search_fields = ["user__username", "user__email", "=subject"]
    list_select_related = ["user"]
    readonly_fields = ["user", "issuer", "subject", "created_at", "last_login_at"]
