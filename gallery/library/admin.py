"""The admin of teams' prompt libraries: read and tidied here, made from the composer."""

from django.contrib import admin

from gallery.admin_bases import NoAdd
from gallery.library.models import Preset, Style


@admin.register(Preset)
class PresetAdmin(NoAdd):
    list_display = ["name", "team", "model_id", "created_by", "updated_at"]
    search_fields = ["name", "team__name", "model_id"]
    list_select_related = ["team", "created_by"]
    readonly_fields = ["team", "created_by", "created_at", "updated_at"]


@admin.register(Style)
class StyleAdmin(NoAdd):
    list_display = ["name", "team", "created_by", "updated_at"]
    search_fields = ["name", "team__name"]
    list_select_related = ["team", "created_by"]
    readonly_fields = ["team", "created_by", "created_at", "updated_at"]
