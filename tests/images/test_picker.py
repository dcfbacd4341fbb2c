"""What the model picker says about each model (gallery/images/picker.py), carried on the Model
select's options: price, learned time, capabilities, why disabled, favorites and recent first;
and the endpoint that keeps a person's stars."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.images import picker
from gallery.images.forms import GenerateForm
from gallery.models import ClosedModel, Generation, Preferences, Price, personal_team
from gallery.usage.prices import images_requested
from jobs import catalog, timing
from tests.factories import fresh, make_generation

Status = Generation.Status


@pytest.fixture
def prices(db):
    """A price table of two known figures: Flux Schnell's own, and Flux Pro's (its family)."""
    Price.objects.all().delete()
    Price.objects.create(model_id="flux/schnell", usd_per_image=Decimal("0.003"))
    Price.objects.create(model_id="flux-pro", usd_per_image=Decimal("0.05"))


def succeeded(owner, model_id: str, seconds: float, ago: int = 5) -> Generation:
    started = timezone.now() - timedelta(minutes=ago)
    return make_generation(
        owner,
        model_id=model_id,
        status=Status.SUCCEEDED,
        submitted_at=started,
        result_at=started + timedelta(seconds=seconds),
        finished_at=started + timedelta(seconds=seconds + 1),
        provider_meta={"timings": {"elapsed_seconds": seconds}},
    )


def options_of(html: str) -> dict[str, str]:
    """Each <option>'s tag by its value."""
    return {m.group(1): m.group(0) for m in re.finditer(r'<option value="([^"]+)"[^>]*>', html)}


def test_it_says_what_a_model_does():
    assert picker.capabilities(catalog.get("flux/schnell")) == ["text-to-image"]
    assert picker.capabilities(catalog.get("openai/gpt-image-1:edit")) == ["edit", "mask"]
    upscalers = [m for m in catalog.offered() if m.kind == "upscale"]
    assert upscalers and picker.capabilities(upscalers[0])[0] == "upscale"


def test_the_price_is_the_estimate_of_one_image_at_the_defaults(prices):
    table = {p.model_id: p for p in Price.objects.all()}
    schnell = catalog.get("flux/schnell")
    estimate, _ = Price.estimate(schnell.id, schnell.provider, {})
    assert estimate / images_requested(schnell.id, {}) == Decimal("0.003")
    assert picker.price_text(schnell, table) == "about $0.003 per image"
    # No price of its own: the family's dearest, as budgets count it, and said so.
    dev = catalog.get("flux/dev")
    assert Price.estimate(dev.id, dev.provider, {})[0] == Decimal("0.05") * images_requested(
        dev.id, {}
    )
    assert picker.price_text(dev, table) == (
        "about $0.05 per image (no price set: its family's dearest)"
    )
    assert picker.price_text(catalog.get("sandbox/flux-sync"), table) == "free"
    assert picker.price_text(catalog.get("openai/gpt-image-1"), table) == "no price set"


def test_the_typical_time_is_the_learned_one_for_every_model_at_once(alice):
    for seconds in (4, 6, 30):
        succeeded(alice, "sandbox/flux-sync", seconds)
    succeeded(alice, "sandbox/relay-async", 100)
    make_generation(alice, model_id="sandbox/openai-sync", status=Status.FAILED)
    times = timing.typical_times(
        ["sandbox/flux-sync", "sandbox/relay-async", "sandbox/openai-sync"]
    )
    assert times == {
        "sandbox/flux-sync": timing.ready_after("sandbox/flux-sync"),
        "sandbox/relay-async": timing.ready_after("sandbox/relay-async"),
    }
    assert times["sandbox/flux-sync"] == 6 + timing.READY_MARGIN
    assert picker.time_text(times["sandbox/flux-sync"]) == "typically 6 s"
    assert picker.time_text(times["sandbox/relay-async"]) == "typically 2 min"
    assert picker.time_text(None) == "no timing yet"


def test_the_typical_time_reads_only_each_models_latest_successes(alice):
    for n in range(timing.EXPECTED_SAMPLE):
        succeeded(alice, "sandbox/flux-sync", 10, ago=5 + n)
    for n in range(5):  # older than the sample: not counted
        succeeded(alice, "sandbox/flux-sync", 500, ago=60 + n)
    assert timing.typical_times(["sandbox/flux-sync"]) == {
        "sandbox/flux-sync": 10 + timing.READY_MARGIN
    }


def test_learned_times_are_kept_a_minute_as_ready_after_keeps_them(
    alice, django_assert_num_queries
):
    succeeded(alice, "sandbox/flux-sync", 12)
    first = timing.typical_times(["sandbox/flux-sync"])
    with django_assert_num_queries(0):
        assert timing.typical_times(["sandbox/flux-sync"]) == first
        assert timing.ready_after("sandbox/flux-sync") == first["sandbox/flux-sync"]


def test_recent_models_are_the_persons_own_latest_first(alice, bob):
    make_generation(alice, model_id="sandbox/openai-sync")
    make_generation(alice, model_id="sandbox/relay-async")
    make_generation(alice, model_id="sandbox/openai-sync")
    make_generation(bob, model_id="sandbox/flux-sync")
    assert picker.recent_models(alice) == ["sandbox/openai-sync", "sandbox/relay-async"]
    assert picker.recent_models(bob) == ["sandbox/flux-sync"]


def test_recent_models_stop_at_a_few(alice):
    offered = [m.id for m in catalog.offered()]
    for model_id in offered[: picker.RECENT + 3]:
        make_generation(alice, model_id=model_id)
    assert picker.recent_models(alice) == offered[picker.RECENT + 2 : 2 : -1]


def test_the_options_carry_what_the_picker_shows(alice, prices, settings):
    settings.AIMLAPI_API_KEY = ""
    ClosedModel.objects.create(model_id="sandbox/openai-sync", reason="replaced by Flux")
    Preferences.star_model(alice, "sandbox/relay-async", True)
    make_generation(alice, model_id="sandbox/flux-sync")
    succeeded(alice, "sandbox/flux-sync", 8)
    form = GenerateForm(user=alice, team=personal_team(alice))
    options = options_of(str(form["model"]))
    assert len(options) == len(catalog.offered())
    flux = options["sandbox/flux-sync"]
    assert 'data-name="Sandbox Flux"' in flux
    assert 'data-caps="text-to-image"' in flux
    assert 'data-price="free"' in flux
    assert 'data-time="typically 8 s"' in flux
    assert 'data-recent="0"' in flux and "data-favorite" not in flux
    assert 'data-favorite="1"' in options["sandbox/relay-async"]
    assert 'data-why="turned off on this site: replaced by Flux"' in options["sandbox/openai-sync"]
    schnell = options["flux/schnell"]
    assert 'data-why="set AIMLAPI_API_KEY to use"' in schnell and "disabled" in schnell
    assert 'data-price="about $0.003 per image"' in schnell
    assert 'data-caps="edit mask"' in options["openai/gpt-image-1:edit"]


def test_the_picker_data_takes_the_same_few_queries_for_every_model(
    alice, prices, django_assert_num_queries
):
    for model in catalog.offered()[:10]:
        succeeded(alice, model.id, 5)
    Preferences.star_model(alice, "sandbox/flux-sync", True)
    alice = type(alice).objects.get(pk=alice.pk)  # as a new request loads her
    form = GenerateForm(user=alice, team=personal_team(alice))
    # Prices, learned times, favorites, latest generations: for ~95 models.
    with django_assert_num_queries(4):
        html = str(form["model"])
    assert html.count("data-time=") == len(catalog.offered())


def test_it_is_not_computed_for_a_form_that_is_not_shown(alice):
    # A POST to generate builds the form too; only a rendered select asks for the picker's data.
    with CaptureQueriesContext(connection) as queries:
        form = GenerateForm(user=alice, team=personal_team(alice))
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert "gallery_price" not in read and "gallery_preferences" not in read
    assert form.fields["model"].widget.shown == {}


def starred(user) -> list[str]:
    return Preferences.favorites_of(fresh(user))


def test_a_star_is_kept_and_taken_back(alice_client, alice):
    response = alice_client.post(
        "/account/favorite-model", {"model": "sandbox/relay-async", "starred": "1"}
    )
    assert response.status_code == 200
    assert response.json() == {"favorites": ["sandbox/relay-async"]}
    alice_client.post("/account/favorite-model", {"model": "sandbox/flux-sync", "starred": "1"})
    alice_client.post("/account/favorite-model", {"model": "sandbox/flux-sync", "starred": "1"})
    assert starred(alice) == ["sandbox/relay-async", "sandbox/flux-sync"]
    response = alice_client.post(
        "/account/favorite-model", {"model": "sandbox/relay-async", "starred": "0"}
    )
    assert response.json() == {"favorites": ["sandbox/flux-sync"]}
    assert starred(alice) == ["sandbox/flux-sync"]


def test_a_star_for_an_unknown_model_or_without_a_state_is_refused(alice_client, alice):
    response = alice_client.post("/account/favorite-model", {"model": "no/such", "starred": "1"})
    assert response.status_code == 400
    assert b"one of the models in the list" in response.content
    response = alice_client.post("/account/favorite-model", {"model": "sandbox/flux-sync"})
    assert response.status_code == 400
    assert b"starred=1" in response.content
    assert Preferences.favorites_of(alice) == []


def test_stars_need_a_login_and_a_post(alice_client):
    response = Client().post(
        "/account/favorite-model", {"model": "sandbox/flux-sync", "starred": "1"}
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert alice_client.get("/account/favorite-model").status_code == 405


def test_a_model_with_no_history_is_not_asked_about_again_at_every_page(
    alice, django_assert_num_queries
):
    assert timing.typical_times(["sandbox/flux-sync"]) == {}
    with django_assert_num_queries(0):  # the picker's next pages: nothing to learn yet
        assert timing.typical_times(["sandbox/flux-sync"]) == {}
    succeeded(alice, "sandbox/flux-sync", 12)
    # The pipeline still learns a model's first success within a second.
    timing._expected["sandbox/flux-sync"] = (0.0, None)
    assert timing.ready_after("sandbox/flux-sync") == 12 + timing.READY_MARGIN
