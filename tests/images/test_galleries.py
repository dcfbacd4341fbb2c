"""A team's galleries: the list with its form for a new one, and one gallery's images."""

from datetime import timedelta

from django.utils import timezone

from gallery.models import Gallery, Generation, Image, personal_team
from tests.factories import logged_in, make_generation, make_image

Status = Generation.Status


def test_it_lists_the_teams_galleries_and_makes_a_new_one(alice_client, alice):
    response = alice_client.post("/galleries/", {"name": "Trips"})
    made = Gallery.objects.get(name="Trips")
    assert response.status_code == 302 and response["Location"] == made.get_absolute_url()
    assert made.team == personal_team(alice) and made.created_by == alice
    page = alice_client.get("/galleries/").content.decode()
    assert "Trips" in page and "Main" in page


def test_a_viewer_sees_the_galleries_but_cannot_make_one(client, studio, carol):
    logged_in(client, carol, studio)
    assert client.get("/galleries/").status_code == 200
    assert client.post("/galleries/", {"name": "Mine"}).status_code == 403
    assert not Gallery.objects.filter(name="Mine").exists()


def test_making_galleries_too_fast_is_refused_in_words(alice_client, settings):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "gallery": (1, 3600)}
    assert alice_client.post("/galleries/", {"name": "One"}).status_code == 302
    response = alice_client.post("/galleries/", {"name": "Two"})
    assert response.status_code == 429
    assert "more than 1 new galleries in" in response.content.decode()
    assert not Gallery.objects.filter(name="Two").exists()


def test_a_gallery_shows_its_own_images_newest_first_and_not_the_deleted(alice_client, alice):
    main = personal_team(alice).default_gallery()
    other = Gallery.objects.create(team=main.team, name="Other", created_by=alice)
    made = [make_image(make_generation(alice, status=Status.SUCCEEDED)) for _ in range(3)]
    older, newer, gone = made
    Image.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=1))
    Image.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    elsewhere = make_image(make_generation(alice, gallery=other, status=Status.SUCCEEDED))
    response = alice_client.get(main.get_absolute_url())
    assert response.status_code == 200
    assert list(response.context["images"]) == [newer, older]
    assert elsewhere not in response.context["images"]


def test_a_stranger_cannot_see_a_gallery(client, alice, dave):
    gallery = personal_team(alice).default_gallery()
    client.force_login(dave)
    assert client.get(gallery.get_absolute_url()).status_code == 404
