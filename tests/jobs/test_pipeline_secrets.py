"""A provider's error text may echo the key it was sent; what people see and the ledger keeps
never carries a key the worker knows. Provider HTTP is faked at the one client seam."""

import logging

import httpx
import pytest
from cryptography.fernet import Fernet

from gallery.models import Generation, Price, Usage, personal_team
from gallery.teams import encryption as secrets
from jobs import http
from jobs.pipeline import poll, submit
from jobs.providers import KEY_MASK
from jobs.sandbox import auth
from jobs.start import start_generation
from tests.factories import make_generation

Status = Generation.Status
SITE_AIMLAPI_KEY = "sk-site-aimlapi-0123456789"
SITE_RELAY_KEY = "relay_sk_site_0123456789"
TEAM_AIMLAPI_KEY = "sk-team-own-aimlapi-9876543210"


@pytest.fixture
def echoing(monkeypatch, settings):
    """A provider that refuses every request, quoting back every key header it was sent."""
    settings.AIMLAPI_API_KEY = SITE_AIMLAPI_KEY
    settings.RELAY_API_KEY = SITE_RELAY_KEY
    state = {"status": 401, "sent": []}

    def handle(request: httpx.Request) -> httpx.Response:
        sent = [request.headers.get(h, "") for h in ("authorization", "x-api-key")]
        state["sent"] += [s for s in sent if s]
        quoted = " / ".join(s for s in sent if s)
        return httpx.Response(state["status"], json={"message": f"Bad credentials: {quoted}"})

    monkeypatch.setattr(
        http,
        "client",
        lambda read_timeout=None: httpx.Client(transport=httpx.MockTransport(handle)),
    )
    return state


def start(user, model_id: str, provider: str, params: dict) -> Generation:
    team = personal_team(user)
    return start_generation(
        owner=user,
        team=team,
        gallery=team.default_gallery(),
        model_id=model_id,
        provider=provider,
        prompt="a red fox",
        params=params,
    )


def assert_no_key(generation: Generation, key: str) -> None:
    generation.refresh_from_db()
    entry = Usage.objects.get(generation=generation)
    assert generation.status == Status.FAILED
    assert "Bad credentials" in generation.error and KEY_MASK in generation.error
    assert key not in generation.error
    assert key not in entry.error and KEY_MASK in entry.error


CASES = [
    pytest.param("flux/schnell", "aimlapi", {}, SITE_AIMLAPI_KEY, id="aimlapi-bearer"),
    pytest.param("Qwen/qwen-image", "relay", {}, SITE_RELAY_KEY, id="relay-x-api-key"),
    pytest.param("sandbox/flux-sync", "sandbox", {}, None, id="sandbox-key"),
]


@pytest.mark.parametrize(("model_id", "provider", "params", "key"), CASES)
def test_an_error_that_echoes_the_key_is_kept_without_it(
    alice, echoing, model_id, provider, params, key
):
    key = key or auth.key()
    generation = start(alice, model_id, provider, params)
    submit(generation)
    assert any(key in sent for sent in echoing["sent"])  # the provider did get it
    assert_no_key(generation, key)


def test_a_teams_own_key_is_masked_too(alice, echoing, settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    team = personal_team(alice)
    team.aimlapi_key = secrets.encrypt(TEAM_AIMLAPI_KEY)
    team.save()
    generation = start(alice, "flux/schnell", "aimlapi", {})
    submit(Generation.objects.select_related("team").get(pk=generation.pk))
    assert echoing["sent"] == [f"Bearer {TEAM_AIMLAPI_KEY}"]
    assert_no_key(generation, TEAM_AIMLAPI_KEY)


def test_a_retry_logs_no_key(alice, echoing, caplog):
    echoing["status"] = 500  # retried, and the reason is logged
    generation = start(alice, "flux/schnell", "aimlapi", {})
    with caplog.at_level(logging.DEBUG):
        assert submit(generation).step == "submit"
    assert "Bad credentials" in caplog.text and KEY_MASK in caplog.text
    assert SITE_AIMLAPI_KEY not in caplog.text


@pytest.mark.parametrize("cut", [300, 500])
def test_a_key_across_where_long_words_are_cut_leaves_none_of_itself(
    alice, settings, monkeypatch, cut
):
    """The provider's words were cut to length (300 as text, 500 as JSON) before keys were
    masked: a key lying across the cut kept its start."""
    settings.AIMLAPI_API_KEY = SITE_AIMLAPI_KEY
    said = "x" * (cut - 8) + SITE_AIMLAPI_KEY + " and more"

    def handle(request: httpx.Request) -> httpx.Response:
        if cut == 300:
            return httpx.Response(400, text=said)
        return httpx.Response(400, json={"message": said})

    monkeypatch.setattr(
        http,
        "client",
        lambda read_timeout=None: httpx.Client(transport=httpx.MockTransport(handle)),
    )
    generation = start(alice, "flux/schnell", "aimlapi", {})
    submit(generation)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and "xxxx" in generation.error
    assert SITE_AIMLAPI_KEY[:8] not in generation.error
    assert SITE_AIMLAPI_KEY[:8] not in Usage.objects.get(generation=generation).error
    assert len(generation.error) <= 600


@pytest.mark.parametrize("server_key", ["another", ""], ids=["rotated-away", "unset"])
def test_a_team_key_the_server_cannot_read_fails_the_generation_and_costs_nothing(
    alice, echoing, settings, server_key
):
    """It raised out of submit (SecretError, or ImproperlyConfigured with no key set), leaving
    the generation claimed until the sweeper tried again, and again."""
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    team = personal_team(alice)
    team.aimlapi_key = secrets.encrypt(TEAM_AIMLAPI_KEY)
    team.save()
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode() if server_key else ""
    Price.objects.create(model_id="flux/schnell", usd_per_image="0.003")
    generation = start(alice, "flux/schnell", "aimlapi", {})
    assert submit(Generation.objects.select_related("team").get(pk=generation.pk)) is None
    generation.refresh_from_db()
    assert echoing["sent"] == []
    assert generation.status == Status.FAILED and generation.error == (
        "The team's AI/ML API key could not be read with the server's FIELD_ENCRYPTION_KEY; "
        "an owner should enter it again."
    )
    entry = Usage.objects.get(generation=generation)
    assert entry.estimated_usd > 0 and entry.cost_usd == 0


def test_a_poll_with_a_team_key_the_server_cannot_read_fails_the_generation(
    alice, echoing, settings
):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    team = personal_team(alice)
    team.relay_key = secrets.encrypt("relay-team-key-0123456789")
    team.save()
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    generation = make_generation(
        alice,
        model_id="Qwen/qwen-image",
        provider="relay",
        status=Status.RUNNING,
        provider_task_id="t1",
    )
    assert poll(Generation.objects.select_related("team").get(pk=generation.pk)) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and "The team's Relay key could not be read" in (
        generation.error
    )
