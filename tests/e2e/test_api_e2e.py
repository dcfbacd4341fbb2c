"""The REST API for real: a script's HTTP requests to the live server start a generation that
a Celery worker runs against the sandbox; it ends succeeded and its file downloads. And the
API docs page runs in Chromium under the site's strict CSP."""

import io
import time

import httpx
import pytest
from PIL import Image as PILImage

from gallery.models import ApiToken, Usage, personal_team

pytestmark = [pytest.mark.e2e]


def test_a_generation_through_the_rest_api_succeeds(e2e, live_server, alice):
    token, text = ApiToken.issue(alice, personal_team(alice), "pipeline")
    headers = {"Authorization": f"Bearer {text}"}
    with httpx.Client(base_url=f"{live_server.url}/api/v1", headers=headers, timeout=30) as api:
        body = {
            "model": "sandbox/flux-sync",
            "prompt": "a lighthouse at dusk",
            "params": {"image_size": {"width": 320, "height": 256}, "seed": 7},
        }
        started = api.post("/generations", json=body)
        assert started.status_code == 202, started.text
        uuid = started.json()["uuid"]
        deadline = time.monotonic() + 60
        while (found := api.get(f"/generations/{uuid}").json())["status"] not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            assert time.monotonic() < deadline, found["status"]
            time.sleep(0.3)
        assert found["status"] == "succeeded", found["error"]
        assert found["made_through_api"] is True
        [image] = found["images"]
        # Straight from disk, or a redirect to a signed link when media lives in a bucket.
        original = api.get(image["original_url"], follow_redirects=True)
        assert original.status_code == 200
        assert original.url.path != "/login/"
        assert PILImage.open(io.BytesIO(original.content)).size == (320, 256)
        listed = api.get("/images", params={"api": "1"}).json()["images"]
        assert [i["uuid"] for i in listed] == [image["uuid"]]
    usage = Usage.objects.get(generation__uuid=uuid)
    assert (usage.api_token, usage.api_token_name, usage.outcome) == (
        token,
        "pipeline",
        "succeeded",
    )


@pytest.mark.browser
def test_the_api_docs_run_under_the_strict_csp(live_server, browser):
    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    response = page.goto(f"{live_server.url}/api/v1/docs")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 12
    assert page.get_by_text("/api/v1/generations/{generation_uuid}/retry").count() == 1
    context.close()
    assert refused == []
