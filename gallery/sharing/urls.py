from django.urls import path

from gallery.sharing import public, views

app_name = "sharing"
urlpatterns = [
    # For the team's owners and editors.
    path("share/new", views.create_link, name="create"),
    path("share/<uuid:link_uuid>", views.link_detail, name="link"),
    path("share/<uuid:link_uuid>/revoke", views.revoke_link, name="revoke"),
    # For anyone holding a link: the token, or a fresh signature naming it, is the access.
    path("s/<str:token>", public.shared_page, name="page"),
    path("s/<str:token>/card", public.card_image, name="card"),
    path("s/<str:token>/images/<uuid:image_uuid>", public.shared_image, name="image"),
    path("s/<str:token>/images/<uuid:image_uuid>/download", public.download, name="download"),
    path("share/files/<str:signed>", public.shared_file, name="file"),
]
