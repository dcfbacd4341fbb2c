"""Teams: invitations, roles that take effect at once, team keys that never leak, hardening."""

import base64
import logging
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from gallery.models import (
    Activity,
    Gallery,
    Generation,
    Invitation,
    Membership,
    Notification,
    Team,
    personal_team,
)
from gallery.teams import encryption as secrets
from jobs import http, pipeline
from tests.factories import make_generation, make_image


def login(client, user, team=None):
    client.force_login(user)
    if team is not None:
        session = client.session
        session["team"] = str(team.uuid)
        session.save()
    return client


def invite(client, team, **data):
    client.post(f"/teams/{team.uuid}/invitations", {"role": "editor", **data})
    return Invitation.objects.latest("created_at")


# --- teams and invitations -------------------------------------------------------------------


def test_every_user_gets_a_personal_space(alice):
    team = personal_team(alice)
    assert team.personal and team.role_of(alice) == "owner"
    assert team.galleries.get().name == "Main"


def test_it_creates_a_team_and_makes_its_creator_owner(client, alice):
    login(client, alice).post("/teams/", {"name": "Night shift"})
    membership = Membership.objects.get(team__name="Night shift")
    assert membership.user == alice and membership.role == "owner"
    assert membership.team.galleries.count() == 1


def test_an_invitation_link_lets_someone_join_with_its_role(
    client, studio, alice, dave, mailoutbox
):
    invitation = invite(login(client, alice), studio, role="viewer", email="dave@example.com")
    assert invitation.expires_at > timezone.now()
    assert len(mailoutbox) == 1 and invitation.token in mailoutbox[0].body
    login(client, dave)
    assert "Join Studio" in client.get(f"/invitations/{invitation.token}").content.decode()
    client.post(f"/invitations/{invitation.token}")
    assert studio.role_of(dave) == "viewer"
    assert Activity.objects.filter(team=studio, verb="joined", actor=dave).exists()
    # Used once: it does not work again.
    assert client.get(f"/invitations/{invitation.token}").status_code == 410


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_invitations_are_limited_per_person(client, studio, alice, settings, mailoutbox):
    """Anyone can make a team and mail invitations with its name in them to any address."""
    settings.ACTION_RATES = {**settings.ACTION_RATES, "invite": (2, 3600)}
    login(client, alice)
    for i in range(2):
        invite(client, studio, email=f"p{i}@example.com")
    data = {"role": "editor", "email": "p9@example.com"}
    refused = client.post(f"/teams/{studio.uuid}/invitations", data, follow=True)
    assert any("more than 2 invitations in an hour" in m for m in messages_of(refused))
    assert studio.invitations.count() == 2 and len(mailoutbox) == 2


def test_invitations_are_limited_per_team(client, studio, alice, bob, settings, mailoutbox):
    settings.ACTION_RATES = {**settings.ACTION_RATES, "team_invite": (2, 86400)}
    Membership.objects.filter(team=studio, user=bob).update(role="owner")
    invite(login(client, alice), studio, email="p1@example.com")
    invite(login(client, bob), studio, email="p2@example.com")
    refused = client.post(f"/teams/{studio.uuid}/invitations", {"role": "editor"}, follow=True)
    assert any("more than 2 invitations for this team in" in m for m in messages_of(refused))
    assert studio.invitations.count() == 2 and len(mailoutbox) == 2


def test_a_team_has_at_most_so_many_emailed_invitations_open(
    client, studio, alice, settings, mailoutbox
):
    settings.OPEN_EMAILED_INVITATIONS = 2
    login(client, alice)
    first = invite(client, studio, email="p1@example.com")
    invite(client, studio, email="p2@example.com")
    data = {"role": "editor", "email": "p3@example.com"}
    refused = client.post(f"/teams/{studio.uuid}/invitations", data, follow=True)
    assert any("2 emailed invitations waiting" in m for m in messages_of(refused))
    assert len(mailoutbox) == 2
    assert invite(client, studio).email == ""  # a link, mailed to no one, is still made
    client.post(f"/teams/{studio.uuid}/invitations/{first.pk}/revoke")
    assert invite(client, studio, email="p3@example.com").email == "p3@example.com"
    assert len(mailoutbox) == 3


@pytest.mark.parametrize(
    "name", ["Join\nnow", "Tab\there", "Nul\x00", "Bell\x07", "Next\u2028line"]
)
def test_team_and_gallery_names_refuse_control_characters(client, studio, alice, name):
    """A line break in a team's name broke the header of every invitation mail naming it."""
    login(client, alice, studio)
    response = client.post("/teams/", {"name": name})
    assert response.status_code == 200 and "cannot hold line breaks" in response.content.decode()
    response = client.post("/galleries/", {"name": name})
    assert response.status_code == 200 and "cannot hold line breaks" in response.content.decode()
    assert alice.memberships.count() == 2 and studio.galleries.count() == 1  # nothing made


def test_an_invitation_mail_names_a_team_with_a_line_break_on_one_line(
    client, studio, alice, mailoutbox
):
    """A team named before names were checked: the mail's subject raised ValueError (a 500),
    with the invitation already saved."""
    Team.objects.filter(pk=studio.pk).update(name="Studio\r\nBcc: everyone@example.com")
    invitation = invite(login(client, alice), studio, email="dave@example.com")
    assert invitation.email == "dave@example.com"
    [mail] = mailoutbox
    assert mail.subject == "Join Studio Bcc: everyone@example.com on Atelier"
    assert mail.to == ["dave@example.com"] and not mail.bcc


def test_an_expired_invitation_does_not_work(client, studio, alice, dave):
    invitation = invite(login(client, alice), studio)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    login(client, dave)
    assert client.post(f"/invitations/{invitation.token}").status_code == 410
    assert studio.role_of(dave) is None


def test_a_revoked_invitation_does_not_work(client, studio, alice, dave):
    invitation = invite(login(client, alice), studio)
    client.post(f"/teams/{studio.uuid}/invitations/{invitation.pk}/revoke")
    login(client, dave)
    assert client.get(f"/invitations/{invitation.token}").status_code == 410
    assert client.post(f"/invitations/{invitation.token}").status_code == 410
    assert studio.role_of(dave) is None


def test_a_role_change_takes_effect_at_once(client, studio, alice, bob):
    bob_membership = Membership.objects.get(team=studio, user=bob)
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    bob_client = login(Client(), bob, studio)
    assert bob_client.post(f"/images/{image.uuid}/comment", {"body": "hi"}).status_code == 302
    login(client, alice).post(
        f"/teams/{studio.uuid}/members/{bob_membership.pk}/role", {"role": "viewer"}
    )
    assert bob_client.post(f"/images/{image.uuid}/comment", {"body": "hi"}).status_code == 403
    assert bob_client.post("/generate", {}).status_code == 403


def test_a_removed_member_sees_nothing_at_once(client, studio, alice, bob):
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    bob_client = login(Client(), bob, studio)
    assert bob_client.get(f"/images/{image.uuid}").status_code == 200
    membership = Membership.objects.get(team=studio, user=bob)
    login(client, alice).post(f"/teams/{studio.uuid}/members/{membership.pk}/remove")
    assert bob_client.get(f"/images/{image.uuid}").status_code == 404
    assert bob_client.get(f"/images/{image.uuid}/thumbnail").status_code == 404


def test_the_last_owner_cannot_step_down_or_leave(client, studio, alice):
    membership = Membership.objects.get(team=studio, user=alice)
    login(client, alice)
    client.post(f"/teams/{studio.uuid}/members/{membership.pk}/role", {"role": "editor"})
    client.post(f"/teams/{studio.uuid}/members/{membership.pk}/remove")
    assert studio.role_of(alice) == "owner"


def test_a_person_can_belong_to_several_teams_and_switch(client, studio, bob):
    other = make_generation(bob, prompt="in bob's own space")
    shared = make_generation(bob, team=studio, prompt="in the studio")
    login(client, bob)
    assert str(other.uuid) in client.get("/").content.decode()
    client.post("/teams/switch", {"team": str(studio.uuid)})
    html = client.get("/").content.decode()
    assert str(shared.uuid) in html and str(other.uuid) not in html


def test_a_generation_goes_into_the_chosen_gallery(client, studio, bob, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    second = Gallery.objects.create(team=studio, name="Second")
    login(client, bob, studio).post(
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
    login(client, bob, studio).post(f"/images/{image.uuid}/move", {"gallery": str(second.uuid)})
    image.refresh_from_db()
    assert image.gallery == second
    personal = personal_team(bob).galleries.get()
    client.post(f"/images/{image.uuid}/move", {"gallery": str(personal.uuid), "copy": "1"})
    copy = personal.images.get()
    assert copy.copy_of == image and copy.original.name == image.original.name
    assert Activity.objects.filter(verb="moved").exists()


def test_an_editor_cannot_move_into_a_gallery_they_only_view(client, studio, alice, carol):
    image = make_image(make_generation(carol, status="succeeded"))  # carol's own space
    response = login(client, carol).post(
        f"/images/{image.uuid}/move", {"gallery": str(studio.galleries.get().uuid)}
    )
    assert response.status_code == 403


def test_a_mention_notifies_the_teammate_and_no_one_else(client, studio, alice, bob, dave):
    image = make_image(make_generation(alice, team=studio, status="succeeded"))
    login(client, bob, studio).post(
        f"/images/{image.uuid}/comment", {"body": "@alice look! and @dave too"}
    )
    assert Notification.objects.get(user=alice).text.startswith("bob mentioned you")
    assert not Notification.objects.filter(user=dave).exists()  # not in the team
    html = login(client, alice).get("/notifications/").content.decode()
    assert "bob mentioned you" in html
    client.post("/notifications/")
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()


def test_the_activity_feed_tells_who_did_what(client, studio, alice, bob, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    login(client, bob, studio).post(
        "/generate",
        {
            "model": "sandbox/flux-sync",
            "prompt": "a lamp",
            "p_image_size": "square",
            "p_num_images": "1",
            "p_output_format": "png",
        },
    )
    html = login(client, alice).get(f"/teams/{studio.uuid}/activity").content.decode()
    assert "bob" in html and "generated" in html and "a lamp" in html


# --- team keys ---------------------------------------------------------------------------------

SECRET = "sk-team-SECRET-0123456789"


@pytest.fixture
def encryption(settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    return settings


def set_key(client, team):
    return client.post(f"/teams/{team.uuid}/keys", {"aimlapi_key": SECRET})


def test_team_keys_are_encrypted_at_rest_and_shown_masked(client, studio, alice, encryption):
    set_key(login(client, alice), studio)
    studio.refresh_from_db()
    assert studio.aimlapi_key and SECRET not in studio.aimlapi_key
    assert secrets.decrypt(studio.aimlapi_key) == SECRET
    html = client.get(f"/teams/{studio.uuid}/").content.decode()
    assert SECRET not in html and "sk-…6789" in html


def test_team_keys_can_be_rotated(client, studio, alice, encryption, settings):
    set_key(login(client, alice), studio)
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new},{settings.FIELD_ENCRYPTION_KEY}"
    from django.core.management import call_command

    call_command("rotate_keys")
    studio.refresh_from_db()
    settings.FIELD_ENCRYPTION_KEY = new  # the old key is gone now
    assert secrets.decrypt(studio.aimlapi_key) == SECRET


def test_without_an_encryption_key_team_keys_are_refused(client, studio, alice, settings):
    settings.FIELD_ENCRYPTION_KEY = ""
    response = set_key(login(client, alice), studio)
    studio.refresh_from_db()
    assert studio.aimlapi_key == ""
    assert "FIELD_ENCRYPTION_KEY" in client.get(response["Location"]).content.decode()


def test_a_team_key_is_used_by_the_worker_and_never_leaks(
    client,
    studio,
    alice,
    encryption,
    settings,
    caplog,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Pages, logs and the broker's messages never carry the key; the provider gets it."""
    from webapp.celery import app

    settings.AIMLAPI_API_KEY = ""  # only the team's key makes the model usable
    caplog.set_level(logging.DEBUG)
    set_key(login(client, alice, studio), studio)
    pages = "".join(
        client.get(path).content.decode()
        for path in ("/", f"/teams/{studio.uuid}/", "/generate/fields?model=flux/schnell")
    )
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("provider")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/generate", {"model": "flux/schnell", "prompt": "a key test"})
    assert response.status_code == 302, response.content.decode()[:500]
    generation = Generation.objects.get()
    messages = broker_messages(app, "provider")
    assert messages and str(generation.pk).encode() in b"".join(messages)

    seen = []
    monkeypatch.setattr(
        http,
        "client",
        lambda read_timeout=None: httpx.Client(
            transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(401, json={}))
        ),
    )
    pipeline.submit(generation)
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    generation.refresh_from_db()
    admin_client = Client()
    from django.contrib.auth import get_user_model

    admin_client.force_login(get_user_model().objects.create_superuser("root", "", "pw"))
    admin = "".join(
        admin_client.get(path).content.decode()
        for path in (
            f"/admin/gallery/team/{studio.pk}/change/",
            "/admin/gallery/generation/",
            f"/admin/gallery/generation/{generation.pk}/change/",
        )
    )
    for text in (pages, admin, caplog.text, generation.error, b"".join(messages).decode("latin-1")):
        assert SECRET not in text
    for encoded in (base64.b64encode(SECRET.encode()).decode(),):
        assert encoded not in b"".join(messages).decode("latin-1")


def broker_messages(app, queue: str) -> list[bytes]:
    """The raw messages waiting in a queue, read without consuming them."""
    if django_settings.REDIS_URL:
        import redis

        return redis.Redis.from_url(django_settings.REDIS_URL).lrange(queue, 0, -1)
    folder = Path(django_settings.BROKER_DIR) / "queue"
    return [p.read_bytes() for p in folder.glob("*") if queue in p.name]


# --- hardening ---------------------------------------------------------------------------------

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
    login(client, alice, studio)
    client.post(f"/images/{image.uuid}/comment", {"body": f"@alice {payload}"})
    from django.contrib.auth import get_user_model

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
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gallery.images.forms import save_upload
    from jobs import images
    from tests.factories import png_bytes

    name = "<img src=x onerror=alert(1)>.png"
    upload = SimpleUploadedFile(name, png_bytes(), content_type="image/png")
    upload.inspected = images.inspect(png_bytes())
    item = save_upload(alice, upload)
    from django.contrib.auth import get_user_model

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


def test_generating_too_fast_is_refused_with_a_clear_message(client, alice, settings, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    settings.GENERATE_RATE = (2, 60)
    data = {
        "model": "sandbox/flux-sync",
        "prompt": "x",
        "p_image_size": "square",
        "p_num_images": "1",
        "p_output_format": "png",
    }
    login(client, alice)
    assert [client.post("/generate", data).status_code for _ in range(3)] == [302, 302, 429]
    assert "more than 2 generations in a minute" in client.post("/generate", data).content.decode()
    assert Generation.objects.count() == 2


def test_password_reset_mails_a_link(client, alice, mailoutbox):
    client.post("/password/reset/", {"email": "alice@example.com"})
    assert len(mailoutbox) == 1 and "/password/reset/" in mailoutbox[0].body
