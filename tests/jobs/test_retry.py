"""Retry makes a new generation for whoever presses it, checked as a new generation is."""

import pytest
from django.core.files.base import ContentFile

from gallery.models import Budget, Generation, InputImage, Usage
from tests.factories import make_generation, make_image, png_bytes

Status = Generation.Status
IMG2IMG = "flux/dev/image-to-image"


@pytest.fixture(autouse=True)
def quiet_submit(monkeypatch, settings):
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    settings.AIMLAPI_API_KEY = "aimlapi-key"


def login(client, user, team=None):
    client.force_login(user)
    if team is not None:
        session = client.session
        session["team"] = str(team.uuid)
        session.save()
    return client


def failed(owner, **fields) -> Generation:
    return make_generation(owner, status=Status.FAILED, error="boom", **fields)


def retry(client, generation, **headers):
    return client.post(f"/generations/{generation.uuid}/retry", headers=headers)


def new_one(generation) -> Generation:
    return Generation.objects.get(retry_of=generation)


def an_upload(owner) -> InputImage:
    item = InputImage(
        owner=owner, filename="fox.png", content_type="image/png", width=64, height=48,
        byte_size=len(png_bytes()), sha256="0" * 64,
    )  # fmt: skip
    item.file.save(f"inputs/{item.uuid}.png", ContentFile(png_bytes()), save=False)
    item.save()
    return item


def img2img(upload=None, image=None) -> dict:
    ref = {"upload": str(upload.uuid)} if upload else {"image": str(image.uuid)}
    return {"image_url": ref, "num_images": 1, "enable_safety_checker": True, "strength": 0.95}


def test_the_person_who_presses_retry_makes_and_pays_for_it(client, studio, alice, bob):
    original = failed(alice, team=studio, gallery=studio.default_gallery(), params={"seed": 4})
    assert retry(login(client, bob, studio), original).status_code == 302
    again = new_one(original)
    assert again.owner == bob and again.team == studio and again.params == {"seed": 4}
    assert Usage.objects.get(generation=again).user == bob


def test_a_retry_is_held_to_the_budget_of_who_presses_it(client, studio, alice, bob):
    Budget.objects.create(user=bob, images_per_day=0)
    original = failed(alice, team=studio, gallery=studio.default_gallery())
    response = retry(login(client, bob, studio), original, **{"HX-Request": "true"})
    assert "Not retried: You have made 0 of 0 images allowed today" in response.content.decode()
    assert not Generation.objects.filter(retry_of=original).exists()


def test_a_retry_counts_against_the_generate_limit(client, alice, settings):
    settings.GENERATE_RATE = (1, 60)
    first, second = failed(alice), failed(alice)
    login(client, alice)
    retry(client, first)
    response = retry(client, second, **{"HX-Request": "true"})
    assert response.headers["HX-Retarget"] == f"#gen-{second.uuid}"
    page = response.content.decode()
    assert "Not retried: That is more than 1 generations in a minute. Try again in" in page
    assert Generation.objects.filter(retry_of__isnull=False).count() == 1


def test_a_model_no_longer_offered_is_not_retried(client, alice):
    original = failed(alice, model_id="dall-e-3", provider="aimlapi", params={"n": 1})
    response = retry(login(client, alice), original, **{"HX-Request": "true"})
    assert "Not retried: DALL·E 3 is not offered any more." in response.content.decode()
    assert not Generation.objects.filter(retry_of=original).exists()


def test_a_model_without_its_key_is_not_retried(client, alice, settings):
    settings.AIMLAPI_API_KEY = ""
    original = failed(alice, model_id="flux/schnell", provider="aimlapi", params={})
    response = retry(login(client, alice), original)
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert "needs AIMLAPI_API_KEY, which is not set on this server." in page
    assert not Generation.objects.filter(retry_of=original).exists()


def test_the_parameters_are_checked_again(client, alice):
    original = failed(alice, params={"num_images": 40})  # over the sandbox's documented 4
    response = retry(login(client, alice), original, **{"HX-Request": "true"})
    page = response.content.decode()
    assert "Not retried: Number of images: Ensure this value is less than or equal to 4." in page
    assert not Generation.objects.filter(retry_of=original).exists()


def test_someone_elses_upload_is_sent_as_the_pressers_own(client, studio, alice, bob):
    upload = an_upload(alice)
    original = failed(
        alice, team=studio, gallery=studio.default_gallery(), model_id=IMG2IMG,
        provider="aimlapi", params=img2img(upload=upload),
    )  # fmt: skip
    retry(login(client, bob, studio), original)
    sent = InputImage.objects.get(uuid=new_one(original).params["image_url"]["upload"])
    assert sent.owner == bob and sent.pk != upload.pk
    assert sent.file.name == upload.file.name  # the same stored picture, not a copy of it
    assert new_one(original).params == img2img(upload=sent)


def test_ones_own_upload_is_sent_again_as_it_is(client, alice):
    upload = an_upload(alice)
    original = failed(alice, model_id=IMG2IMG, provider="aimlapi", params=img2img(upload=upload))
    retry(login(client, alice), original)
    assert new_one(original).params == original.params
    assert InputImage.objects.count() == 1


def test_an_upload_deleted_since_is_not_retried(client, alice):
    upload = an_upload(alice)
    original = failed(alice, model_id=IMG2IMG, provider="aimlapi", params=img2img(upload=upload))
    upload.delete()
    response = retry(login(client, alice), original, **{"HX-Request": "true"})
    assert "Not retried: Image: A picture it starts from was deleted" in response.content.decode()
    assert not Generation.objects.filter(retry_of=original).exists()


def test_an_upload_that_was_never_the_authors_is_not_sent(client, alice, dave):
    """A reference to someone else's upload is never resolved for a retry."""
    theirs = an_upload(dave)
    original = failed(alice, model_id=IMG2IMG, provider="aimlapi", params=img2img(upload=theirs))
    retry(login(client, alice), original)
    assert not Generation.objects.filter(retry_of=original).exists()
    assert InputImage.objects.count() == 1


def test_an_older_picked_picture_is_retried(client, alice):
    picked = make_image(make_generation(alice, status=Status.SUCCEEDED))
    for _ in range(24):  # newer than it: it is no longer among the pictures the form shows
        make_image(make_generation(alice, status=Status.SUCCEEDED))
    original = failed(alice, model_id=IMG2IMG, provider="aimlapi", params=img2img(image=picked))
    retry(login(client, alice), original)
    assert new_one(original).params == original.params


def test_a_picked_picture_the_presser_cannot_see_is_not_retried(client, alice, dave):
    theirs = make_image(make_generation(dave, status=Status.SUCCEEDED))
    original = failed(alice, model_id=IMG2IMG, provider="aimlapi", params=img2img(image=theirs))
    retry(login(client, alice), original)
    assert not Generation.objects.filter(retry_of=original).exists()


def test_a_viewer_cannot_retry(client, studio, alice, carol):
    original = failed(alice, team=studio, gallery=studio.default_gallery())
    assert retry(login(client, carol, studio), original).status_code == 403
    assert not Generation.objects.filter(retry_of=original).exists()
