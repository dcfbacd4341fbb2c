"""Media in an S3 bucket (moto's server over HTTP): files land in the bucket, never on disk, and
reach the browser only after Atelier's access check, by a short-lived signed link."""

import io
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image as PILImage

from gallery.images.forms import save_upload
from gallery.models import Generation
from jobs import cleanup, images, links
from tests.factories import make_generation, make_image, png_bytes
from webapp import storage

Status = Generation.Status


@pytest.fixture
def image(s3_storage, alice):
    return make_image(make_generation(alice, status=Status.SUCCEEDED, params={"seed": 5}))


def follow(response) -> httpx.Response:
    """What the browser gets from the store at the link Atelier redirected it to."""
    assert response.status_code == 302, response.status_code
    return httpx.get(response["Location"])


def test_it_stores_originals_and_thumbnails_in_the_bucket(image, s3_storage):
    base = f"{image.generation.uuid}/0"
    assert s3_storage.names() == {
        f"originals/{base}.png",
        f"thumbnails/{base}.webp",
        f"thumbnails/{base}-256.webp",
    }
    assert s3_storage.read(f"originals/{base}.png") == png_bytes()
    # The s3_storage fixture then checks that nothing was written under MEDIA_ROOT.


@pytest.mark.parametrize("kind", ["original", "thumbnail", "small"])
def test_it_redirects_a_member_to_a_link_signed_for_five_minutes(client, alice, image, kind):
    client.force_login(alice)
    response = client.get(f"/images/{image.uuid}/{kind}")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
    assert response["Cache-Control"] == "private, max-age=150"
    fetched = follow(response)
    assert fetched.status_code == 200
    assert fetched.content == png_bytes()  # the factory stores the same bytes for all three
    assert fetched.headers["Cache-Control"] == "private, max-age=31536000, immutable"


def test_the_store_refuses_the_same_object_without_a_signature(client, alice, image):
    client.force_login(alice)
    location = urlsplit(client.get(f"/images/{image.uuid}/original")["Location"])
    assert httpx.get(f"{location.scheme}://{location.netloc}{location.path}").status_code == 403


def test_it_sends_a_stranger_no_link(client, dave, image):
    client.force_login(dave)
    response = client.get(f"/images/{image.uuid}/original")
    assert response.status_code == 404 and "Location" not in response


def test_a_non_png_download_keeps_its_filename_from_the_store(client, alice, s3_storage):
    generation = make_generation(alice, status=Status.SUCCEEDED)
    image = make_image(generation)
    image.content_type = "image/webp"
    image.save(update_fields=["content_type"])
    client.force_login(alice)
    fetched = follow(client.get(f"/images/{image.uuid}/original?download=1"))
    expected = f'attachment; filename="atelier-{image.uuid}.png"'
    assert fetched.headers["Content-Disposition"] == expected
    assert fetched.headers["Content-Type"] == "image/webp"


def test_a_png_download_streams_through_with_its_parameters(client, alice, image):
    """PNG text chunks are written at download time, so Atelier sends these bytes itself."""
    client.force_login(alice)
    response = client.get(f"/images/{image.uuid}/original?download=1")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="atelier-{image.uuid}.png"'
    picture = PILImage.open(io.BytesIO(response.content))
    assert picture.text["parameters"] == '{"seed": 5}'


def test_with_media_stream_it_sends_the_bytes_itself(client, alice, image, settings):
    settings.MEDIA_STREAM = True
    client.force_login(alice)
    response = client.get(f"/images/{image.uuid}/thumbnail")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Length"] == str(len(png_bytes()))
    assert b"".join(response.streaming_content) == png_bytes()


def test_the_admin_file_view_redirects_staff_only(client, admin_client, alice, image):
    url = f"/admin/gallery/image/{image.pk}/file/original/"
    response = admin_client.get(url)
    assert "no-store" in response["Cache-Control"]
    assert follow(response).content == png_bytes()
    client.force_login(alice)
    assert client.get(url).status_code == 302
    assert client.get(url)["Location"].startswith("/admin/login/")


def test_an_input_link_redirects_a_provider_to_the_signed_object(client, image):
    token = signing.dumps(["image", str(image.uuid)], salt=links.INPUT_LINK_SALT)
    assert follow(client.get(f"/inputs/{token}")).content == png_bytes()


def test_an_uploaded_input_goes_to_the_bucket(alice, s3_storage):
    data = png_bytes(20, 10)
    upload = SimpleUploadedFile("mine.png", data, content_type="image/png")
    upload.inspected = images.inspect(data)  # type: ignore[attr-defined]
    item = save_upload(alice, upload)
    assert s3_storage.read(item.file.name) == data


def test_orphan_uploads_are_purged_from_the_bucket(alice, s3_storage):
    upload = SimpleUploadedFile("mine.png", png_bytes(), content_type="image/png")
    upload.inspected = images.inspect(png_bytes())  # type: ignore[attr-defined]
    kept = save_upload(alice, upload)
    orphan = "inputs/left-by-a-dead-process.png"
    s3_storage.server.client().put_object(Bucket=s3_storage.name, Key=orphan, Body=b"x")
    assert cleanup.purge_orphan_inputs(timezone.now() + timedelta(minutes=1)) == 1
    assert s3_storage.names() == {kept.file.name}


def test_the_zip_export_reads_originals_from_the_bucket(client, alice, image):
    client.force_login(alice)
    response = client.post("/bulk", {"image": [str(image.uuid)], "action": "export"})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read(f"{image.uuid}.png") == png_bytes()


def test_the_storage_is_reachable(s3_storage):
    assert storage.is_remote() and storage.storage_reachable()


def test_a_missing_bucket_is_unreachable(s3_storage, settings):
    options = settings.STORAGES["default"]["OPTIONS"]
    default = {**settings.STORAGES["default"], "OPTIONS": options | {"bucket_name": "gone-away"}}
    settings.STORAGES = {**settings.STORAGES, "default": default}
    assert not storage.storage_reachable()


def test_a_store_that_does_not_answer_is_unreachable(s3_storage, settings):
    options = settings.STORAGES["default"]["OPTIONS"] | {"endpoint_url": "http://127.0.0.1:9"}
    default = {**settings.STORAGES["default"], "OPTIONS": options}
    settings.STORAGES = {**settings.STORAGES, "default": default}
    assert not storage.storage_reachable()


def test_a_writable_media_folder_is_reachable(media_root):
    assert not storage.is_remote() and storage.storage_reachable()


def test_a_media_folder_that_cannot_be_made_is_unreachable(settings, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    settings.MEDIA_ROOT = str(tmp_path / "a-file" / "media")
    assert not storage.storage_reachable()


def test_readyz_fails_at_once_on_a_store_that_does_not_answer(client, db, s3_storage, settings):
    options = settings.STORAGES["default"]["OPTIONS"] | {"endpoint_url": "http://127.0.0.1:9"}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": options},
    }
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["failed"] == ["storage"]


def test_readyz_passes_with_the_bucket(client, db, s3_storage):
    assert client.get("/readyz").json()["checks"]["storage"] == "ok"
