"""Teams: a personal space for everyone, making teams, switching, galleries shared in a team."""

import pytest

from gallery.models import Activity, Gallery, Generation, Membership, personal_team
from jobs import tasks
from tests.factories import logged_in, make_generation, make_image


def test_every_user_gets_a_personal_space(alice):
    team = personal_team(alice)
    assert team.personal and team.role_of(alice) == "owner"
    assert team.galleries.get().name == "Main"


def test_it_creates_a_team_and_makes_its_creator_owner(client, alice):
    logged_in(client, alice).post("/teams/", {"name": "Night shift"})
    membership = Membership.objects.get(team__name="Night shift")
    assert membership.user == alice and membership.role == "owner"
    assert membership.team.galleries.count() == 1


@pytest.mark.parametrize(
    "name", ["Join\nnow", "Tab\there", "Nul\x00", "Bell\x07", "Next\u2028line"]
)
def test_team_and_gallery_names_refuse_control_characters(client, studio, alice, name):
    """A line break in a team's name broke the header of every invitation mail naming it."""
    logged_in(client, alice, studio)
    response = client.post("/teams/", {"name": name})
    assert response.status_code == 200 and "cannot hold line breaks" in response.content.decode()
    response = client.post("/galleries/", {"name": name})
    assert response.status_code == 200 and "cannot hold line breaks" in response.content.decode()
    assert alice.memberships.count() == 2 and studio.galleries.count() == 1  # nothing made


def test_a_person_can_belong_to_several_teams_and_switch(client, studio, bob):
    other = make_generation(bob, prompt="in bob's own space")
    shared = make_generation(bob, team=studio, prompt="in the studio")
    logged_in(client, bob)
    assert str(other.uuid) in client.get("/").content.decode()
    client.post("/teams/switch", {"team": str(studio.uuid)})
    html = client.get("/").content.decode()
    assert str(shared.uuid) in html and str(other.uuid) not in html


def test_a_generation_goes_into_the_chosen_gallery(client, studio, bob, monkeypatch):

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    second = Gallery.objects.create(team=studio, name="Second")
    logged_in(client, bob, studio).post(
        "/generate",
        {
            "model": "sandbox/flux-sync",
            "prompt": "x",
            "gallery": str(second.uuid),
            "p_image_size": "square",
            "p_num_images": "1",
            "p_output_format": "png",
        },
    )
    generation = Generation.objects.get()
    assert generation.team == studio and generation.gallery == second and generation.owner == bob


def test_editors_move_and_copy_images_between_galleries(client, studio, alice, bob):
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    second = Gallery.objects.create(team=studio, name="Second")
    logged_in(client, bob, studio).post(f"/images/{image.uuid}/move", {"gallery": str(second.uuid)})
    image.refresh_from_db()
    assert image.gallery == second
    personal = personal_team(bob).galleries.get()
    client.post(f"/images/{image.uuid}/move", {"gallery": str(personal.uuid), "copy": "1"})
    copy = personal.images.get()
    assert copy.copy_of == image and copy.original.name == image.original.name
    assert Activity.objects.filter(verb="moved").exists()


def test_an_editor_cannot_move_into_a_gallery_they_only_view(client, studio, alice, carol):
    image = make_image(make_generation(carol, status="succeeded"))  # carol's own space
    response = logged_in(client, carol).post(
        f"/images/{image.uuid}/move", {"gallery": str(studio.galleries.get().uuid)}
    )
    assert response.status_code == 403
