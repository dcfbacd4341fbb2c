"""Browsing a team's images: keyset pages, filters in the URL, prompt search, constant queries."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.images import browse
from gallery.models import ApiToken, Favorite, Gallery, Generation, Image, personal_team
from tests.factories import logged_in, make_generation, make_image

Status = Generation.Status


def fill(owner, count: int, team=None, start=None, **fields) -> list[Image]:
    """`count` images, one second apart, newest last; files shared to keep it quick."""
    team = team or personal_team(owner)
    start = start or timezone.now() - timedelta(days=1)
    images = []
    first = None
    for i in range(count):
        generation = make_generation(
            owner,
            team=team,
            status=Status.SUCCEEDED,
            created_at=start + timedelta(seconds=i),
            **fields,
        )
        if first is None:
            first = make_image(generation)
            image = first
        else:
            image = first.copy_to(generation.gallery)
            Image.objects.filter(pk=image.pk).update(generation=generation, copy_of=None)
        Image.objects.filter(pk=image.pk).update(created_at=generation.created_at)
        images.append(Image.objects.get(pk=image.pk))
    return images


def all_pages(qs, size: int) -> list[Image]:
    seen, after = [], None
    while True:
        items, after = browse.page(qs, after, size)
        seen += items
        if after is None:
            return seen


def test_pages_walk_every_image_once_newest_first(alice):
    images = fill(alice, 25)
    walked = all_pages(Image.objects.filter(team=personal_team(alice)), 7)
    assert [i.pk for i in walked] == [i.pk for i in reversed(images)]


def test_new_images_during_paging_cause_no_duplicates_or_gaps(alice):
    team = personal_team(alice)
    images = fill(alice, 20)
    qs = Image.objects.filter(team=team)
    first, after = browse.page(qs, None, 8)
    fill(alice, 5, start=timezone.now())  # arrive while someone scrolls: newer than all
    rest = all_pages_from(qs, after, 8)
    walked = first + rest
    assert len({i.pk for i in walked}) == len(walked) == 20
    assert [i.pk for i in walked] == [i.pk for i in reversed(images)]


def all_pages_from(qs, after, size):
    seen = []
    while after:
        items, after = browse.page(qs, after, size)
        seen += items
    return seen


def test_images_made_in_the_same_instant_are_all_listed(alice):
    images = fill(alice, 6)
    Image.objects.filter(pk__in=[i.pk for i in images]).update(created_at=images[0].created_at)
    walked = all_pages(Image.objects.filter(team=personal_team(alice)), 4)
    assert sorted(i.pk for i in walked) == sorted(i.pk for i in images)


def test_a_bad_cursor_starts_from_the_top(alice):
    fill(alice, 3)
    items, _ = browse.page(Image.objects.all(), "garbage~nope", 10)
    assert len(items) == 3


def ids(response) -> list[str]:
    return [str(i.uuid) for i in response.context["tiles"]]


@pytest.fixture
def mixed(studio, alice, bob):
    """Images by two people, with two models, in two galleries, on two days."""
    second = Gallery.objects.create(team=studio, name="Second")
    main = studio.galleries.get(name="Main")
    a = make_image(
        make_generation(
            alice,
            team=studio,
            gallery=main,
            status=Status.SUCCEEDED,
            model_id="sandbox/flux-sync",
            prompt="a red fox in snow",
        )
    )
    b = make_image(
        make_generation(
            bob,
            team=studio,
            gallery=second,
            status=Status.SUCCEEDED,
            model_id="sandbox/openai-sync",
            prompt="a blue whale at night",
        )
    )
    c = make_image(
        make_generation(
            bob,
            team=studio,
            gallery=main,
            status=Status.SUCCEEDED,
            model_id="sandbox/flux-sync",
            prompt="foxes running at night",
        )
    )
    Image.objects.filter(pk=a.pk).update(created_at=timezone.now() - timedelta(days=3))
    Favorite.objects.create(user=alice, image=b)
    token, _ = ApiToken.issue(bob, studio, "script")
    Generation.objects.filter(pk=b.generation_id).update(api_token=token)
    return {"a": str(a.uuid), "b": str(b.uuid), "c": str(c.uuid), "second": str(second.uuid)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["c", "b", "a"]),
        ({"by_model": "sandbox/flux-sync"}, ["c", "a"]),
        ({"provider": "sandbox"}, ["c", "b", "a"]),
        ({"provider": "aimlapi"}, []),
        ({"author": "bob"}, ["c", "b"]),
        ({"gallery": "second"}, ["b"]),
        ({"favorites": "1"}, ["b"]),
        ({"since": "today"}, ["c", "b"]),
        ({"until": "3 days ago"}, ["a"]),
        ({"q": "fox"}, ["c", "a"]),
        ({"q": "night"}, ["c", "b"]),
        ({"q": "whale night"}, ["b"]),
        ({"author": "bob", "by_model": "sandbox/flux-sync"}, ["c"]),
        ({"author": "bob", "q": "night", "gallery": "second"}, ["b"]),
        ({"author": "alice", "favorites": "1"}, []),
        ({"api": "1"}, ["b"]),
        ({"api": "1", "author": "alice"}, []),
    ],
)
def test_every_filter_and_their_combinations(client, studio, alice, mixed, query, expected):
    days = {
        "today": timezone.now().date(),
        "3 days ago": (timezone.now() - timedelta(days=3)).date(),
    }
    query = {k: mixed.get(v, days.get(v, v)) for k, v in query.items()}
    logged_in(client, alice, studio)
    response = client.get("/", query)
    assert response.status_code == 200
    assert ids(response) == [mixed[name] for name in expected]
    if query:  # the filter lives in the URL of the next page too
        assert response.context["filters"].as_query() == {k: str(v) for k, v in query.items()}


def test_search_uses_full_text_on_postgresql(studio, alice, mixed):
    qs = browse.search(Generation.objects.filter(team=studio), "foxes")
    # PostgreSQL stems "foxes" to "fox" and finds both; SQLite finds the literal word only.
    expected = 2 if connection.vendor == "postgresql" else 1
    assert qs.count() == expected


def test_the_status_filter_lists_generations(client, alice):
    failed = make_generation(alice, status=Status.FAILED, error="nope")
    make_generation(alice, status=Status.SUCCEEDED)
    client.force_login(alice)
    response = client.get("/", {"status": "failed"})
    assert [g.pk for g in response.context["cards"]] == [failed.pk]
    assert response.context["tiles"] == []


def test_infinite_scroll_pages_carry_the_filter_and_a_plain_link(client, alice):
    fill(alice, 5, prompt="a lighthouse prompt")
    browse_size = browse.PAGE_SIZE
    browse.PAGE_SIZE = 2
    try:
        client.force_login(alice)
        html = client.get("/", {"q": "lighthouse"}).content.decode()
        assert 'hx-trigger="intersect once"' in html and "q=lighthouse&amp;after=" in html
        cursor = client.get("/", {"q": "lighthouse"}).context["cursor"]
        page2 = client.get(
            "/", {"q": "lighthouse", "after": cursor}, headers={"HX-Request": "true"}
        )
        assert 'id="generate-form"' not in page2.content.decode()  # just tiles and the link
        assert len(page2.context["tiles"]) == 2
    finally:
        browse.PAGE_SIZE = browse_size


def count_queries(client, size: int) -> int:
    old = browse.PAGE_SIZE
    browse.PAGE_SIZE = size
    try:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/")
        assert len(response.context["tiles"]) == size
    finally:
        browse.PAGE_SIZE = old
    return len(queries)


def test_the_grid_costs_the_same_queries_for_24_and_96_cards(client, alice):
    fill(alice, 100)
    client.force_login(alice)
    client.get("/")  # warm the session
    assert count_queries(client, 24) == count_queries(client, 96)


def test_the_grid_uses_no_offset_and_no_count(client, alice):
    fill(alice, 5)
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    grid = [q["sql"].upper() for q in queries if '"GALLERY_IMAGE"' in q["sql"].upper()]
    assert grid and not any(" OFFSET " in sql or "COUNT(" in sql for sql in grid), grid


def test_favorites_toggle(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    client.post(f"/images/{image.uuid}/favorite")
    assert Favorite.objects.filter(user=alice, image=image).exists()
    response = client.post(f"/images/{image.uuid}/favorite", headers={"HX-Request": "true"})
    assert not Favorite.objects.filter(user=alice, image=image).exists()
    assert 'aria-pressed="false"' in response.content.decode()


def test_media_is_served_with_safe_headers(client, alice, dave):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    response = client.get(f"/images/{image.uuid}/original")
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response["Cache-Control"]
    client.force_login(dave)
    assert client.get(f"/images/{image.uuid}/small").status_code == 404


def test_media_can_be_handed_to_the_proxy_after_the_access_check(client, alice, dave, settings):
    settings.MEDIA_ACCEL_REDIRECT = "/protected-media/"
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    response = client.get(f"/images/{image.uuid}/thumbnail")
    assert response["X-Accel-Redirect"] == f"/protected-media/{image.thumbnail.name}"
    assert response["Content-Type"] == "image/webp" and response.content == b""
    client.force_login(dave)
    response = client.get(f"/images/{image.uuid}/thumbnail")
    assert response.status_code == 404 and "X-Accel-Redirect" not in response


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_a_favorite_never_redirects_off_the_site(client, alice, target):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    response = client.post(f"/images/{image.uuid}/favorite", {"next": target})
    assert response.status_code == 302 and response["Location"] == image.get_absolute_url()


def test_a_favorite_returns_to_a_page_of_this_site(client, alice):
    image = make_image(make_generation(alice, status=Status.SUCCEEDED))
    client.force_login(alice)
    response = client.post(f"/images/{image.uuid}/favorite", {"next": "/?favorites=1"})
    assert response["Location"] == "/?favorites=1"


BAD_DATES = ["2024-02-30", "2024-13-01", "9999-12-31", "0001-01-01", "99999-01-01"]
BAD_TIMES = [
    "2024-13-45T00:00:00",
    "2024-02-30T10:00:00+00:00",
    "2024-01-01T25:00:00",
    "2024-01-01T00:00:00+99:00",
    "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
]


@pytest.mark.parametrize("value", BAD_DATES)
def test_a_date_that_does_not_exist_is_ignored(client, alice, value):
    """Well-formed but impossible dates raised ValueError or OverflowError: a 500."""
    fill(alice, 2)
    client.force_login(alice)
    for name in ("since", "until"):
        response = client.get("/", {name: value})
        assert response.status_code == 200, name
    image = Image.objects.first()
    assert client.get(f"/images/{image.uuid}", {"until": value}).status_code == 200


@pytest.mark.parametrize("value", BAD_TIMES)
def test_a_time_that_does_not_exist_is_ignored(client, alice, value):
    images = fill(alice, 2)
    client.force_login(alice)
    assert client.get("/new", {"since": value}).status_code in (200, 204)
    cursor = f"{value}~{images[0].uuid}"
    assert client.get("/", {"after": cursor}, HTTP_HX_REQUEST="true").status_code == 200


def test_the_filter_form_keeps_good_values_and_drops_bad_ones():
    query = QueryDict(mutable=True)
    query.update(
        {
            "q": "  fox " + "x" * 300,
            "status": "nonsense",
            "gallery": "not-a-uuid",
            "since": "2024-02-30",
            "until": "2024-03-01",
            "favorites": "on",
        }
    )
    filters = browse.FilterForm(query).filters()
    assert filters.q == ("fox " + "x" * 300)[:200]
    assert (filters.status, filters.gallery, filters.since) == ("", "", None)
    assert filters.until == date(2024, 3, 1) and filters.favorites is True


def test_a_tiles_links_are_the_addresses_reverse_gives(alice):
    from django.urls import reverse

    image = make_image(make_generation(alice))
    links = image.links
    assert links.open == reverse("gallery:image-detail", args=[image.uuid])
    assert links.favorite == reverse("gallery:image-favorite", args=[image.uuid])
    for kind in ("thumbnail", "small", "original"):
        assert getattr(links, kind) == reverse("gallery:image-file", args=[image.uuid, kind])
    assert links.use == f"{reverse('gallery:index')}?use={image.generation.uuid}"
