"""Every failure marker of the sandbox, over Django's test client: the HTTP answer it documents;
and the tests' fake providers, over HTTP, failing through the same engine."""

import base64
import binascii
import io
import itertools
import json
import struct
from hashlib import sha256

import httpx
import pytest
from django.core.cache import cache
from PIL import Image as PILImage

from jobs import images
from jobs.sandbox import auth, failures, views
from tests.e2e.fakes import FakeProviders

GENERATIONS = "/sandbox/v1/images/generations"
RELAY = "/sandbox/v2/image/generate"


@pytest.fixture(autouse=True)
def sandbox(settings, db, client):
    settings.SANDBOX_LATENCY = 0
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_FAULTS = True
    settings.SANDBOX_FAILURE = ""
    client.defaults["HTTP_X_API_KEY"] = auth.key()  # the worker's key, as Relay's header
    cache.clear()
    failures.submissions.clear()
    failures.file_requests.clear()


@pytest.fixture
def naps(monkeypatch) -> list[float]:
    """The sandbox's sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(failures.time, "sleep", slept.append)
    return slept


def post(client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


def flux(client, prompt: str, **extra):
    body = {"model": "sandbox/flux-sync", "prompt": prompt, "image_size": "square", **extra}
    return post(client, GENERATIONS, body)


def openai(client, prompt: str, delivery: str = "url"):
    body = {
        "model": "sandbox/openai-sync",
        "prompt": prompt,
        "size": "256x256",
        "response_format": delivery,
    }
    return post(client, GENERATIONS, body)


def relay(client, prompt: str, **extra):
    return post(client, RELAY, {"prompt": prompt, "width": 64, "height": 64, **extra})


def relay_task(client, prompt: str) -> dict:
    """Submit an async Relay task (latency 0, so it is done at once) and poll it once."""
    task = relay(client, prompt, **{"async": True}).json()
    return client.get("/sandbox" + task["poll_url"]).json()


def file_path(client, prompt: str) -> str:
    url = flux(client, prompt).json()["images"][0]["url"]
    return url.removeprefix("http://testserver")


def error(response) -> str:
    return response.json()["error"]["message"]


SUBMITS = [
    pytest.param(lambda c, p: flux(c, p), id="aimlapi"),
    pytest.param(lambda c, p: relay(c, p), id="relay"),
    pytest.param(lambda c, p: relay(c, p, **{"async": True}), id="relay-async"),
]


@pytest.mark.parametrize("submit", SUBMITS)
def test_it_rate_limits_the_first_two_tries_then_answers(client, submit):
    first, second, third = (submit(client, "a fox [sandbox:429]") for _ in range(3))
    for response in (first, second):
        assert response.status_code == 429
        assert response["Retry-After"] == "1"
        assert "Rate limit" in error(response)
    assert third.status_code in (200, 202)


@pytest.mark.parametrize("submit", SUBMITS)
def test_it_is_unavailable_twice_then_answers(client, submit):
    answers = [submit(client, "a fox [sandbox:5xx-then-ok]").status_code for _ in range(3)]
    assert answers[:2] == [503, 503] and answers[2] in (200, 202)


def test_it_counts_failures_per_prompt_and_takes_n_from_the_marker(client):
    assert flux(client, "a fox [sandbox:5xx-then-ok:1]").status_code == 503
    assert flux(client, "a cat [sandbox:5xx-then-ok:1]").status_code == 503
    assert flux(client, "a fox [sandbox:5xx-then-ok:1]").status_code == 200
    assert flux(client, "a cat [sandbox:5xx-then-ok:1]").status_code == 200


@pytest.mark.parametrize(
    ("marker", "status", "message"),
    [
        ("500", 500, "Internal server error"),
        ("400-policy", 400, "The prompt was flagged by the content policy."),
        ("401", 401, "Invalid API key."),
    ],
)
@pytest.mark.parametrize("submit", SUBMITS)
def test_it_fails_every_time_with_a_reason(client, submit, marker, status, message):
    for _ in range(3):
        response = submit(client, f"a fox [sandbox:{marker}]")
        assert response.status_code == status
        assert message in error(response)


def test_it_answers_only_after_a_long_wait(client, naps):
    response = flux(client, "a fox [sandbox:slow]")
    assert response.status_code == 200 and response.json()["images"]
    assert naps == [failures.SLOW_SECONDS] and failures.SLOW_SECONDS >= 3


def test_it_answers_html_instead_of_json(client):
    for response in (flux(client, "x [sandbox:bad-json]"), relay(client, "x [sandbox:bad-json]")):
        assert response.status_code == 200
        assert response.content == b"<html>oops"
        with pytest.raises(ValueError):
            json.loads(response.content)


def test_it_answers_without_any_image(client):
    prompt = "a fox [sandbox:empty]"
    assert flux(client, prompt).json()["images"] == []
    assert openai(client, prompt).json()["data"] == []
    assert openai(client, prompt, "b64_json").json()["data"] == []
    assert relay(client, prompt).json()["images"] == []
    done = relay_task(client, prompt)
    assert done["status"] == "completed" and done["result"]["images"] == []


def test_it_keeps_a_task_running_for_ever(client, settings, monkeypatch):
    settings.SANDBOX_LATENCY = 3
    now = [1000.0]
    monkeypatch.setattr(views.time, "time", lambda: now[0])
    task = relay(client, "a fox [sandbox:task-stuck]", **{"async": True}).json()
    url = "/sandbox" + task["poll_url"]
    assert client.get(url).json()["status"] == "queued"
    for _ in range(5):
        now[0] += 1000
        answer = client.get(url).json()
        assert answer["status"] == "running" and "result" not in answer


def test_it_ends_a_task_failed_with_a_reason(client, settings, monkeypatch):
    settings.SANDBOX_LATENCY = 3
    now = [1000.0]
    monkeypatch.setattr(views.time, "time", lambda: now[0])
    task = relay(client, "a fox [sandbox:task-failed]", **{"async": True}).json()
    url = "/sandbox" + task["poll_url"]
    now[0] += 2
    assert client.get(url).json()["status"] == "running"
    now[0] += 2
    answer = client.get(url).json()
    assert answer["status"] == "failed"
    assert answer["error_detail"] == failures.TASK_FAILED_REASON
    assert "result" not in answer


@pytest.mark.parametrize(
    ("marker", "url"),
    [
        ("private-url", "http://10.0.0.1/x.png"),
        ("loopback-url", "http://127.0.0.2:9/x.png"),
        ("metadata-url", "http://169.254.169.254/latest/meta-data"),
    ],
)
def test_it_points_image_urls_at_addresses_that_are_not_its_own(client, marker, url):
    prompt = f"a fox [sandbox:{marker}]"
    assert [i["url"] for i in flux(client, prompt, num_images=2).json()["images"]] == [url] * 2
    assert openai(client, prompt).json()["data"][0]["url"] == url
    with pytest.raises(images.ImageError, match="private network"):
        images.resolve_download(url, {images.origin_of("http://testserver")})


@pytest.mark.parametrize("hops", [2, 5])
def test_it_redirects_a_file_as_many_times_as_asked(client, hops):
    marker = "[sandbox:redirect-chain]" if hops == 2 else f"[sandbox:redirect-chain:{hops}]"
    path = file_path(client, f"a fox {marker}")
    seen = 0
    response = client.get(path)
    while response.status_code == 302:
        seen += 1
        assert response["Location"].startswith("http://testserver/sandbox/files/")
        assert response["Location"].endswith(f"?hop={seen}")
        response = client.get(response["Location"].removeprefix("http://testserver"))
    assert seen == hops
    assert response.status_code == 200
    assert PILImage.open(io.BytesIO(response.content)).format == "PNG"


def test_it_redirects_a_file_to_a_private_address(client):
    prompt = "a fox [sandbox:redirect-private]"
    response = client.get(file_path(client, prompt))
    assert response.status_code == 302
    assert response["Location"] == "http://10.0.0.1/x.png"
    assert failures.file_requests[prompt] == 1


def test_it_claims_a_file_of_10_gb(client):
    response = client.get(file_path(client, "a fox [sandbox:huge]"))
    assert response.status_code == 200
    assert int(response["Content-Length"]) == 10 * 1024**3
    assert 0 < len(response.content) <= 1024


def test_it_streams_a_file_past_the_download_cap(client, settings):
    settings.DOWNLOAD_MAX_BYTES = 200_000
    response = client.get(file_path(client, "a fox [sandbox:huge-stream]"))
    assert response.status_code == 200 and not response.has_header("Content-Length")
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\x89PNG") and len(body) > settings.DOWNLOAD_MAX_BYTES


def test_it_trickles_a_file_one_byte_per_second(client, naps):
    response = client.get(file_path(client, "a fox [sandbox:trickle]"))
    first = list(itertools.islice(response.streaming_content, 4))
    assert first == [b"\x89", b"P", b"N", b"G"]
    assert naps == [1.0, 1.0, 1.0]


def test_it_streams_a_slow_file_in_parts_with_pauses(client, naps):
    response = client.get(file_path(client, "a fox [sandbox:slow-file]"))
    parts = list(response.streaming_content)
    assert len(parts) == failures.SLOW_FILE_PARTS
    assert naps == [failures.SLOW_FILE_PAUSE] * (failures.SLOW_FILE_PARTS - 1)
    assert PILImage.open(io.BytesIO(b"".join(parts))).size == (512, 512)


def test_it_serves_a_png_that_claims_too_many_pixels(client):
    response = client.get(file_path(client, "a fox [sandbox:bomb]"))
    assert response["Content-Type"] == "image/png"
    data = response.content
    assert len(data) < 2000 and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (30_000, 30_000)
    with pytest.raises(images.ImageError, match="too many pixels"):
        images.process(data)


def test_it_serves_html_labelled_as_a_png(client):
    response = client.get(file_path(client, "a fox [sandbox:not-image]"))
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"<!doctype html>")
    with pytest.raises(images.ImageError, match="not a PNG, JPEG or WebP"):
        images.process(response.content)


def test_it_sends_base64_that_is_not_base64(client):
    prompt = "a fox [sandbox:bad-base64]"
    payloads = [
        openai(client, prompt, "b64_json").json()["data"][0]["b64_json"],
        relay(client, prompt).json()["images"][0],
        relay_task(client, prompt)["result"]["images"][0],
    ]
    for payload in payloads:
        with pytest.raises(binascii.Error):
            base64.b64decode(payload, validate=True)


def test_it_sends_base64_larger_than_the_download_cap(client, settings):
    settings.DOWNLOAD_MAX_BYTES = 100_000
    prompt = "a fox [sandbox:huge-base64]"
    payloads = [
        openai(client, prompt, "b64_json").json()["data"][0]["b64_json"],
        relay(client, prompt).json()["images"][0],
        relay_task(client, prompt)["result"]["images"][0],
    ]
    for payload in payloads:
        assert len(base64.b64decode(payload, validate=True)) > settings.DOWNLOAD_MAX_BYTES
        with pytest.raises(images.ImageError, match="larger than"):
            images.decode_base64(payload, settings.DOWNLOAD_MAX_BYTES)


def test_it_fails_every_request_when_the_setting_says_so(client, settings):
    settings.SANDBOX_FAILURE = "401"
    assert flux(client, "a fox").status_code == 401
    assert relay(client, "a fox").status_code == 401
    settings.SANDBOX_FAILURE = "5xx-then-ok:1"
    assert [flux(client, "a cat").status_code for _ in range(2)] == [503, 200]


def test_it_lets_a_marker_win_over_the_setting(client, settings):
    settings.SANDBOX_FAILURE = "500"
    assert flux(client, "a fox [sandbox:400-policy]").status_code == 400


def test_it_refuses_an_unknown_failure(client, settings):
    response = flux(client, "a fox [sandbox:teapot]")
    assert response.status_code == 400
    assert "Unknown sandbox failure 'teapot'" in error(response)
    settings.SANDBOX_FAILURE = "nope"
    assert relay(client, "a fox").status_code == 400


def test_it_behaves_normally_without_a_marker(client):
    response = flux(client, "a fox", num_images=2)
    assert response.status_code == 200
    for image in response.json()["images"]:
        answer = client.get(image["url"].removeprefix("http://testserver"))
        assert PILImage.open(io.BytesIO(answer.content)).size == (512, 512)


def test_it_counts_submissions_and_file_requests_per_prompt(client):
    flux(client, "a fox")
    relay(client, "a fox", **{"async": True})
    flux(client, "a fox [sandbox:500]")
    path = file_path(client, "a cat")
    client.get(path)
    client.get(path)
    assert failures.submissions == {"a fox": 2, "a fox [sandbox:500]": 1, "a cat": 1}
    assert failures.file_requests == {"a cat": 2}


def test_it_fails_with_500_as_many_times_as_asked_then_answers(client):
    answers = [flux(client, "a fox [sandbox:500-then-ok]") for _ in range(4)]
    assert [a.status_code for a in answers] == [500, 500, 500, 200]
    assert failures.BROKEN in error(answers[0])
    assert [flux(client, "a cat [sandbox:500-then-ok:1]").status_code for _ in range(2)] == [
        500,
        200,
    ]


def test_without_faults_a_marker_is_just_prompt_text(client, settings):
    settings.SANDBOX_FAULTS = False
    for marker in ("500", "401", "slow", "teapot", "5xx-then-ok"):
        prompt = f"a fox [sandbox:{marker}]"
        response = flux(client, prompt)
        assert response.status_code == 200, marker
        assert response.json()["prompt"] == prompt
    settings.SANDBOX_FAILURE = "401"
    assert relay(client, "a fox").status_code == 200
    # Nothing is counted in memory or in the cache for anyone.
    assert failures.submissions == {} and failures.file_requests == {}
    digest = sha256(b"a fox [sandbox:5xx-then-ok]").hexdigest()
    assert cache.get(f"sandbox-failure:5xx-then-ok:{digest}") is None


def test_it_counts_only_the_latest_prompts(client, monkeypatch):
    monkeypatch.setattr(failures, "COUNTED_PROMPTS", 3)
    for n in range(5):
        flux(client, f"prompt {n}")
    flux(client, "prompt 4")
    assert failures.submissions == {"prompt 2": 1, "prompt 3": 1, "prompt 4": 2}


def test_a_submit_failure_with_a_count_acts_only_that_many_times(client, naps):
    assert [flux(client, "a fox [sandbox:400-policy:1]").status_code for _ in range(2)] == [
        400,
        200,
    ]
    assert [flux(client, "a cat [sandbox:slow:1]").status_code for _ in range(2)] == [200, 200]
    assert naps == [failures.SLOW_SECONDS]  # the first answer only came late


def test_it_quotes_the_key_it_was_sent(client):
    response = relay(client, "a fox [sandbox:echo-key]")  # the key as Relay's X-API-Key
    assert response.status_code == 400
    assert error(response) == f"Unknown parameter for the key {auth.key()}"
    del client.defaults["HTTP_X_API_KEY"]
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {auth.key()}"  # as the AI/ML API's
    response = flux(client, "a fox [sandbox:echo-key]")
    assert error(response) == f"Unknown parameter for the key Bearer {auth.key()}"


def test_it_serves_a_picture_from_the_other_loopback_name(client):
    url = flux(client, "a fox [sandbox:elsewhere-url]").json()["images"][0]["url"]
    assert url.startswith("http://localhost/sandbox/files/")  # the test client is "testserver"
    response = client.get(url.removeprefix("http://localhost"))
    assert PILImage.open(io.BytesIO(response.content)).size == (512, 512)


def test_it_redirects_a_file_to_the_other_loopback_name(client):
    path = file_path(client, "a fox [sandbox:redirect-elsewhere]")
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"http://localhost{path}?hop=1"
    served = client.get(f"{path}?hop=1")  # where it leads: the picture itself
    assert PILImage.open(io.BytesIO(served.content)).format == "PNG"


# --- The tests' fake providers fail through the same engine ----------------------------------


@pytest.fixture(scope="module")
def fake_providers():
    with FakeProviders() as fake:
        yield fake


def fake_flux(fake: FakeProviders, prompt: str) -> httpx.Response:
    body = {"model": "flux/schnell", "prompt": prompt, "image_size": "square"}
    headers = {"Authorization": f"Bearer {fake.aimlapi_key}"}
    return httpx.post(f"{fake.aimlapi_url}/v1/images/generations", json=body, headers=headers)


@pytest.mark.parametrize(
    "marker", ["429", "5xx-then-ok:1", "500-then-ok", "500", "400-policy", "401", "bad-json"]
)
def test_the_fakes_fail_a_submit_as_the_sandbox_does(client, fake_providers, marker):
    prompt = f"a fox {marker} [sandbox:{marker}]"
    for _ in range(4):
        sandbox, fake = flux(client, prompt), fake_flux(fake_providers, prompt)
        assert fake.status_code == sandbox.status_code
        if sandbox.status_code == 200 and sandbox["Content-Type"] == "application/json":
            assert len(fake.json()["images"]) == len(sandbox.json()["images"]) == 1
        else:
            assert fake.content == sandbox.content
            assert fake.headers.get("Retry-After") == sandbox.get("Retry-After")


def test_the_fakes_quote_the_key_they_were_sent(fake_providers):
    response = fake_flux(fake_providers, "a fox [sandbox:echo-key]")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message == f"Unknown parameter for the key Bearer {fake_providers.aimlapi_key}"


def test_the_fakes_stream_a_slow_file_in_parts(fake_providers, naps):
    url = fake_flux(fake_providers, "a fox [sandbox:slow-file]").json()["images"][0]["url"]
    with httpx.stream("GET", url) as response:
        assert "Content-Length" not in response.headers
        parts = list(response.iter_raw())
    assert naps == [failures.SLOW_FILE_PAUSE] * (failures.SLOW_FILE_PARTS - 1)
    assert PILImage.open(io.BytesIO(b"".join(parts))).format == "PNG"


def test_the_fakes_claim_a_file_of_10_gb(fake_providers):
    url = fake_flux(fake_providers, "a fox [sandbox:huge]").json()["images"][0]["url"]
    with httpx.stream("GET", url) as response:
        assert int(response.headers["Content-Length"]) == failures.HUGE_LENGTH


def test_the_fakes_refuse_an_unknown_failure(fake_providers):
    response = fake_flux(fake_providers, "a fox [sandbox:teapot]")
    assert response.status_code == 400
    assert "Unknown sandbox failure 'teapot'" in response.json()["error"]["message"]
