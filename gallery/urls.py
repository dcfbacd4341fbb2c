from django.urls import path

from gallery import views

app_name = "gallery"
urlpatterns = [
    path("", views.index, name="index"),
    path("generate", views.generate, name="generate"),
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
    path("inputs/<str:token>", views.input_link, name="input-link"),
    path(
        "images/<uuid:image_uuid>/<str:kind>",
        views.image_file,
        name="image-file",
    ),
]
