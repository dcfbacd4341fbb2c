from django.urls import include, path

from gallery.images import bulk, trials, views
from gallery.teams import invitations, keys, members
from gallery.teams import views as teams
from gallery.usage import views as staff

app_name = "gallery"
urlpatterns = [
    path("", views.index, name="index"),
    path("generate", views.generate, name="generate"),
    path("new", views.new_cards, name="new-cards"),
    path("generate/fields", views.model_fields, name="model-fields"),
    path("generations/<uuid:generation_uuid>/card", views.generation_card, name="generation-card"),
    path(
        "generations/<uuid:generation_uuid>/cancel",
        views.cancel_generation,
        name="generation-cancel",
    ),
    path(
        "generations/<uuid:generation_uuid>/retry",
        views.retry_generation,
        name="generation-retry",
    ),
    path("images/<uuid:image_uuid>", views.image_detail, name="image-detail"),
    path("images/<uuid:image_uuid>/move", views.move_image, name="image-move"),
    path("images/<uuid:image_uuid>/favorite", views.favorite_image, name="image-favorite"),
    path("images/<uuid:image_uuid>/delete", views.delete_image, name="image-delete"),
    path("images/<uuid:image_uuid>/restore", views.restore_image, name="image-restore"),
    path("images/<uuid:image_uuid>/comments", views.image_comments, name="image-comments"),
    path("images/<uuid:image_uuid>/comment", views.comment_image, name="image-comment"),
    path("images/<uuid:image_uuid>/<str:kind>", views.image_file, name="image-file"),
    path("inputs/<str:token>", views.input_link, name="input-link"),
    path("bulk", bulk.bulk, name="bulk"),
    path("try", trials.try_models, name="try"),
    path("try/<uuid:batch>", trials.try_results, name="try-results"),
    path("compare", bulk.compare, name="compare"),
    path("galleries/", views.gallery_list, name="gallery-list"),
    path("galleries/<uuid:gallery_uuid>", views.gallery_detail, name="gallery-detail"),
    path("notifications/", views.notifications, name="notifications"),
    path("teams/", teams.team_list, name="team-list"),
    path("teams/switch", teams.switch_team, name="team-switch"),
    path("teams/<uuid:team_uuid>/", teams.team_detail, name="team-detail"),
    path("teams/<uuid:team_uuid>/activity", teams.team_activity, name="team-activity"),
    path("teams/<uuid:team_uuid>/keys", keys.team_keys, name="team-keys"),
    path("teams/<uuid:team_uuid>/invitations", invitations.create_invitation, name="team-invite"),
    path(
        "teams/<uuid:team_uuid>/invitations/<int:invitation_id>/revoke",
        invitations.revoke_invitation,
        name="team-invite-revoke",
    ),
    path(
        "teams/<uuid:team_uuid>/members/<int:membership_id>/role",
        members.change_role,
        name="team-role",
    ),
    path(
        "teams/<uuid:team_uuid>/members/<int:membership_id>/remove",
        members.remove_member,
        name="team-remove",
    ),
    path("invitations/<str:token>", invitations.invitation, name="invitation"),
    path("staff/usage/", staff.usage_dashboard, name="staff-usage"),
    path("staff/usage/export/<str:table>", staff.usage_export, name="staff-usage-export"),
    path("", include("gallery.policy.urls")),
    path("", include("gallery.library.urls")),
]
