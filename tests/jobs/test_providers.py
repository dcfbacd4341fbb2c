"""Request building and response parsing for each protocol, one function at a time."""

import email.utils
import json
import time

import httpx
import pytest

from jobs import catalog
from jobs.providers import (
    KEY_MASK,
    Connection,
    Pending,
    ProviderError,
    Result,
    Submitted,
    aimlapi,
    relay,
    scrub,
)

CONN = Connection("https://api.example.test", "secret-key")


def response(status: int, body=None, text: str | None = None, headers=None) -> httpx.Response:
    request = httpx.Request("POST", "https://api.example.test/x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_it_builds_an_aimlapi_request():
    model = catalog.get("sandbox/flux-sync")
    request = aimlapi.build_submit(
        CONN, model, {"prompt": "a fox", "num_images": 2}, idempotency_key="k"
    )
    assert request.method == "POST"
    assert str(request.url) == "https://api.example.test/v1/images/generations"
    assert request.headers["authorization"] == "Bearer secret-key"
    assert json.loads(request.content) == {
        "model": "sandbox/flux-sync",
        "prompt": "a fox",
        "num_images": 2,
    }


def test_it_parses_fal_style_images():
    body = {
        "images": [
            {"url": "https://cdn/x.png", "width": 512, "height": 512, "content_type": "image/png"}
        ],
        "seed": 42,
        "timings": {"inference": 1.2},
        "has_nsfw_concepts": [False],
        "prompt": "a fox",
    }
    result = aimlapi.parse_submit(response(200, body))
    assert isinstance(result, Result)
    assert result.outputs[0].url == "https://cdn/x.png"
    assert result.outputs[0].seed == 42
    assert result.meta["seed"] == 42
    assert result.meta["timings"] == {"inference": 1.2}
    assert result.meta["has_nsfw_concepts"] == [False]


def test_it_parses_openai_style_data_with_url_and_b64():
    body = {
        "data": [
            {"url": "https://cdn/a.png", "revised_prompt": "a fox, detailed"},
            {"b64_json": "aGVsbG8=", "url": None},
        ],
        "meta": {"usage": {"credits_used": 2000, "usd_spent": None}},
    }
    result = aimlapi.parse_submit(response(200, body))
    assert [o.url for o in result.outputs] == ["https://cdn/a.png", None]
    assert result.outputs[1].b64 == "aGVsbG8="
    assert result.meta["revised_prompt"] == "a fox, detailed"
    assert result.meta["usage"] == {"credits_used": 2000}


def test_it_parses_google_style_data_with_the_enhanced_prompt():
    body = {
        "data": [
            {"mime_type": "image/png", "url": "https://cdn/g.png", "prompt": "An enhanced prompt"}
        ]
    }
    result = aimlapi.parse_submit(response(200, body))
    assert result.outputs[0].content_type == "image/png"
    assert result.meta["enhanced_prompt"] == "An enhanced prompt"


def test_it_prefers_images_when_a_body_carries_both_shapes():
    body = {
        "images": [{"url": "https://cdn/i.png"}],
        "data": [{"url": "https://cdn/i.png"}],
        "meta": {"usage": {"credits_used": 5}},
    }
    result = aimlapi.parse_submit(response(200, body))
    assert len(result.outputs) == 1
    assert result.meta["usage"] == {"credits_used": 5}


def test_it_refuses_an_answer_without_images():
    with pytest.raises(ProviderError, match="without any image"):
        aimlapi.parse_submit(response(200, {"data": []}))


def test_it_explains_a_rejected_key():
    with pytest.raises(ProviderError, match="rejected the API key") as e:
        aimlapi.parse_submit(response(401, {"message": "Invalid token"}))
    assert not e.value.transient
    assert "Invalid token" in e.value.message


def test_it_passes_on_the_providers_own_reason_for_a_400():
    body = {"error": {"message": "prompt violates the content policy"}}
    with pytest.raises(ProviderError, match="content policy"):
        aimlapi.parse_submit(response(400, body))


def test_it_marks_429_and_503_as_transient_with_retry_after():
    with pytest.raises(ProviderError) as e:
        aimlapi.parse_submit(response(429, {}, headers={"Retry-After": "7"}))
    assert e.value.transient and e.value.retry_after == 7
    with pytest.raises(ProviderError) as e:
        aimlapi.parse_submit(response(503, text="<html>down</html>"))
    assert e.value.transient


def transient(status: int, headers=None) -> bool:
    with pytest.raises(ProviderError) as e:
        aimlapi.parse_submit(response(status, {"message": "no"}, headers=headers))
    assert e.value.status == status
    return e.value.transient


def test_it_retries_what_the_openai_sdk_retries():
    """408, 409, 429 and every 5xx, 500 included; no other 4xx."""
    assert all(transient(status) for status in (408, 409, 429, 500, 501, 502, 503, 504, 599))
    assert not any(transient(status) for status in (400, 401, 403, 404, 413, 422))


def test_it_obeys_the_providers_x_should_retry_header():
    assert not transient(500, {"x-should-retry": "false"})
    assert transient(400, {"x-should-retry": "true"})
    assert transient(503, {"x-should-retry": "maybe"})


def test_it_says_what_an_internal_error_was():
    with pytest.raises(ProviderError) as e:
        aimlapi.parse_submit(response(500, {"error": {"message": "GPU fell over"}}))
    assert (
        e.value.message
        == "The provider failed with an internal error (500). It said: GPU fell over"
    )


def retry_after(headers) -> float | None:
    with pytest.raises(ProviderError) as e:
        aimlapi.parse_submit(response(503, {}, headers=headers))
    return e.value.retry_after


def test_it_reads_retry_after_as_the_openai_sdk_does():
    assert retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert retry_after({"retry-after-ms": "soon", "Retry-After": "9"}) == 9
    assert retry_after({"Retry-After": "0.25"}) == 0.25
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 < retry_after({"Retry-After": in_a_minute}) <= 60
    for useless in ("0", "-3", "nan", "inf", "whenever", email.utils.formatdate(0, usegmt=True)):
        assert retry_after({"Retry-After": useless}) is None, useless
    assert retry_after({}) is None


def test_a_connection_keeps_its_key_out_of_its_repr():
    connection = Connection("https://api.example.test", "sk-very-secret-key-123")
    assert "sk-very-secret-key-123" not in repr(connection)
    assert "sk-very-secret-key-123" not in str(connection)
    assert "https://api.example.test" in repr(connection)


def test_it_masks_every_key_in_a_message():
    message = "Bad key sk-long-secret-1 (team sk-long-secret-12); relay relay-key-999"
    masked = scrub(message, ["sk-long-secret-1", "sk-long-secret-12", "relay-key-999", "", "short"])
    assert masked == f"Bad key {KEY_MASK} (team {KEY_MASK}); relay {KEY_MASK}"


def test_it_explains_a_body_that_is_not_json():
    with pytest.raises(ProviderError, match="not JSON"):
        aimlapi.parse_submit(response(200, text="<html>oops</html>"))


def test_it_builds_an_async_relay_submit_with_an_idempotency_key():
    model = catalog.get("sandbox/relay-async")
    request = relay.build_submit(CONN, model, {"prompt": "x", "width": 512}, idempotency_key="u1")
    assert str(request.url) == "https://api.example.test/v2/image/generate"
    assert request.headers["x-api-key"] == "secret-key"
    assert request.headers["idempotency-key"] == "u1"
    assert json.loads(request.content) == {"prompt": "x", "width": 512, "async": True}


def test_it_reads_relay_202_as_a_task():
    body = {"task_id": "direct:abc", "status": "queued", "poll_url": "/v2/tasks/direct:abc"}
    answer = relay.parse_submit(response(202, body))
    assert answer == Submitted(task_id="direct:abc", poll_url="/v2/tasks/direct:abc")


def test_it_polls_the_poll_url_or_the_task_route():
    assert str(relay.build_poll(CONN, "direct:abc", "/v2/tasks/direct:abc").url) == (
        "https://api.example.test/v2/tasks/direct:abc"
    )
    assert str(relay.build_poll(CONN, "direct:abc", "").url) == (
        "https://api.example.test/v2/tasks/direct:abc"
    )


def test_it_reads_relay_task_states():
    assert relay.parse_poll(response(200, {"task_id": "t", "status": "running"})) == Pending(
        "running"
    )
    done = relay.parse_poll(
        response(
            200,
            {
                "task_id": "t",
                "status": "completed",
                "elapsed_seconds": 3.5,
                "result": {"images": ["aGVsbG8="], "model": "m"},
            },
        )
    )
    assert isinstance(done, Result)
    assert done.outputs[0].b64 == "aGVsbG8="
    assert done.meta["timings"] == {"elapsed_seconds": 3.5}
    with pytest.raises(ProviderError, match="out of memory"):
        relay.parse_poll(
            response(
                200,
                {
                    "task_id": "t",
                    "status": "failed",
                    "error": "GPU error",
                    "error_detail": "out of memory",
                },
            )
        )


def test_it_reads_relay_url_results():
    result = relay.parse_result({"urls": ["https://cdn/q.png"], "model": "Qwen/qwen-image"})
    assert result.outputs[0].url == "https://cdn/q.png"
