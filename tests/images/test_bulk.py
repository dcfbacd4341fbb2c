"""Many images at once: selection respects access; export carries originals and metadata."""

import csv
import io
import json
import random
import zipfile

from django.core.files.base import ContentFile

from gallery.images import bulk
from gallery.models import Favorite, Gallery, Generation, Image
from tests.factories import make_generation, make_image, png_bytes

Status = Generation.Status


def images_of(owner, count, **fields):
    return [
        make_image(make_generation(owner, status=Status.SUCCEEDED, prompt=f"picture {i}", **fields))
        for i in range(count)
    ]


def post(client, images, action, **extra):
    return client.post("/bulk", {"image": [str(i.uuid) for i in images], "action": action, **extra})


def unzip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_it_exports_originals_with_metadata(client, alice):
    chosen = images_of(alice, 3, params={"seed": 4, "num_images": 1})
    client.force_login(alice)
    response = post(client, chosen, "export")
    assert response["Content-Type"] == "application/zip"
    archive = unzip(response)
    names = set(archive.namelist())
    assert {"metadata.json", "metadata.csv"} <= names
    assert archive.read(f"{chosen[0].uuid}.png") == png_bytes()
    rows = json.loads(archive.read("metadata.json"))
    assert {r["prompt"] for r in rows} == {"picture 0", "picture 1", "picture 2"}
    assert rows[0]["parameters"] == {"seed": 4, "num_images": 1} and rows[0]["author"] == "alice"
    table = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert len(table) == 3 and json.loads(table[0]["parameters"]) == {"num_images": 1, "seed": 4}


def test_the_export_is_streamed_in_pieces_the_size_of_a_read(client, alice):
    """Each original is sent as it is read, never the whole archive at once."""
    chosen = images_of(alice, 3)
    big = random.Random(7).randbytes(3 * bulk.ZIP_CHUNK + 5)  # incompressible, four reads
    for image in chosen:
        image.original.save(f"originals/big-{image.uuid}.png", ContentFile(big), save=False)
        Image.objects.filter(pk=image.pk).update(original=image.original.name, byte_size=len(big))
    client.force_login(alice)
    response = post(client, chosen, "export")
    assert response.streaming
    pieces = list(response.streaming_content)
    assert len(pieces) > 12 and max(map(len, pieces)) < bulk.ZIP_CHUNK + 1024
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.testzip() is None  # every CRC checks out
    for image in chosen:
        assert archive.read(f"{image.uuid}.png") == big
        assert archive.getinfo(f"{image.uuid}.png").compress_type == zipfile.ZIP_STORED
    assert archive.getinfo(f"{chosen[0].uuid}.png").external_attr >> 16 == 0o644


def test_the_exported_table_opens_as_text_in_a_spreadsheet(client, alice):
    (chosen,) = images_of(alice, 1)
    Generation.objects.filter(pk=chosen.generation_id).update(prompt='  =HYPERLINK("x")')
    client.force_login(alice)
    archive = unzip(post(client, [chosen], "export"))
    (row,) = csv.DictReader(io.StringIO(archive.read("metadata.csv").decode()))
    assert row["prompt"] == """'  =HYPERLINK("x")"""  # a formula no more
    assert json.loads(archive.read("metadata.json"))[0]["prompt"] == '  =HYPERLINK("x")'


def test_a_stranger_cannot_export_or_touch_what_they_cannot_see(client, alice, dave):
    theirs = images_of(alice, 2)
    client.force_login(dave)
    data = {"image": [str(i.uuid) for i in theirs], "action": "export"}
    response = client.post("/bulk", data, follow=True)
    assert response["Content-Type"].startswith("text/html")
    assert "Select one or more images first." in response.content.decode()
    post(client, theirs, "delete")
    assert Image.objects.filter(deleted_at__isnull=True).count() == 2


def test_bulk_delete_favorite_and_move(client, alice):
    chosen = images_of(alice, 3)
    client.force_login(alice)
    post(client, chosen[:2], "favorite")
    assert Favorite.objects.filter(user=alice).count() == 2
    other = Gallery.objects.create(team=chosen[0].team, name="Other")
    post(client, chosen[:2], "move", gallery=str(other.uuid))
    assert other.images.count() == 2
    post(client, chosen, "delete")
    assert Image.objects.filter(deleted_at__isnull=True).count() == 0


def test_viewers_cannot_bulk_delete(client, studio, alice, carol):
    chosen = [make_image(make_generation(alice, team=studio, status=Status.SUCCEEDED))]
    client.force_login(carol)
    assert post(client, chosen, "delete").status_code == 403


def test_compare_highlights_what_differs(client, alice):
    a, b = (
        make_image(make_generation(alice, status=Status.SUCCEEDED, params={"seed": s, "steps": 20}))
        for s in (1, 2)
    )
    client.force_login(alice)
    response = post(client, [a, b], "compare")
    page = client.get(response["Location"])
    rows = {row["name"]: row for row in page.context["rows"]}
    assert rows["seed"]["differs"] and not rows["steps"]["differs"]
    assert 'class="differs"' in page.content.decode()


def test_compare_needs_two_to_four(client, alice):
    (one,) = images_of(alice, 1)
    client.force_login(alice)
    assert client.get("/compare", {"image": str(one.uuid)}).status_code == 404
