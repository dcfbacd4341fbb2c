"""The image page: neighbours in the filtered list, use-these-settings, delete with undo,
downloads that carry how the image was made."""

import io
import re
from datetime import timedelta

from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Generation, Image
from jobs import pipeline
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
    assert pipeline.purge_deleted(timezone.now() - timedelta(hours=1)) == 1
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


# --- Comments: the list polls, the form stays ------------------------------------------------


NAMES = ("comments", "comment-list", "comment-form")  # the section, its list, its form


def test_the_comment_list_polls_on_its_own_without_the_form(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    page = client.get(f"/images/{image.uuid}").content.decode()
    opening = {name: re.search(rf'<\w+ id="{name}"[^>]*>', page)[0] for name in NAMES}
    assert 'hx-trigger="every 5s"' in opening["comment-list"]
    assert f'hx-get="/images/{image.uuid}/comments"' in opening["comment-list"]
    assert "hx-trigger" not in opening["comments"] + opening["comment-form"]
    polled = client.get(f"/images/{image.uuid}/comments").content.decode()
    assert 'id="comment-list"' in polled and "No comments yet." in polled
    assert "<form" not in polled and "<textarea" not in polled


def test_a_comment_posted_with_htmx_clears_its_form_and_updates_the_list(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    url = f"/images/{image.uuid}/comment"
    response = client.post(url, {"body": "warmer, please"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<form id="comment-form"')
    assert '<textarea id="comment-body"' in html and "warmer, please</textarea>" not in html
    listed = html[html.index('id="comment-list"') :]
    assert 'hx-swap-oob="true"' in listed and "warmer, please" in listed


def test_a_comment_posted_without_javascript_goes_back_to_the_page(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    response = client.post(f"/images/{image.uuid}/comment", {"body": "warmer, please"})
    assert response.status_code == 302 and response["Location"] == f"/images/{image.uuid}"
    page = client.get(response["Location"]).content.decode()
    assert "warmer, please" in page and 'id="comment-form"' in page
