"""The admin of money: prices, budgets, the usage ledger and its roll-ups, and site settings."""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS

from gallery.admin_bases import ReadOnly, ValuesInChangeMessage
from gallery.models import (
    Budget,
    Price,
    SiteSettings,
    Usage,
    UsageDay,
    UsageRollup,
    by_param_problem,
)


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = ["model_id", "usd_per_image", "per_megapixel", "by_param", "source"]
        help_texts = {
            "by_param": 'Prices per image by a parameter\'s value: {"quality": {"high": "0.17"}}.'
        }

    def clean_by_param(self) -> dict:
        value = self.cleaned_data.get("by_param")
        value = {} if value is None else value
        if problem := by_param_problem(value):
            raise forms.ValidationError(problem)
        return value


@admin.register(Price)
class PriceAdmin(ValuesInChangeMessage):
    form = PriceForm
    list_display = [
        "model_id",
        "usd_per_image",
        "per_megapixel",
        "by_param",
        "source",
        "updated_at",
    ]
    list_filter = ["per_megapixel"]
    search_fields = ["model_id", "source"]
    readonly_fields = ["updated_at"]


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = ["team", "user", "images_per_day", "usd_per_month"]

    def validate_constraints(self) -> None:
        # Budget.clean() has said it plainly; the constraint's generic message would repeat it.
        if not self.has_error(NON_FIELD_ERRORS):
            super().validate_constraints()


class BudgetKindFilter(admin.SimpleListFilter):
    title = "for"
    parameter_name = "for"

    def lookups(self, request, model_admin):
        return [("team", "A team"), ("user", "A person")]

    def queryset(self, request, queryset):
        if self.value() in ("team", "user"):
            return queryset.filter(**{f"{self.value()}__isnull": False})
        return queryset


@admin.register(Budget)
class BudgetAdmin(ValuesInChangeMessage):
    form = BudgetForm
    list_display = ["__str__", "team", "user", "images_per_day", "usd_per_month", "updated_at"]
    list_filter = [BudgetKindFilter]
    search_fields = ["team__name", "user__username"]
    list_select_related = ["team", "user"]
    raw_id_fields = ["team", "user"]
    readonly_fields = ["updated_at"]


@admin.register(Usage)
class UsageAdmin(ReadOnly):
    """The ledger: read, filtered and searched here, never written by hand."""

    list_display = [
        "created_at",
        "user_name",
        "team_name",
        "provider",
        "model_id",
        "images",
        "outcome",
        "cost",
        "cost_source",
        "settled_at",
    ]
    list_filter = [
        "outcome",
        "cost_source",
        "provider",
        ("settled_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["user_name", "team_name", "model_id", "error", "=generation__uuid"]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Usage._meta.fields]

    @admin.display(description="Cost (USD)", ordering="cost_usd")
    def cost(self, entry: Usage) -> Decimal:
        return entry.cost_usd


@admin.register(UsageDay)
class UsageDayAdmin(ReadOnly):
    """The dashboard's daily roll-ups, rebuilt from the ledger by `manage.py rollup_usage`."""

    list_display = ["day", "grain", "team_name", "user_name", "model_id", "generations", "images"]
    list_filter = ["grain"]
    search_fields = ["team_name", "user_name", "model_id", "reason"]
    show_full_result_count = False
    date_hierarchy = "day"


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnly):
    list_display = ["day", "built_at"]
    date_hierarchy = "day"


@admin.register(SiteSettings)
class SiteSettingsAdmin(ValuesInChangeMessage):
    list_display = [
        "__str__",
        "signup_enabled",
        "user_images_per_day",
        "user_usd_per_month",
        "team_images_per_day",
        "team_usd_per_month",
    ]
    fieldsets = [
        (None, {"fields": ["signup_enabled", "site_usd_per_month"]}),
        (
            "Default limits (for everyone without a budget of their own; empty: no limit)",
            {
                "fields": [
                    "user_images_per_day",
                    "user_usd_per_month",
                    "team_images_per_day",
                    "team_usd_per_month",
                ]
            },
        ),
        (
            "Budget given to each new account, in all its teams (empty: none)",
            {"fields": ["new_user_images_per_day", "new_user_usd_per_month"]},
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return not SiteSettings.objects.exists()
