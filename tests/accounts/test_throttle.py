"""Cancel, bulk actions, zip exports and try-models are limited per person, like generating."""

import pytest

from gallery.models import Gallery, Generation, Image, Notification
from jobs import tasks
from tests.factories import logged_in, make_generation, make_image

Status = Generation.Status


@pytest.fixture(autouse=True)
def quiet_submit(monkeypatch):

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)


def bulk(client, images, action):
    return client.post("/bulk", {"image": [str(i.uuid) for i in images], "action": action})


def test_cancel_is_limited_per_person(alice_client, alice, bob, client, settings):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "cancel": (1, 60)}
    first, second = (make_generation(alice, status=Status.RUNNING) for _ in range(2))
    alice_client.post(f"/generations/{first.uuid}/cancel")
    response = alice_client.post(
        f"/generations/{second.uuid}/cancel", headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert "Not cancelled: That is more than 1 cancels in a minute. Try again in" in page
    assert 'hx-trigger="load delay:5s"' in page  # the message stays a moment before polling
    second.refresh_from_db()
    assert second.status == Status.RUNNING
    theirs = make_generation(bob, status=Status.RUNNING)  # another person has their own count
    client.force_login(bob)
    client.post(f"/generations/{theirs.uuid}/cancel")
    theirs.refresh_from_db()
    assert theirs.status == Status.CANCELLED


def test_bulk_actions_are_limited_per_person(alice_client, alice, settings):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "bulk": (1, 60)}
    chosen = [make_image(make_generation(alice, status=Status.SUCCEEDED)) for _ in range(2)]
    bulk(alice_client, chosen[:1], "delete")
    response = bulk(alice_client, chosen[1:], "delete")
    assert response.status_code == 302
    page = alice_client.get("/").content.decode()
    assert "That is more than 1 actions on selected images in a minute. Try again in" in page
    assert Image.objects.filter(deleted_at__isnull=True).count() == 1


def test_zip_exports_are_limited_per_person(alice_client, alice, settings):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "export": (1, 60)}
    chosen = [make_image(make_generation(alice, status=Status.SUCCEEDED))]
    assert bulk(alice_client, chosen, "export")["Content-Type"] == "application/zip"
    response = bulk(alice_client, chosen, "export")
    assert response.status_code == 302 and response["Location"] == "/"
    page = alice_client.get("/").content.decode()
    assert "That is more than 1 zip exports in a minute. Try again in" in page


def test_each_model_of_a_try_counts_as_a_generation(alice_client, settings):
    settings.GENERATE_RATE = (2, 60)
    models = ["sandbox/flux-sync", "sandbox/openai-sync", "sandbox/relay-async"]
    response = alice_client.post("/try", {"prompt": "a fox", "models": models})
    assert response.status_code == 429
    assert "That is more than 2 generations in a minute. Try again in" in response.content.decode()
    assert not Generation.objects.exists()


def test_a_try_uses_up_the_generate_limit(alice_client, settings):
    settings.GENERATE_RATE = (2, 60)
    models = ["sandbox/flux-sync", "sandbox/openai-sync"]
    assert alice_client.post("/try", {"prompt": "a fox", "models": models}).status_code == 302
    data = {"model": "sandbox/flux-sync", "prompt": "a fox"}
    assert alice_client.post("/generate", data).status_code == 429
    assert Generation.objects.count() == 2


# --- Making teams and galleries, commenting, mentions --------------------------------------------


def limit(settings, action: str, count: int) -> None:
    settings.ACTION_RATES = {**settings.ACTION_RATES, action: (count, 3600)}


def test_making_teams_is_limited_per_person(alice_client, alice, settings):
    limit(settings, "team", 1)
    assert alice_client.post("/teams/", {"name": "One"}).status_code == 302
    refused = alice_client.post("/teams/", {"name": "Two"})
    assert refused.status_code == 429
    assert "more than 1 new teams in an hour" in refused.content.decode()
    assert list(alice.memberships.values_list("team__name", flat=True).order_by("pk")) == [
        "alice",
        "One",
    ]


def test_making_galleries_is_limited_per_person(alice_client, alice, settings):
    limit(settings, "gallery", 1)
    assert alice_client.post("/galleries/", {"name": "One"}).status_code == 302
    refused = alice_client.post("/galleries/", {"name": "Two"})
    assert refused.status_code == 429
    assert "more than 1 new galleries in an hour" in refused.content.decode()
    assert not Gallery.objects.filter(name="Two").exists()


def test_comments_are_limited_per_person(client, studio, bob, settings):
    limit(settings, "comment", 1)
    image = make_image(make_generation(bob, team=studio, status=Status.SUCCEEDED))
    client.force_login(bob)
    client.post(f"/images/{image.uuid}/comment", {"body": "first"})
    refused = client.post(f"/images/{image.uuid}/comment", {"body": "second"}, follow=True)
    assert "more than 1 comments in an hour" in refused.content.decode()
    assert list(image.comments.values_list("body", flat=True)) == ["first"]


def test_mention_mails_are_limited_per_author(client, studio, alice, bob, settings, mailoutbox):
    """Each comment mailed every teammate it named, as often as someone commented."""
    settings.EMAIL_NOTIFICATIONS = True
    limit(settings, "mention_mail", 2)
    image = make_image(make_generation(bob, team=studio, status=Status.SUCCEEDED))
    client.force_login(bob)
    for i in range(3):
        client.post(f"/images/{image.uuid}/comment", {"body": f"@alice @carol look {i}"})
    assert len(mailoutbox) == 2
    assert Notification.objects.filter(user=alice).count() == 3  # told on the site every time


def test_generating_too_fast_is_refused_with_a_clear_message(client, alice, settings, monkeypatch):

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    settings.GENERATE_RATE = (2, 60)
    data = {
        "model": "sandbox/flux-sync",
        "prompt": "x",
        "p_image_size": "square",
        "p_num_images": "1",
        "p_output_format": "png",
    }
    logged_in(client, alice)
    assert [client.post("/generate", data).status_code for _ in range(3)] == [302, 302, 429]
    assert "more than 2 generations in a minute" in client.post("/generate", data).content.decode()
    assert Generation.objects.count() == 2
