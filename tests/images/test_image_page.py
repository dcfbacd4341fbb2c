"""The image page: neighbours in the filtered list, use-these-settings, delete with undo,
downloads that carry how the image was made."""

import io
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Generation, Image
from jobs import cleanup
from tests.factories import make_generation, make_image

Status = Generation.Status


def three(alice):
    made = []
    for i, prompt in enumerate(("a fox", "a whale", "a second fox")):
        image = make_image(make_generation(alice, status=Status.SUCCEEDED, prompt=prompt))
        Image.objects.filter(pk=image.pk).update(created_at=timezone.now() - timedelta(hours=3 - i))
        made.append(Image.objects.get(pk=image.pk))
    return made


def test_it_links_to_the_newer_and_older_image(client, alice):
    old, middle, new = three(alice)
    client.force_login(alice)
    response = client.get(f"/images/{middle.uuid}")
    assert response.context["newer"] == new and response.context["older"] == old
    html = response.content.decode()
    assert 'data-shortcut="ArrowLeft"' in html and 'data-shortcut="ArrowRight"' in html


def test_neighbours_follow_the_filter(client, alice):
    old, _middle, new = three(alice)
    client.force_login(alice)
    response = client.get(f"/images/{new.uuid}", {"q": "fox"})
    assert response.context["older"] == old  # the whale is skipped
    assert f"/images/{old.uuid}?q=fox" in response.content.decode()


def test_use_these_settings_fills_the_form(client, alice):
    generation = make_generation(
        alice,
        status=Status.SUCCEEDED,
        prompt="a copied prompt",
        params={"image_size": {"width": 640, "height": 384}, "num_images": 2, "seed": 9},
    )
    client.force_login(alice)
    form = client.get("/", {"use": str(generation.uuid)}).context["form"]
    assert form.initial["prompt"] == "a copied prompt"
    assert form.initial["p_image_size"] == "custom" and form.initial["p_image_size_width"] == 640
    assert form.initial["p_seed"] == 9
    form = client.get("/", {"use": str(generation.uuid), "new_seed": "1"}).context["form"]
    assert "p_seed" not in form.initial


def test_use_these_settings_respects_access(client, alice, dave):
    generation = make_generation(alice, status=Status.SUCCEEDED)
    client.force_login(dave)
    assert client.get("/", {"use": str(generation.uuid)}).status_code == 404


def test_delete_hides_at_once_and_undo_brings_it_back(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    response = client.post(f"/images/{image.uuid}/delete", follow=True)
    assert "Undo" in response.content.decode()
    assert str(image.uuid) not in [str(t.uuid) for t in response.context["tiles"]]
    assert client.get(f"/images/{image.uuid}").status_code == 404
    client.post(f"/images/{image.uuid}/restore")
    assert client.get(f"/images/{image.uuid}").status_code == 200


def test_deleted_images_are_purged_after_the_undo_window(alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now() - timedelta(hours=2))
    assert cleanup.purge_deleted(timezone.now() - timedelta(hours=1)) == 1
    assert not Image.objects.filter(pk=image.pk).exists()


def test_the_download_carries_the_parameters_in_png_text(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED, params={"seed": 5}))
    client.force_login(alice)
    response = client.get(f"/images/{image.uuid}/original?download=1")
    assert response["Content-Disposition"].startswith("attachment")
    picture = PILImage.open(io.BytesIO(response.content))
    picture.load()
    assert picture.text["prompt"] == "a red fox in the snow"
    assert picture.text["parameters"] == '{"seed": 5}'
    assert picture.text["model"] == "sandbox/flux-sync"
    # The same facts the zip export's metadata gives, as text: one builder for both.
    assert picture.text["seed"] == "" and picture.text["author"] == "alice"
    assert picture.text["created"] == image.created_at.isoformat()
    assert picture.text["software"] == "Atelier" and "sha256" not in picture.text


def test_the_image_page_shows_everything_about_it(alice_client, alice):
    generation = make_generation(
        alice,
        status=Status.SUCCEEDED,
        provider_meta={
            "revised_prompt": "a fox, revised",
            "timings": {"inference": 0.8},
            "usage": {"credits_used": 1000},
        },
    )
    image = make_image(generation)
    html = alice_client.get(reverse("gallery:image-detail", args=[image.uuid])).content.decode()
    for text in (
        "a red fox in the snow",
        "a fox, revised",
        "sandbox/flux-sync",
        "image_size",
        "num_images",
        "credits_used",
        "inference",
        f"/images/{image.uuid}/original",
    ):
        assert text in html


def test_it_serves_image_files_to_the_owner_only(client, alice, dave):
    generation = make_generation(alice, status=Status.SUCCEEDED)
    image = make_image(generation)
    client.force_login(alice)
    thumb = client.get(f"/images/{image.uuid}/thumbnail")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    download = client.get(f"/images/{image.uuid}/original?download=1")
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment")
    assert client.get(f"/images/{image.uuid}/other").status_code == 404
    client.force_login(dave)
    assert client.get(f"/images/{image.uuid}/original").status_code == 404
    assert client.get(f"/images/{image.uuid}").status_code == 404
    assert client.get(f"/generations/{generation.uuid}/card").status_code == 404


def test_an_input_link_does_not_serve_a_deleted_image(client, alice):
    """A provider holding the link kept fetching an image deleted since, for up to an hour."""
    from django.core import signing
    from django.utils import timezone

    from gallery.models import Image
    from jobs import links

    image = make_image(make_generation(alice, status=Generation.Status.SUCCEEDED))
    link = "/inputs/" + signing.dumps(["image", str(image.uuid)], salt=links.INPUT_LINK_SALT)
    assert client.get(link).status_code == 200
    Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    assert client.get(link).status_code == 404
