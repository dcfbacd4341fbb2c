from django.urls import path

from gallery.library import views

urlpatterns = [
    path("library/", views.library, name="library"),
    path("library/bar", views.library_bar, name="library-bar"),
    path("library/presets/save", views.save_preset, name="preset-save"),
    path("library/presets/<uuid:preset_uuid>/", views.edit_preset, name="preset-edit"),
    path("library/presets/apply", views.apply_preset, name="preset-apply"),
    path("library/styles/apply", views.apply_style, name="style-apply"),
    path("library/styles/<uuid:style_uuid>/", views.edit_style, name="style-edit"),
    path("history/", views.prompt_history, name="history"),
]
