"""The API area's pages (the person's tokens), under the `gallery` namespace; the REST API
itself is mounted at /api/v1/ by webapp/urls.py."""

from django.urls import path

from gallery.api import views

urlpatterns = [
    path("settings/api-tokens/", views.api_tokens, name="api-tokens"),
    path(
        "settings/api-tokens/<uuid:token_uuid>/revoke",
        views.revoke_api_token,
        name="api-token-revoke",
    ),
]
