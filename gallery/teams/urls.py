"""The teams area's routes, under the `gallery` namespace (included from gallery/urls.py)."""

from django.urls import path

from gallery.teams import comments, invitations, keys, members, views

urlpatterns = [
    path("teams/", views.team_list, name="team-list"),
    path("teams/switch", views.switch_team, name="team-switch"),
    path("teams/<uuid:team_uuid>/", views.team_detail, name="team-detail"),
    path("teams/<uuid:team_uuid>/activity", views.team_activity, name="team-activity"),
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
    path("images/<uuid:image_uuid>/comments", comments.image_comments, name="image-comments"),
    path("images/<uuid:image_uuid>/comment", comments.comment_image, name="image-comment"),
    path("notifications/", comments.notifications, name="notifications"),
]
