from django.urls import path

from gallery.webhooks import views as hooks

urlpatterns = [
    path("teams/<uuid:team_uuid>/webhooks/new", hooks.new_endpoint, name="webhook-new"),
    path("teams/<uuid:team_uuid>/webhooks/", hooks.add_endpoint, name="webhook-add"),
    path(
        "teams/<uuid:team_uuid>/webhooks/<uuid:endpoint_uuid>",
        hooks.endpoint_detail,
        name="webhook-detail",
    ),
    path(
        "teams/<uuid:team_uuid>/webhooks/<uuid:endpoint_uuid>/rotate",
        hooks.rotate_secret,
        name="webhook-rotate",
    ),
    path(
        "teams/<uuid:team_uuid>/webhooks/<uuid:endpoint_uuid>/delete",
        hooks.delete_endpoint,
        name="webhook-delete",
    ),
    path(
        "teams/<uuid:team_uuid>/webhooks/<uuid:endpoint_uuid>/deliveries/<int:delivery_id>/resend",
        hooks.resend_delivery,
        name="webhook-resend",
    ),
]
