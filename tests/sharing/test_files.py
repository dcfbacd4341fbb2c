"""The signed file URLs of share pages (gallery/sharing/files.py): fresh for a minute, checked
against the link on every request, read through Django's storage API."""

import json
import time
from pathlib import Path

import pytest
from django.core import signing

from gallery.models import Gallery, Generation
from gallery.sharing import files
from tests.factories import make_generation, make_image, make_share_link, png_bytes, share_file_urls


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def signed_ago(monkeypatch, seconds: int) -> None:
    """Sign from now on as if the clock were `seconds` behind."""

    def timestamp(self):
        return signing.b62_encode(int(time.time()) - seconds)

    monkeypatch.setattr(signing.TimestampSigner, "timestamp", timestamp)


def test_a_served_file_url_returns_the_thumbnail(client, link, images):
    url = files.file_url(link, images[0], "thumbnail")
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == "private, max-age=60"
    assert response["X-Robots-Tag"] == "noindex"
    with images[0].thumbnail.open("rb") as f:
        assert body(response) == f.read()


def test_every_url_the_page_served_works_until_revoked(client, alice, link):
    served = share_file_urls(client.get(f"/s/{link.token}").text)
    assert served and all(client.get(url).status_code == 200 for url in served)
    link.revoke(alice)
    assert all(client.get(url).status_code == 404 for url in served)


@pytest.mark.parametrize(("age", "status"), [(50, 200), (61, 404)])
def test_a_file_url_lasts_a_minute(client, link, images, monkeypatch, age, status):
    signed_ago(monkeypatch, age)
    assert client.get(files.file_url(link, images[0], "thumbnail")).status_code == status


def test_a_tampered_url_is_not_found(client, link, images):
    link.allow_download = True  # an original could be served: the signature is what refuses
    link.save()
    url = files.file_url(link, images[0], "thumbnail")
    # The thumbnail's timestamp and signature on a payload asking for the original.
    payload = signing.b64_encode(
        json.dumps(
            [str(link.uuid), str(images[0].uuid), "original"], separators=(",", ":")
        ).encode()
    ).decode()
    forged = "/share/files/" + payload + url[url.index(":") :]
    assert forged != url
    assert client.get(url[:-2] + "xx").status_code == 404
    assert client.get(forged).status_code == 404
    unsigned = signing.TimestampSigner(salt="other").sign_object(
        [str(link.uuid), str(images[0].uuid), "original"]
    )
    assert client.get(f"/share/files/{unsigned}").status_code == 404


def test_a_url_serves_only_what_its_link_shares(client, studio, alice, link, images):
    second = Gallery.objects.create(team=studio, name="Second", created_by=alice)
    elsewhere = make_image(
        make_generation(alice, team=studio, gallery=second, status=Generation.Status.SUCCEEDED)
    )
    assert client.get(files.file_url(link, elsewhere, "thumbnail")).status_code == 404
    one = make_share_link(alice, image=images[0])
    assert client.get(files.file_url(one, images[0], "small")).status_code == 200
    assert client.get(files.file_url(one, images[1], "small")).status_code == 404


def test_originals_only_where_downloads_are_allowed(client, link, images):
    image = images[0]
    assert client.get(files.file_url(link, image, "original")).status_code == 404
    assert client.get(f"/s/{link.token}/images/{image.uuid}/download").status_code == 404
    link.allow_download = True
    link.save()
    response = client.get(f"/s/{link.token}/images/{image.uuid}/download")
    assert response.status_code == 302 and response["Location"].startswith("/share/files/")
    download = client.get(response["Location"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="atelier-{image.uuid}.png"'
    with image.original.open("rb") as f:
        assert body(download) == f.read()


def test_files_come_through_the_storage_api(client, settings, alice, main):
    """No filesystem path: the same URLs work with a storage that has none."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    image = make_image(
        make_generation(alice, team=main.team, gallery=main, status=Generation.Status.SUCCEEDED)
    )
    link = make_share_link(alice, gallery=main)
    assert not (Path(settings.MEDIA_ROOT) / image.thumbnail.name).exists()
    response = client.get(files.file_url(link, image, "thumbnail"))
    assert response.status_code == 200
    assert body(response) == png_bytes()  # what make_image stored as its thumbnail
