"""What every area's admin builds on: records never added by hand, read-only tables, and
change messages that say what a value was and became."""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models


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
