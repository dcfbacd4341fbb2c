"""The REST API's images and galleries: the gallery's filters and keyset pages, files,
favorites, moves and deletes, with the pages' access rules inside the token's team."""

from gallery.models import ApiToken, Favorite, Gallery, Generation, Image
from tests.factories import make_generation, make_image

Status = Generation.Status


def image_in(owner, team, **fields) -> Image:
    return make_image(make_generation(owner, team=team, status=Status.SUCCEEDED, **fields))


def test_it_pages_the_teams_images_newest_first_with_a_cursor(call, tokens, alice, studio):
    made = [image_in(alice, studio) for _ in range(5)]
    image_in(alice, alice.memberships.get(team__personal=True).team)  # not the Studio's
    first = call(tokens["carol"], "get", "/images", limit=2).json()
    second = call(tokens["carol"], "get", "/images", limit=2, after=first["next"]).json()
    third = call(tokens["carol"], "get", "/images", limit=2, after=second["next"]).json()
    seen = [i["uuid"] for page in (first, second, third) for i in page["images"]]
    assert seen == [str(i.uuid) for i in reversed(made)]
    assert third["next"] is None


def test_it_filters_and_searches_as_the_gallery_does(call, tokens, alice, bob, studio):
    fox = image_in(alice, studio, prompt="a red fox in snow")
    whale = image_in(bob, studio, prompt="a blue whale at night")
    Generation.objects.filter(pk=whale.generation_id).update(api_token=ApiToken.find(tokens["bob"]))
    Favorite.objects.create(user=alice, image=fox)

    def found(**query):
        return [
            i["uuid"] for i in call(tokens["alice"], "get", "/images", **query).json()["images"]
        ]

    assert found(q="fox") == [str(fox.uuid)]
    assert found(author="bob") == [str(whale.uuid)]
    assert found(api="1") == [str(whale.uuid)]
    assert found(favorites="true") == [str(fox.uuid)]
    assert found(q="whale", author="alice") == []
    assert call(tokens["alice"], "get", "/images", limit=0).status_code == 400


def test_it_shows_an_images_metadata_and_files(call, tokens, alice, studio):
    image = image_in(alice, studio)
    body = call(tokens["carol"], "get", f"/images/{image.uuid}").json()
    assert (body["width"], body["height"], body["author"]) == (64, 48, "alice")
    assert body["params"] == {"image_size": "square", "num_images": 1}
    original = call(tokens["carol"], "get", f"/images/{image.uuid}/file")
    assert original.status_code == 200 and original["Content-Type"] == "image/png"
    assert b"".join(original.streaming_content).startswith(b"\x89PNG")
    thumbnail = call(tokens["carol"], "get", f"/images/{image.uuid}/file", kind="thumbnail")
    assert thumbnail["Content-Type"] == "image/webp"
    assert call(tokens["carol"], "get", f"/images/{image.uuid}/file", kind="x").status_code == 422
    assert call(tokens["dave"], "get", f"/images/{image.uuid}/file").status_code == 404


def test_anyone_who_sees_an_image_may_favorite_it_but_not_with_a_read_only_token(
    call, tokens, alice, carol, studio
):
    image = image_in(alice, studio)
    response = call(tokens["carol"], "patch", f"/images/{image.uuid}", {"favorite": True})
    assert response.status_code == 200 and response.json()["favorite"] is True
    assert Favorite.objects.filter(user=carol, image=image).exists()
    call(tokens["carol"], "patch", f"/images/{image.uuid}", {"favorite": False})
    assert not Favorite.objects.filter(user=carol, image=image).exists()
    response = call(tokens["readonly"], "patch", f"/images/{image.uuid}", {"favorite": True})
    assert response.status_code == 403
    assert not Favorite.objects.exists()


def test_editors_move_images_within_the_team_only(call, tokens, alice, studio, dave):
    image = image_in(alice, studio)
    second = Gallery.objects.create(team=studio, name="Second")
    response = call(tokens["bob"], "patch", f"/images/{image.uuid}", {"gallery": str(second.uuid)})
    assert response.status_code == 200 and response.json()["gallery"] == str(second.uuid)
    image.refresh_from_db()
    assert image.gallery == second
    elsewhere = Gallery.objects.get(team__name="Dave's team")
    response = call(
        tokens["bob"], "patch", f"/images/{image.uuid}", {"gallery": str(elsewhere.uuid)}
    )
    assert response.status_code == 404
    response = call(
        tokens["carol"], "patch", f"/images/{image.uuid}", {"gallery": str(second.uuid)}
    )
    assert response.status_code == 403


def test_editors_delete_images(call, tokens, alice, studio):
    image = image_in(alice, studio)
    assert call(tokens["carol"], "delete", f"/images/{image.uuid}").status_code == 403
    assert call(tokens["bob"], "delete", f"/images/{image.uuid}").status_code == 204
    image.refresh_from_db()
    assert image.deleted_at is not None
    assert call(tokens["bob"], "get", f"/images/{image.uuid}").status_code == 404


def test_it_lists_and_makes_galleries(call, tokens, studio, settings):
    names = [g["name"] for g in call(tokens["carol"], "get", "/galleries").json()]
    assert names == ["Main"]
    response = call(tokens["bob"], "post", "/galleries", {"name": "Moodboard"})
    assert response.status_code == 201
    assert Gallery.objects.get(uuid=response.json()["uuid"]).team == studio
    assert call(tokens["bob"], "post", "/galleries", {"name": "a\nb"}).status_code == 400
    settings.ACTION_RATES = {**settings.ACTION_RATES, "gallery": (1, 3600)}
    response = call(tokens["bob"], "post", "/galleries", {"name": "One more"})
    assert response.status_code == 429 and "Retry-After" in response
