from django.urls import path

from gallery.policy import views

urlpatterns = [
    path("teams/<uuid:team_uuid>/models", views.team_models, name="team-models"),
]
