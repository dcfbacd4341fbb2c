"""`manage.py copy_media_to_storage`: local media into the bucket, every copy checked, and a
second run (or a run after an interruption) that copies only what is not there yet."""

import hashlib
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from gallery.models import Generation, Image
from tests.factories import make_generation, make_image, png_bytes

Status = Generation.Status


@pytest.fixture
def on_disk(alice, media_root) -> list[Image]:
    """Two images stored on the local disk, their rows holding their originals' SHA-256."""
    made = [make_image(make_generation(alice, status=Status.SUCCEEDED)) for _ in range(2)]
    Image.objects.update(sha256=hashlib.sha256(png_bytes()).hexdigest())
    for image in made:
        image.refresh_from_db()
    return made


@pytest.fixture
def bucket(on_disk, settings, s3_server):
    """Then the operator sets the AWS_* variables: media now goes to an empty bucket."""
    found = s3_server.new_bucket()
    found.use(settings)
    return found


def copy(**options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("copy_media_to_storage", stdout=out, stderr=err, **options)
    finally:
        copy.output = (out.getvalue(), err.getvalue())  # type: ignore[attr-defined]
    return out.getvalue(), err.getvalue()


def names(images: list[Image]) -> set[str]:
    return {f.name for i in images for f in (i.original, i.thumbnail, i.thumbnail_small)}


def test_it_copies_every_file_and_says_so(on_disk, bucket, media_root):
    out, _ = copy()
    assert out.strip() == "6 copied, 0 already there, 0 missing locally, 0 mismatched."
    assert bucket.names() == names(on_disk)
    for name in names(on_disk):
        assert bucket.read(name) == (Path(media_root) / name).read_bytes()
    head = bucket.server.client().head_object(Bucket=bucket.name, Key=on_disk[0].original.name)
    assert head["Metadata"]["sha256"] == on_disk[0].sha256
    assert head["ContentType"] == "image/png"


def test_a_second_run_copies_nothing(on_disk, bucket):
    copy()
    client = bucket.server.client()
    before = {n: client.head_object(Bucket=bucket.name, Key=n)["ETag"] for n in names(on_disk)}
    out, _ = copy()
    assert out.strip() == "0 copied, 6 already there, 0 missing locally, 0 mismatched."
    after = {n: client.head_object(Bucket=bucket.name, Key=n)["ETag"] for n in names(on_disk)}
    assert after == before


def test_an_interrupted_copy_resumes_and_replaces_a_partial_object(on_disk, bucket, media_root):
    client = bucket.server.client()
    original = on_disk[0].original.name
    client.put_object(Bucket=bucket.name, Key=original, Body=png_bytes()[:40])  # cut short
    thumbnail = on_disk[0].thumbnail.name  # written whole by Atelier: no hash kept on it
    client.put_object(Bucket=bucket.name, Key=thumbnail, Body=png_bytes())
    out, _ = copy()
    assert out.strip() == "5 copied, 1 already there, 0 missing locally, 0 mismatched."
    assert bucket.read(original) == png_bytes()


def test_a_local_file_that_differs_from_its_row_is_not_copied(on_disk, bucket, media_root):
    damaged = on_disk[1].original.name
    (Path(media_root) / damaged).write_bytes(b"not what was stored")
    with pytest.raises(CommandError, match="1 file\\(s\\) were not copied"):
        copy()
    out, err = copy.output  # type: ignore[attr-defined]
    assert out.strip() == "5 copied, 0 already there, 0 missing locally, 1 mismatched."
    assert f"{damaged}: its SHA-256 does not match the row's; not copied." in err
    assert damaged not in bucket.names()


def test_a_file_missing_everywhere_is_reported(on_disk, bucket, media_root):
    gone = on_disk[0].thumbnail_small.name
    (Path(media_root) / gone).unlink()
    with pytest.raises(CommandError):
        copy()
    out, err = copy.output  # type: ignore[attr-defined]
    assert "1 missing locally" in out and f"{gone}: not in {media_root}" in err


def test_it_copies_from_another_folder(on_disk, bucket, media_root, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "new-empty-root")
    out, _ = copy(source=Path(media_root))
    assert out.startswith("6 copied")


def test_it_refuses_when_media_is_on_disk(on_disk):
    with pytest.raises(CommandError, match="set AWS_STORAGE_BUCKET_NAME"):
        copy()
