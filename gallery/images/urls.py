"""The images area's routes, under the `gallery` namespace (included from gallery/urls.py)."""

from django.urls import path

from gallery.images import bulk, galleries, generations, live, trials, views

urlpatterns = [
    path("", views.index, name="index"),
    path("new", views.new_cards, name="new-cards"),
    path("live", live.poll, name="live"),
    path("generate", generations.generate, name="generate"),
    path("generate/fields", generations.model_fields, name="model-fields"),
    path(
        "generations/<uuid:generation_uuid>/card",
        generations.generation_card,
        name="generation-card",
    ),
    path(
        "generations/<uuid:generation_uuid>/cancel",
        generations.cancel_generation,
        name="generation-cancel",
    ),
    path(
        "generations/<uuid:generation_uuid>/retry",
        generations.retry_generation,
        name="generation-retry",
    ),
    path("images/<uuid:image_uuid>", views.image_detail, name="image-detail"),
    path("images/<uuid:image_uuid>/move", views.move_image, name="image-move"),
    path("images/<uuid:image_uuid>/favorite", views.favorite_image, name="image-favorite"),
    path("images/<uuid:image_uuid>/delete", views.delete_image, name="image-delete"),
    path("images/<uuid:image_uuid>/restore", views.restore_image, name="image-restore"),
    # Last of the image routes: any other word after the id is a kind of file.
    path("images/<uuid:image_uuid>/<str:kind>", views.image_file, name="image-file"),
    path("inputs/<str:token>", views.input_link, name="input-link"),
    path("bulk", bulk.bulk, name="bulk"),
    path("compare", bulk.compare, name="compare"),
    path("try", trials.try_models, name="try"),
    path("try/<uuid:batch>", trials.try_results, name="try-results"),
    path("galleries/", galleries.gallery_list, name="gallery-list"),
    path("galleries/<uuid:gallery_uuid>", galleries.gallery_detail, name="gallery-detail"),
]
