"""Hardening: what people type renders inert everywhere, and a POST needs its CSRF token."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gallery.images.forms import save_upload
from gallery.models import Gallery
from jobs import images
from tests.factories import logged_in, make_generation, make_image, png_bytes

PAYLOADS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    '<div hx-get="/logout/" hx-trigger="load">boom</div>',
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_prompts_names_comments_and_filenames_render_inert(client, studio, alice, payload):
    studio.name = payload
    studio.save()
    gallery = Gallery.objects.create(team=studio, name=payload)
    generation = make_generation(
        alice, team=studio, gallery=gallery, prompt=payload, status="succeeded", error=payload
    )
    image = make_image(generation)
    logged_in(client, alice, studio)
    client.post(f"/images/{image.uuid}/comment", {"body": f"@alice {payload}"})

    admin_client = Client()
    admin_client.force_login(get_user_model().objects.create_superuser("root", "", "pw"))
    pages = [
        client.get(path).content.decode()
        for path in (
            "/",
            f"/images/{image.uuid}",
            f"/teams/{studio.uuid}/",
            "/teams/",
            f"/teams/{studio.uuid}/activity",
            "/notifications/",
            "/galleries/",
            f"/galleries/{gallery.uuid}",
            f"/generations/{generation.uuid}/card",
        )
    ] + [
        admin_client.get(path).content.decode()
        for path in (
            "/admin/gallery/generation/",
            f"/admin/gallery/generation/{generation.pk}/change/",
            "/admin/gallery/comment/",
            "/admin/gallery/team/",
        )
    ]
    for html in pages:
        assert payload not in html
    assert any("&lt;" in html for html in pages)


def test_an_uploaded_filename_renders_inert(client, alice, settings):

    name = "<img src=x onerror=alert(1)>.png"
    upload = SimpleUploadedFile(name, png_bytes(), content_type="image/png")
    upload.inspected = images.inspect(png_bytes())
    item = save_upload(alice, upload)

    admin_client = Client()
    admin_client.force_login(get_user_model().objects.create_superuser("root", "", "pw"))
    html = admin_client.get("/admin/gallery/inputimage/").content.decode()
    assert item.filename == name
    assert name not in html and "&lt;img src=x onerror=alert(1)&gt;.png" in html


def test_a_post_without_the_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert (
        client.post("/generate", {"model": "sandbox/flux-sync", "prompt": "x"}).status_code == 403
    )
    page = client.get("/")
    token = page.cookies["csrftoken"].value
    assert 'hx-headers=\'{"X-CSRFToken": "' in page.content.decode()
    response = client.post("/generate", {}, headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code != 403
