"""The admin's own login, throttled as /login/ is, the read-only log of what admins did, and
people's preferences."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry

from gallery.accounts.forms import AdminLoginForm
from gallery.accounts.models import Preferences
from gallery.admin_bases import NoAdd, ReadOnly

# The admin's login counts failures and refuses as /login/ does (gallery.accounts.forms).
admin.site.login_form = AdminLoginForm


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


@admin.register(Preferences)
class PreferencesAdmin(NoAdd):
    """Made when a person first picks a theme; an admin may set it back to the system's."""

    list_display = ["user", "theme"]
    list_filter = ["theme"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user"]
