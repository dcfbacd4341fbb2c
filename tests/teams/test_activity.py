"""The team's activity feed, and @mentions that notify teammates."""

from gallery.models import Notification
from jobs import tasks
from tests.factories import logged_in, make_generation, make_image


def test_a_mention_notifies_the_teammate_and_no_one_else(client, studio, alice, bob, dave):
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    logged_in(client, bob, studio).post(
        f"/images/{image.uuid}/comment", {"body": "@alice look! and @dave too"}
    )
    assert Notification.objects.get(user=alice).text.startswith("bob mentioned you")
    assert not Notification.objects.filter(user=dave).exists()  # not in the team
    html = logged_in(client, alice).get("/notifications/").content.decode()
    assert "bob mentioned you" in html
    client.post("/notifications/")
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()


def test_the_activity_feed_tells_who_did_what(client, studio, alice, bob, monkeypatch):

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    logged_in(client, bob, studio).post(
        "/generate",
        {
            "model": "sandbox/flux-sync",
            "prompt": "a lamp",
            "p_image_size": "square",
            "p_num_images": "1",
            "p_output_format": "png",
        },
    )
    html = logged_in(client, alice).get(f"/teams/{studio.uuid}/activity").content.decode()
    assert "bob" in html and "generated" in html and "a lamp" in html
