"""Admin review: images hidden by an admin vanish from every gallery view and come back when
shown again; the admin's actions are logged; every admin page loads with its filters."""

import io
import uuid
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import signing
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gallery.models import (
    ApiToken,
    Attempt,
    Budget,
    ClosedModel,
    Delivery,
    Favorite,
    Gallery,
    Generation,
    GroupMapping,
    Image,
    InputImage,
    Invitation,
    Preferences,
    Preset,
    Price,
    RoleModels,
    SiteSettings,
    SsoIdentity,
    Style,
    TeamModelList,
    Usage,
    UsageDay,
    personal_team,
)
from gallery.teams.activity import add_comment
from gallery.webhooks import endpoints
from jobs import cleanup, links
from jobs.start import start_generation
from tests.factories import make_generation, make_image, make_share_link, png_bytes

Status = Generation.Status
HTMX = {"HX-Request": "true"}
CHANGELIST = "/admin/gallery/image/"


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def admin_client(root):
    client = Client()
    client.force_login(root)
    return client


def run_action(admin_client, action, images, follow=False, **extra):
    data = {"action": action, "_selected_action": [i.pk for i in images], "index": 0, **extra}
    return admin_client.post(CHANGELIST, data, follow=follow)


@pytest.fixture
def scene(studio, alice, bob):
    """Bob's lighthouse in the Studio: `bad` (to hide) between an older and a newer image."""
    main = studio.galleries.get()
    start = timezone.now() - timedelta(hours=1)
    made = []
    for i, prompt in enumerate(["an old barn", "a lighthouse at dusk", "a new bridge"]):
        generation = make_generation(
            bob,
            team=studio,
            gallery=main,
            prompt=prompt,
            status=Status.SUCCEEDED,
            created_at=start + timedelta(minutes=i),
            batch=uuid.uuid4(),
        )
        image = make_image(generation)
        Image.objects.filter(pk=image.pk).update(created_at=generation.created_at)
        made.append(Image.objects.get(pk=image.pk))
    older, bad, newer = made
    # A sibling from the same generation, which stays shown.
    kept = make_image(bad.generation, index=1)
    Favorite.objects.create(user=bob, image=bad)
    add_comment(bad, alice, "lovely, @bob")
    return {
        "team": studio,
        "gallery": main,
        "older": older,
        "bad": bad,
        "newer": newer,
        "kept": kept,
    }


def member(client, user, team):
    client.force_login(user)
    session = client.session
    session["team"] = str(team.uuid)
    session.save()
    return client


def page(client, path, **kwargs) -> str:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def seen_ok(client, path, **kwargs) -> bool:
    """Whether a page about the image itself opens (200) or is 'not found' (404)."""
    status = client.get(path, **kwargs).status_code
    assert status in (200, 404), (path, status)
    return status == 200


def after_everything() -> str:
    future = timezone.now() + timedelta(days=1)
    return f"{future.isoformat()}~{uuid.UUID(int=2**128 - 1)}"


def bulk_post(client, images, action, **extra):
    return client.post("/bulk", {"image": [str(i.uuid) for i in images], "action": action, **extra})


def zip_names(response) -> set[str]:
    assert response["Content-Type"] == "application/zip"
    return set(zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist())


# Each check answers: does `bad` show up there for bob, who made it?
CHECKS = {
    "grid": lambda c, s: str(s["bad"].uuid) in page(c, "/"),
    "htmx grid page": lambda c, s: (
        str(s["bad"].uuid) in page(c, "/", data={"after": after_everything()}, headers=HTMX)
    ),
    "new cards": lambda c, s: str(s["bad"].uuid) in page(c, "/new?since=2000-01-01T00:00:00Z"),
    "generation card": lambda c, s: (
        str(s["bad"].uuid) in page(c, f"/generations/{s['bad'].generation.uuid}/card")
    ),
    "gallery detail": lambda c, s: str(s["bad"].uuid) in page(c, f"/galleries/{s['gallery'].uuid}"),
    "image detail": lambda c, s: seen_ok(c, f"/images/{s['bad'].uuid}"),
    "lightbox": lambda c, s: seen_ok(c, f"/images/{s['bad'].uuid}?lightbox=1", headers=HTMX),
    "siblings": lambda c, s: str(s["bad"].uuid) in page(c, f"/images/{s['kept'].uuid}"),
    "neighbours": lambda c, s: (
        str(s["bad"].uuid)
        in page(c, f"/images/{s['older'].uuid}") + page(c, f"/images/{s['newer'].uuid}")
    ),
    "thumbnail": lambda c, s: seen_ok(c, f"/images/{s['bad'].uuid}/thumbnail"),
    "small thumbnail": lambda c, s: seen_ok(c, f"/images/{s['bad'].uuid}/small"),
    "original": lambda c, s: seen_ok(c, f"/images/{s['bad'].uuid}/original"),
    "download": lambda c, s: seen_ok(c, f"/images/{s['bad'].uuid}/original?download=1"),
    "comments": lambda c, s: seen_ok(c, f"/images/{s['bad'].uuid}/comments"),
    "favorites filter": lambda c, s: str(s["bad"].uuid) in page(c, "/?favorites=1"),
    "search": lambda c, s: str(s["bad"].uuid) in page(c, "/?q=lighthouse"),
    "search htmx page": lambda c, s: (
        str(s["bad"].uuid)
        in page(c, "/", data={"q": "lighthouse", "after": after_everything()}, headers=HTMX)
    ),
    "compare": lambda c, s: (
        str(s["bad"].uuid)
        in page(
            c, f"/compare?image={s['bad'].uuid}&image={s['older'].uuid}&image={s['newer'].uuid}"
        )
    ),
    "try results": lambda c, s: str(s["bad"].uuid) in page(c, f"/try/{s['bad'].generation.batch}"),
    "activity feed": lambda c, s: (
        str(s["bad"].uuid) in page(c, f"/teams/{s['team'].uuid}/activity")
    ),
    "notifications": lambda c, s: str(s["bad"].uuid) in page(c, "/notifications/"),
    "zip export": lambda c, s: (
        f"{s['bad'].uuid}.png" in zip_names(bulk_post(c, [s["bad"], s["older"]], "export"))
    ),
    "input link": lambda c, s: seen_ok(
        c, "/inputs/" + signing.dumps(["image", str(s["bad"].uuid)], salt=links.INPUT_LINK_SALT)
    ),
}


def bulk_favorite(c, s) -> bool:
    Favorite.objects.filter(image=s["bad"]).delete()
    bulk_post(c, [s["bad"]], "favorite")
    return Favorite.objects.filter(image=s["bad"]).exists()


def bulk_move(c, s) -> bool:
    other, _ = Gallery.objects.get_or_create(team=s["team"], name="Elsewhere")
    bulk_post(c, [s["bad"]], "move", gallery=str(other.uuid))
    return Image.objects.get(pk=s["bad"].pk).gallery_id == other.pk


def bulk_delete(c, s) -> bool:
    bulk_post(c, [s["bad"]], "delete")
    return Image.objects.get(pk=s["bad"].pk).deleted_at is not None


CHECKS |= {"bulk favorite": bulk_favorite, "bulk move": bulk_move, "bulk delete": bulk_delete}


@pytest.mark.parametrize("where", list(CHECKS))
def test_a_hidden_image_is_absent_everywhere_and_back_when_shown_again(
    where, scene, bob, client, admin_client
):
    check = CHECKS[where]
    member(client, bob, scene["team"])
    run_action(admin_client, "hide", [scene["bad"]], reason="Not for the wall")
    assert not check(client, scene), f"hidden image seen in {where}"
    # Files and row are kept.
    stored = Image.objects.get(pk=scene["bad"].pk)
    assert stored.hidden_at is not None and stored.deleted_at is None
    assert stored.original.storage.exists(stored.original.name)
    run_action(admin_client, "show_again", [scene["bad"]])
    assert check(client, scene), f"shown-again image missing in {where}"


def test_the_card_says_an_image_was_hidden_and_shows_the_rest(scene, bob, client, admin_client):
    member(client, bob, scene["team"])
    run_action(admin_client, "hide", [scene["bad"]], reason="Private")
    html = page(client, f"/generations/{scene['bad'].generation.uuid}/card")
    assert "1 image was hidden by an admin." in html
    assert str(scene["kept"].uuid) in html and str(scene["bad"].uuid) not in html
    assert "Private" not in html  # the reason is for admins
    run_action(admin_client, "hide", [scene["kept"]])
    html = page(client, f"/generations/{scene['bad'].generation.uuid}/card")
    assert "2 images were hidden by an admin." in html


def test_cards_leave_out_deleted_images_too(scene, bob, client):
    member(client, bob, scene["team"])
    Image.objects.filter(pk=scene["kept"].pk).update(deleted_at=timezone.now())
    html = page(client, f"/generations/{scene['bad'].generation.uuid}/card")
    assert str(scene["kept"].uuid) not in html and "hidden by an admin" not in html


def test_new_cards_count_hidden_images_in_one_query(scene, bob, client, admin_client):
    run_action(admin_client, "hide", [scene["bad"]])
    member(client, bob, scene["team"])
    with CaptureQueriesContext(connection) as queries:
        html = page(client, "/new?since=2000-01-01T00:00:00Z")
    assert "1 image was hidden by an admin." in html
    assert html.count('class="tile') > 2  # several cards...
    image_reads = [q for q in queries if 'FROM "gallery_image"' in q["sql"]]
    assert len(image_reads) == 1  # ...and their images, hidden ones counted, in one query


def test_restore_cannot_bring_back_a_hidden_image(scene, bob, client, admin_client):
    Image.objects.filter(pk=scene["bad"].pk).update(deleted_at=timezone.now())
    run_action(admin_client, "hide", [scene["bad"]])
    member(client, bob, scene["team"])
    assert client.post(f"/images/{scene['bad'].uuid}/restore").status_code == 404


def test_the_sweeper_keeps_hidden_images_even_when_deleted(scene, admin_client):
    long_ago = timezone.now() - timedelta(days=30)
    Image.objects.filter(pk__in=[scene["bad"].pk, scene["older"].pk]).update(deleted_at=long_ago)
    run_action(admin_client, "hide", [scene["bad"]])
    assert cleanup.purge_deleted(timezone.now()) == 1
    assert Image.objects.filter(pk=scene["bad"].pk).exists()
    assert not Image.objects.filter(pk=scene["older"].pk).exists()


# --- The admin actions and the log ------------------------------------------------------------


def test_hide_and_show_again_through_the_changelist_are_logged(scene, root, admin_client):
    bad = scene["bad"]
    response = run_action(admin_client, "hide", [bad], reason="Spam <b>link</b>")
    assert response.status_code == 302
    bad.refresh_from_db()
    assert bad.hidden_by == root and bad.hidden_reason == "Spam <b>link</b>"
    entry = LogEntry.objects.get(object_id=str(bad.pk))
    assert entry.action_flag == CHANGE and entry.user == root
    assert entry.change_message == "Hidden from galleries. Reason: Spam <b>link</b>"
    # Hiding again does not overwrite who hid it, nor log twice.
    run_action(admin_client, "hide", [bad], reason="other")
    bad.refresh_from_db()
    assert bad.hidden_reason == "Spam <b>link</b>" and LogEntry.objects.count() == 1
    # The log page shows the reason, escaped.
    html = page(admin_client, "/admin/admin/logentry/?q=Spam")
    assert "Spam &lt;b&gt;link&lt;/b&gt;" in html and "Spam <b>link" not in html
    run_action(admin_client, "show_again", [bad])
    bad.refresh_from_db()
    assert bad.hidden_at is None and bad.hidden_by is None and bad.hidden_reason == ""
    last = LogEntry.objects.order_by("-pk").first()
    assert last.change_message == "Shown again (had been hidden: Spam <b>link</b>)"


def test_hiding_an_image_hides_its_copies_and_showing_it_shows_them(
    scene, bob, client, admin_client
):
    """Copies share the original's files: hiding one left the same picture shown elsewhere."""
    bad = scene["bad"]
    elsewhere = personal_team(bob).default_gallery()
    copy = bad.copy_to(elsewhere)
    again = copy.copy_to(Gallery.objects.create(team=scene["team"], name="Picks"))
    response = run_action(admin_client, "hide", [copy], reason="Not for the wall", follow=True)
    assert "Hid 3 image(s)" in response.content.decode()
    family = Image.objects.filter(pk__in=[bad.pk, copy.pk, again.pk])
    assert all(i.hidden_at is not None and i.hidden_reason == "Not for the wall" for i in family)
    assert LogEntry.objects.count() == 3
    assert Image.objects.get(pk=scene["kept"].pk).hidden_at is None  # a sibling, not a copy
    member(client, bob, personal_team(bob))
    assert not seen_ok(client, f"/images/{copy.uuid}/original")
    run_action(admin_client, "show_again", [bad])
    assert not Image.objects.filter(pk__in=[bad.pk, copy.pk, again.pk], hidden_at__isnull=False)
    assert seen_ok(client, f"/images/{copy.uuid}/original")


def test_hiding_without_a_reason_says_so(scene, admin_client):
    run_action(admin_client, "hide", [scene["bad"]], reason="  ")
    assert Image.objects.get(pk=scene["bad"].pk).hidden_reason == "No reason given."


def test_the_image_admin_shows_hidden_state_read_only(scene, admin_client):
    run_action(admin_client, "hide", [scene["bad"]], reason="Review")
    html = page(admin_client, f"{CHANGELIST}?state=hidden")
    assert f"/admin/gallery/image/{scene['bad'].pk}/change/" in html
    assert f"/admin/gallery/image/{scene['kept'].pk}/change/" not in html
    html = page(admin_client, f"{CHANGELIST}{scene['bad'].pk}/change/")
    assert "Review" in html and 'name="hidden_reason"' not in html
    # Staff see the picture itself, hidden or not.
    response = admin_client.get(f"{CHANGELIST}{scene['bad'].pk}/file/thumbnail/")
    assert response.status_code == 200


@pytest.mark.parametrize("who", ["alice", "anonymous"])
def test_people_who_are_not_staff_are_sent_to_the_admin_login(who, scene, client, request):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    bad = scene["bad"]
    data = {"action": "hide", "_selected_action": [bad.pk], "index": 0, "reason": "x"}
    for response in (
        client.post(CHANGELIST, data),
        client.get(f"{CHANGELIST}{bad.pk}/file/original/"),
        client.get("/admin/admin/logentry/"),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert Image.objects.get(pk=bad.pk).hidden_at is None


def test_staff_without_permissions_cannot_hide(scene, client):
    staff = get_user_model().objects.create_user("staffer", "", "pw", is_staff=True)
    client.force_login(staff)
    assert client.get(CHANGELIST).status_code == 403
    client.post(CHANGELIST, {"action": "hide", "_selected_action": [scene["bad"].pk]})
    assert Image.objects.get(pk=scene["bad"].pk).hidden_at is None


def test_the_log_is_read_only(scene, admin_client):
    run_action(admin_client, "hide", [scene["bad"]], reason="Spam")
    entry = LogEntry.objects.get()
    base = f"/admin/admin/logentry/{entry.pk}"
    assert admin_client.get("/admin/admin/logentry/add/").status_code == 403
    assert admin_client.get(f"{base}/delete/").status_code == 403
    html = page(admin_client, f"{base}/change/")
    assert "Spam" in html and 'name="_save"' not in html
    assert admin_client.post(f"{base}/change/", {"change_message": "forged"}).status_code == 403
    assert LogEntry.objects.get().change_message.endswith("Spam")
    assert "delete_selected" not in page(admin_client, "/admin/admin/logentry/")


def test_a_generation_is_read_but_never_edited_in_the_admin(studio, alice, admin_client):
    """A status set by hand would skip the pipeline and leave its ledger entry in flight."""
    generation = start_generation(
        owner=alice, team=studio, model_id="sandbox/flux-sync", provider="sandbox", prompt="x"
    )
    base = f"/admin/gallery/generation/{generation.pk}"
    assert admin_client.post(f"{base}/change/", {"status": "succeeded"}).status_code == 403
    assert 'name="_save"' not in page(admin_client, f"{base}/change/")
    generation.refresh_from_db()
    assert generation.status == "queued"


def test_the_ledger_is_read_only(studio, alice, admin_client):
    with_usage = start_generation(
        owner=alice, team=studio, model_id="sandbox/flux-sync", provider="sandbox", prompt="x"
    )
    entry = Usage.objects.get(generation=with_usage)
    base = f"/admin/gallery/usage/{entry.pk}"
    assert admin_client.get("/admin/gallery/usage/add/").status_code == 403
    assert admin_client.get(f"{base}/delete/").status_code == 403
    assert admin_client.post(f"{base}/change/", {"cost_usd": "99"}).status_code == 403
    html = page(admin_client, f"{base}/change/")
    assert 'name="_save"' not in html and 'name="cost_usd"' not in html
    assert "delete_selected" not in page(admin_client, "/admin/gallery/usage/")
    assert Usage.objects.get(pk=entry.pk).cost_usd == entry.cost_usd


PRICE = {"model_id": "test/model", "usd_per_image": "0.04", "source": "the docs"}


@pytest.mark.parametrize(
    "by_param",
    [
        '["quality"]',
        '{"quality": "high"}',
        '{"quality": {}}',
        '{"quality": {"high": "lots"}}',
        '{"quality": {"high": true}}',
        '{"quality": {"high": -1}}',
        '{"quality": {"high": "NaN"}}',
    ],
)
def test_price_by_param_must_map_values_to_prices(by_param, admin_client):
    response = admin_client.post("/admin/gallery/price/add/", {**PRICE, "by_param": by_param})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["by_param"]
    assert errors and not Price.objects.filter(model_id="test/model").exists()


def test_price_changes_are_logged_with_old_and_new_values(admin_client):
    data = {**PRICE, "by_param": '{"quality": {"high": "0.17", "low": 0.01}}'}
    assert admin_client.post("/admin/gallery/price/add/", data).status_code == 302
    price = Price.objects.get(model_id="test/model")
    assert price.by_param == {"quality": {"high": "0.17", "low": 0.01}}
    # The page carries the old by_param in a hidden input (its model default is a callable).
    data = {**data, "usd_per_image": "0.05", "by_param": "", "initial-by_param": data["by_param"]}
    response = admin_client.post(f"/admin/gallery/price/{price.pk}/change/", data)
    assert response.status_code == 302
    price.refresh_from_db()
    assert price.usd_per_image == Decimal("0.05") and price.by_param == {}
    message = LogEntry.objects.filter(object_id=str(price.pk)).latest("pk").change_message
    assert "0.040000 → 0.05" in message and '"high": "0.17"' in message and "→ {}" in message


@pytest.mark.parametrize("whose", ["neither", "both"])
def test_a_budget_is_for_a_team_or_a_person(whose, studio, alice, admin_client):
    data = {"images_per_day": "10", "usd_per_month": ""}
    if whose == "both":
        data |= {"team": studio.pk, "user": alice.pk}
    response = admin_client.post("/admin/gallery/budget/add/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "A budget is for one team or for one person" in html
    assert "is violated" not in html
    assert not Budget.objects.exists()


def test_budget_changes_are_logged_with_old_and_new_values(studio, alice, admin_client):
    data = {"team": studio.pk, "images_per_day": "10", "usd_per_month": "5"}
    assert admin_client.post("/admin/gallery/budget/add/", data).status_code == 302
    budget = Budget.objects.get()
    data = {"user": alice.pk, "images_per_day": "20", "usd_per_month": "5"}
    response = admin_client.post(f"/admin/gallery/budget/{budget.pk}/change/", data)
    assert response.status_code == 302
    message = LogEntry.objects.filter(object_id=str(budget.pk)).latest("pk").change_message
    assert "Studio → (empty)" in message and "(empty) → alice" in message
    assert "10 → 20" in message


def test_site_settings_show_the_default_limits(admin_client):
    settings_row = SiteSettings.load()
    html = page(admin_client, f"/admin/gallery/sitesettings/{settings_row.pk}/change/")
    for name in ("user_images_per_day", "user_usd_per_month", "team_images_per_day"):
        assert f'name="{name}"' in html


def test_team_keys_stay_out_of_the_admin(studio, admin_client):
    html = page(admin_client, f"/admin/gallery/team/{studio.pk}/change/")
    assert "aimlapi_key" not in html and "relay_key" not in html


def test_user_data_is_escaped_in_the_admin(studio, alice, admin_client):
    generation = make_generation(alice, team=studio, prompt="<script>alert(1)</script>")
    image = make_image(generation)
    add_comment(image, alice, "<img src=x onerror=alert(2)>")
    for path in (
        CHANGELIST,
        f"{CHANGELIST}{image.pk}/change/",
        f"/admin/gallery/generation/{generation.pk}/change/",
        "/admin/gallery/comment/",
        "/admin/gallery/activity/",
    ):
        html = page(admin_client, path)
        assert "<script>alert(1)" not in html and "<img src=x" not in html, path


# --- Every admin page loads, with search and each filter --------------------------------------


@pytest.fixture
def everything(scene, studio, alice, bob, root):
    """One of each thing the admin shows."""
    hidden = scene["bad"]
    Image.objects.filter(pk=hidden.pk).update(hidden_at=timezone.now(), hidden_by=root)
    Image.objects.filter(pk=scene["older"].pk).update(deleted_at=timezone.now())
    endpoints.add(studio, alice, url="https://hooks.example.com/in", events=["generation.failed"])
    generation = start_generation(
        owner=alice, team=studio, model_id="sandbox/flux-sync", provider="sandbox", prompt="y"
    )
    generation.mark_failed("provider said no")
    Attempt.objects.create(delivery=Delivery.objects.get(), number=1, status_code=500)
    Usage.objects.filter(generation=generation).update(
        created_at=timezone.now() - timezone.timedelta(days=1)
    )
    UsageDay.objects.rebuild(timezone.localdate() - timezone.timedelta(days=1))
    Invitation.objects.create(
        team=studio, token="tok", email="x@example.com", expires_at=timezone.now()
    )
    upload = InputImage(
        owner=alice, content_type="image/png", width=64, height=48, byte_size=1, sha256="1" * 64
    )
    upload.file.save("inputs/x.png", ContentFile(png_bytes()), save=False)
    upload.save()
    Budget.objects.create(team=studio, images_per_day=5)
    Budget.objects.create(user=bob, usd_per_month=Decimal("3"))
    Price.objects.get_or_create(model_id="x/priced", defaults={"usd_per_image": Decimal("0.1")})
    SiteSettings.load()
    Group.objects.create(name="moderators")
    GroupMapping.objects.create(group="studio-team", team=studio, role="editor")
    SsoIdentity.objects.create(user=bob, issuer="https://idp.example", subject="bob-at-idp")
    Preferences.objects.create(user=bob, theme="dark")
    make_share_link(alice, gallery=studio.galleries.get(name="Main"), allow_download=True)
    LogEntry.objects.log_actions(root.pk, [hidden], CHANGE, "Hidden from galleries. Reason: r")
    ApiToken.issue(alice, studio, "script")
    ClosedModel.objects.create(model_id="sandbox/relay-async", reason="replaced")
    TeamModelList.objects.create(team=studio, model_ids=["sandbox/flux-sync"])
    RoleModels.objects.create(team=studio, role="editor", max_usd_per_image=Decimal("0.05"))
    Preset.objects.create(team=studio, name="P", model_id="sandbox/flux-sync", created_by=alice)
    Style.objects.create(team=studio, name="S", suffix="in ink", created_by=alice)


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED]
)
def test_every_admin_page_loads_with_search_and_filters(
    model, model_admin, everything, root, admin_client
):
    url = changelist_url(model)
    page(admin_client, url)
    if model_admin.search_fields:
        page(admin_client, url, data={"q": "a"})
        page(admin_client, url, data={"q": str(uuid.uuid4())})
    request = RequestFactory().get(url)
    request.user = root
    changelist = model_admin.get_changelist_instance(request)
    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            response = admin_client.get(url + choice["query_string"])
            assert response.status_code == 200, (choice["query_string"], response.status_code)
            assert "?e=1" not in response.get("Location", "")
    if model_admin.date_hierarchy:
        year = timezone.now().year
        page(admin_client, url, data={f"{model_admin.date_hierarchy}__year": year})
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the fixture makes no {model._meta.label}"
    change = reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]
    )
    page(admin_client, change)
    if model_admin.has_add_permission(request):
        page(admin_client, reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add"))


def test_every_gallery_model_is_in_the_admin():
    from django.apps import apps

    missing = [
        m for m in apps.get_app_config("gallery").get_models() if m not in admin.site._registry
    ]
    assert missing == []
    assert LogEntry in admin.site._registry


def test_staff_revoke_a_token_but_never_edit_one(studio, alice, admin_client):
    token, _ = ApiToken.issue(alice, studio, "leaked")
    base = f"/admin/gallery/apitoken/{token.pk}"
    assert admin_client.post(f"{base}/change/", {"read_only": "on"}).status_code == 403
    response = admin_client.post(
        "/admin/gallery/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.read_only
