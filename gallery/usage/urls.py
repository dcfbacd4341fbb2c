"""The usage area's routes (the staff dashboard), under the `gallery` namespace."""

from django.urls import path

from gallery.usage import views

urlpatterns = [
    path("staff/usage/", views.usage_dashboard, name="staff-usage"),
    path("staff/usage/export/<str:table>", views.usage_export, name="staff-usage-export"),
]
