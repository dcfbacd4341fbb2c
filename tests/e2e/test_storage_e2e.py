"""Media on S3 for real: the web enqueues, the session's worker (started with the AWS_*
variables) generates through the sandbox and stores into the S3 server's bucket, and the
picture reaches a member, and no one else, through the access-checked view."""

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from gallery.models import Generation
from tests.e2e.conftest import assert_stored, wait_for

pytestmark = [pytest.mark.e2e]


def generate(client) -> Generation:
    response = client.post(
        "/generate",
        {"model": "sandbox/openai-sync", "prompt": "a tin robot", "p_size": "512x512", "p_n": "2"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return wait_for(Generation.objects.latest("created_at"))


def test_a_generation_lands_in_the_bucket_and_nothing_on_disk(
    e2e, client, alice, worker_bucket, worker_media, media_root
):
    client.force_login(alice)
    generation = generate(client)
    images = assert_stored(generation, 2, (512, 512))
    stored = {f.name for i in images for f in (i.original, i.thumbnail, i.thumbnail_small)}
    assert stored <= worker_bucket.names()
    for image in images:
        data = worker_bucket.read(image.original.name)
        assert hashlib.sha256(data).hexdigest() == image.sha256
    # The worker's MEDIA_ROOT holds only the log the test suite has it write there.
    assert [p.name for p in Path(worker_media).rglob("*")] == ["worker.log"]
    assert list(Path(media_root).rglob("*")) == []  # the web's


def test_a_member_gets_the_stored_bytes_and_a_stranger_nothing(
    e2e, client, alice, dave, worker_bucket
):
    client.force_login(alice)
    image = generate(client).images.get(index=0)
    response = client.get(f"/images/{image.uuid}/original")
    assert response.status_code == 302
    fetched = httpx.get(response["Location"])
    assert fetched.status_code == 200
    assert fetched.content == worker_bucket.read(image.original.name)
    location = urlsplit(response["Location"])
    assert httpx.get(f"{location.scheme}://{location.netloc}{location.path}").status_code == 403
    client.force_login(dave)
    assert client.get(f"/images/{image.uuid}/original").status_code == 404


@pytest.mark.browser
def test_the_browser_shows_a_picture_from_the_bucket(
    e2e, client, alice, live_server, browser, worker_bucket
):
    client.force_login(alice)
    image = generate(client).images.get(index=0)
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    from_store = []
    page.on(
        "response",
        lambda r: from_store.append(r) if r.url.startswith(worker_bucket.server.url) else None,
    )
    page.goto(f"{live_server.url}/images/{image.uuid}")
    picture = page.get_by_role("img", name="a tin robot").first
    expect(picture).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    assert [r.status for r in from_store] and all(r.status == 200 for r in from_store)
    assert errors == [], errors  # no image refused by the Content Security Policy
    context.close()
