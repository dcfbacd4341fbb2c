"""The `gallery` namespace: each area's routes, from its own urls module."""

from django.urls import include, path

app_name = "gallery"
urlpatterns = [
    # Teams first: its comment routes (images/<id>/comments) must come before the images
    # area's images/<id>/<kind>, which would otherwise take them for a kind of file.
    path("", include("gallery.teams.urls")),
    path("", include("gallery.images.urls")),
    path("", include("gallery.usage.urls")),
    path("", include("gallery.policy.urls")),
    path("", include("gallery.library.urls")),
    path("", include("gallery.webhooks.urls")),
    path("", include("gallery.api.urls")),
]
