"""The usage ledger, cost estimates and budgets: what a generation costs and who may make one."""

import importlib
import json
import threading
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from gallery.models import (
    Budget,
    Generation,
    OverBudget,
    Price,
    SiteSettings,
    Usage,
    by_param_problem,
    personal_team,
)
from gallery.usage.figures import standing
from gallery.usage.limits import day_start
from gallery.usage.prices import family, images_requested, megapixels, reported_cost
from jobs import catalog, http, pipeline
from jobs.start import start_generation
from tests.factories import make_image, png_bytes
from tests.usage.conftest import backend_pid, postgresql_only, race_two, until, waiting_for_a_lock

Status = Generation.Status
Source = Usage.Source
D = Decimal


def start(user, team=None, model_id="sandbox/flux-sync", provider="sandbox", **params):
    team = team or personal_team(user)
    return start_generation(
        owner=user,
        team=team,
        gallery=team.default_gallery(),
        model_id=model_id,
        provider=provider,
        prompt="a red fox",
        params=params or {"num_images": 1},
    )


# --- Estimates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id, params, expected",
    [
        ("sandbox/flux-sync", {"num_images": 3}, 3),
        ("sandbox/flux-sync", {}, 1),  # the model's documented default
        ("sandbox/openai-sync", {"n": 2}, 2),
        ("a1111/txt2img", {"batch_size": 2, "n_iter": 3}, 6),
        ("a1111/txt2img", {}, 1),
        ("flux/schnell", {"num_images": 4}, 4),
        ("no/such-model", {}, 1),
    ],
)
def test_it_counts_the_images_a_request_asks_for(model_id, params, expected):
    assert images_requested(model_id, params) == expected


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"image_size": "square_hd"}, 1.048576),
        ({"image_size": {"width": 2000, "height": 1000}}, 2.0),
        ({"size": "1536x1024"}, 1.572864),
        ({"width": 500, "height": 400}, 0.2),
        ({"size": "2K"}, 1.0),  # not a size we can read: counted as one megapixel
        ({}, 1.0),
    ],
)
def test_it_reads_the_requested_size(params, expected):
    assert megapixels("any/model", params) == pytest.approx(expected)


def test_an_unpriced_model_is_estimated_at_nothing_and_says_so(db):
    assert Price.estimate("made/up", "aimlapi", {}) == (D(0), Source.UNPRICED)


def test_the_sandbox_is_free_until_an_admin_prices_it(db):
    assert Price.estimate("sandbox/flux-sync", "sandbox", {}) == (D(0), Source.FREE)
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.01"))
    assert Price.estimate("sandbox/flux-sync", "sandbox", {"num_images": 3}) == (
        D("0.03"),
        Source.ESTIMATED,
    )


def test_the_price_table_is_seeded_from_the_documented_examples(db):
    # qwen-image's example reports credits_used 91000 for one image; 2,000,000 credits = $1.
    assert Price.objects.get(model_id="alibaba/qwen-image").usd_per_image == D("0.0455")
    # gpt-image-2 reports usd_spent 0.0536705 directly (kept to six places).
    assert Price.objects.get(model_id="openai/gpt-image-2").usd_per_image == D("0.053670")
    assert Price.objects.count() == 56


def test_a_price_can_depend_on_an_option_and_on_the_size(db):
    Price.objects.update_or_create(
        model_id="openai/gpt-image-1",
        defaults={
            "usd_per_image": D("0.04"),
            "by_param": {"quality": {"high": "0.17", "low": "0.011"}},
        },
    )
    estimate = lambda **p: Price.estimate("openai/gpt-image-1", "aimlapi", p)[0]  # noqa: E731
    assert estimate(quality="high", n=2) == D("0.34")
    assert estimate(quality="low") == D("0.011")
    assert estimate(quality="medium") == D("0.04")  # not listed: the base price
    Price.objects.create(model_id="flux/schnell", usd_per_image=D("0.003"), per_megapixel=True)
    cost, _ = Price.estimate(
        "flux/schnell", "aimlapi", {"image_size": {"width": 2000, "height": 1000}, "num_images": 2}
    )
    assert cost == D("0.012")


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, D("0.042")),  # the documented defaults: medium, 1024x1024
        ({"quality": "high"}, D("0.167")),
        ({"quality": "high", "size": "1536x1024"}, D("0.25")),
        ({"quality": "low", "size": "1024x1536"}, D("0.016")),
        ({"quality": "high", "size": "1536x1024", "n": 2}, D("0.5")),
    ],
)
def test_the_gpt_image_estimates_follow_quality_and_size(db, params, expected):
    assert Price.estimate("openai/gpt-image-1", "aimlapi", params) == (expected, Source.ESTIMATED)


def test_a_price_by_two_options_falls_back_to_the_base_for_an_unlisted_one(db):
    Price.objects.create(
        model_id="made/up",
        usd_per_image=D("0.5"),
        by_param={"quality": {"high": {"size": {"1024x1024": "0.17"}}}},
    )
    assert Price.estimate("made/up", "aimlapi", {"quality": "high", "size": "1024x1024"})[0] == D(
        "0.17"
    )
    assert Price.estimate("made/up", "aimlapi", {"quality": "high", "size": "9x9"})[0] == D("0.5")


def test_the_admin_may_enter_a_price_by_two_options():
    assert by_param_problem({"quality": {"high": {"size": {"1024x1536": "0.25"}}}}) is None
    assert by_param_problem({"quality": {"high": {"size": {"1024x1536": "lots"}}}}) == (
        'The price of size="1024x1536" must be a number, like "0.17".'
    )
    assert by_param_problem({"quality": {"high": {"size": {}}}}) == (
        '"size" needs an object of prices by value, like {"high": "0.17"}.'
    )


def test_the_seeded_prices_are_the_ones_in_prices_json(db):
    """What migrations seed (0012, then 0015's options) is what the data file says."""
    seeded = json.loads((catalog.DATA_DIR / "prices.json").read_text())["prices"]
    for model_id, price in seeded.items():
        row = Price.objects.get(model_id=model_id)
        assert (row.usd_per_image, row.source) == (D(price["usd_per_image"]), price["source"])
        assert row.by_param == price.get("by_param", {}), model_id


def test_the_price_migration_updates_only_what_still_holds_the_seeded_figure(db):
    from django.apps import apps

    migration = importlib.import_module("gallery.migrations.0015_family_prices")
    mini = "openai/gpt-image-1-mini"
    old_source = "documented example response: credits_used 26465 for 1 image"
    Price.objects.filter(model_id=mini).update(
        usd_per_image=D("0.013232"), source=old_source, by_param={}
    )
    Price.objects.filter(model_id="openai/gpt-image-1").update(  # an admin's own figure
        usd_per_image=D("0.05"), source="our invoice", by_param={}
    )
    Price.objects.filter(model_id="openai/gpt-image-2:edit").delete()
    migration.seed(apps, None)
    assert Price.objects.get(model_id=mini).by_param["quality"]["high"]["size"]["1024x1536"]
    assert Price.objects.get(model_id=mini).usd_per_image == D("0.011")
    edited = Price.objects.get(model_id="openai/gpt-image-1")
    assert (edited.usd_per_image, edited.source, edited.by_param) == (D("0.05"), "our invoice", {})
    assert Price.objects.get(model_id="openai/gpt-image-2:edit").usd_per_image == D("0.095225")


def test_an_unpriced_model_counts_at_the_highest_price_of_its_family(db):
    """gpt-image-1.5 has no price: it counts as its maker's dearest image, never as $0."""
    assert not Price.objects.filter(model_id="openai/gpt-image-1-5").exists()
    cost, source = Price.estimate("openai/gpt-image-1-5", "aimlapi", {"n": 1})
    assert (cost, source) == (D("0.25"), Source.FAMILY)  # gpt-image-1, high, 1536x1024
    # The same maker's model on another provider is in the family too.
    assert Price.estimate("openai/gpt-image-1.5-T2I", "relay", {})[1] == Source.FAMILY
    # The sandbox and a person's own server stay free.
    assert Price.estimate("sandbox/openai-sync", "sandbox", {}) == (D(0), Source.FREE)
    assert Price.estimate("a1111/txt2img", "a1111", {}) == (D(0), Source.FREE)


def test_a_family_price_per_megapixel_counts_the_size_asked_for(db):
    Price.objects.filter(model_id__in=family(catalog.MODELS["flux/schnell"])).delete()
    Price.objects.create(model_id="flux/dev", usd_per_image=D("0.025"), per_megapixel=True)
    params = {"image_size": {"width": 2000, "height": 1000}}
    assert Price.estimate("flux/schnell", "aimlapi", params) == (D("0.05"), Source.FAMILY)


def test_a_model_whose_family_has_no_price_stays_unpriced(db):
    relatives = family(catalog.MODELS["flux/schnell"])
    Price.objects.filter(model_id__in=[*relatives, "flux/schnell"]).delete()
    assert Price.estimate("flux/schnell", "aimlapi", {}) == (D(0), Source.UNPRICED)


def test_a_family_estimate_counts_against_a_dollar_budget(alice):
    Budget.objects.create(user=alice, usd_per_month=D("0.30"))
    first = start(alice, model_id="openai/gpt-image-1-5", provider="aimlapi", n=1)
    usage_row = Usage.objects.get(generation=first)
    assert (usage_row.estimated_usd, usage_row.cost_source) == (D("0.25"), Source.FAMILY)
    with pytest.raises(OverBudget, match=r"this would cost about \$0.25 more"):
        start(alice, model_id="openai/gpt-image-1-5", provider="aimlapi", n=1)


def test_the_form_says_how_an_unpriced_model_is_counted(alice_client, settings):
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    page = alice_client.get("/", {"model": "openai/gpt-image-1-5"}).content.decode()
    assert (
        "no price set; counted at $0.25 per image, the highest of its family, "
        "against dollar budgets"
    ) in page
    page = alice_client.get("/", {"model": "openai/gpt-image-1"}).content.decode()
    assert "about $0.042 per image, depends on options" in page


@pytest.mark.parametrize(
    "provider, meta, expected",
    [
        ("aimlapi", {"usage": {"credits_used": 78000, "usd_spent": 0.039}}, (D("0.039"), 78000)),
        ("aimlapi", {"usage": {"credits_used": 91000}}, (D("0.0455"), 91000)),
        ("aimlapi", {"usage": {"tokens_used": 63000}}, (D("0.0315"), 63000)),
        ("relay", {"credits_used": 12, "usd_spent": 0.02}, (D("0.02"), 12)),
        ("relay", {"credits_used": 12}, (None, 12)),  # no documented rate for Relay's credits
        ("aimlapi", {"usage": {"prompt_tokens": 0}}, (None, None)),
        ("aimlapi", {}, (None, None)),
        ("aimlapi", {"usage": {"usd_spent": -1, "credits_used": "lots"}}, (None, None)),
    ],
)
def test_it_reads_the_cost_the_provider_reports(provider, meta, expected):
    assert reported_cost(provider, meta) == expected


# --- The ledger -------------------------------------------------------------------------------


@pytest.fixture
def provider(monkeypatch):
    """Answer provider requests with the handler a test sets."""
    state = {"handler": None}

    def client(read_timeout=None):
        return httpx.Client(transport=httpx.MockTransport(lambda r: state["handler"](r)))

    monkeypatch.setattr(http, "client", client)
    return state


def run(generation: Generation) -> Generation:
    """Drive the pipeline steps in turn, as the worker would."""
    step = pipeline.submit(generation)
    while step is not None:
        generation.refresh_from_db()
        step = getattr(pipeline, step.step)(generation)
    generation.refresh_from_db()
    return generation


def png_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=png_bytes(), headers={"content-type": "image/png"})


def test_a_new_generation_is_in_the_ledger_with_its_estimate(alice):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.02"))
    generation = start(alice, num_images=2)
    entry = generation.usage
    assert (entry.user, entry.team, entry.user_name, entry.team_name) == (
        alice,
        generation.team,
        "alice",
        "alice",
    )
    assert (entry.provider, entry.model_id, entry.images, entry.outcome) == (
        "sandbox",
        "sandbox/flux-sync",
        2,
        Status.QUEUED,
    )
    assert (entry.estimated_usd, entry.cost_usd, entry.cost_source) == (
        D("0.04"),
        D("0.04"),
        Source.ESTIMATED,
    )


def test_a_success_records_images_times_and_the_reported_cost(alice, provider):
    Price.objects.create(model_id="sandbox/openai-sync", usd_per_image=D("0.05"))
    answer = {
        "data": [{"url": "http://127.0.0.1:8000/sandbox/files/a"}],
        "meta": {"usage": {"credits_used": 78000, "usd_spent": 0.039}},
    }

    def handler(request):
        if request.url.path.endswith("/generations"):
            return httpx.Response(200, json=answer)
        return png_answer(request)

    provider["handler"] = handler
    generation = run(start(alice, model_id="sandbox/openai-sync", n=1))
    entry = Usage.objects.get(generation=generation)
    assert generation.status == Status.SUCCEEDED
    assert (entry.outcome, entry.images, entry.error) == (Status.SUCCEEDED, 1, "")
    assert (entry.estimated_usd, entry.reported_usd, entry.reported_credits) == (
        D("0.05"),
        D("0.039"),
        78000,
    )
    assert (entry.cost_usd, entry.cost_source) == (D("0.039"), Source.REPORTED)
    for seconds in (entry.queue_seconds, entry.provider_seconds, entry.download_seconds):
        assert seconds is not None and seconds >= 0
    assert entry.total_seconds == pytest.approx(
        (generation.finished_at - generation.created_at).total_seconds()
    )
    assert entry.settled_at is not None


def test_without_a_reported_figure_the_estimate_counts(alice, provider):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.02"))

    def handler(request):
        if request.url.path.endswith("/generations"):
            return httpx.Response(200, json={"images": [{"url": "http://127.0.0.1:8000/f/a"}]})
        return png_answer(request)

    provider["handler"] = handler
    entry = run(start(alice)).usage
    assert (entry.reported_usd, entry.cost_usd, entry.cost_source) == (
        None,
        D("0.02"),
        Source.ESTIMATED,
    )


def test_a_failure_before_any_result_costs_nothing(alice, provider):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.02"))
    provider["handler"] = lambda r: httpx.Response(
        400, json={"message": "The prompt breaks the content policy."}
    )
    generation = run(start(alice, num_images=2))
    entry = generation.usage
    assert generation.status == Status.FAILED
    assert (entry.outcome, entry.images, entry.cost_usd) == (Status.FAILED, 0, D(0))
    assert entry.estimated_usd == D("0.04")  # kept, to compare with what was charged
    assert "content policy" in entry.error
    assert entry.provider_seconds is None and entry.download_seconds is None


def test_a_cancel_costs_nothing_while_queued_and_the_estimate_once_the_provider_has_it(alice):
    Price.objects.create(model_id="sandbox/relay-async", usd_per_image=D("0.03"))
    queued = start(alice, model_id="sandbox/relay-async", width=64, height=64)
    queued.cancel()
    accepted = start(alice, model_id="sandbox/relay-async", width=64, height=64)
    Generation.objects.filter(pk=accepted.pk).update(  # what the worker writes
        status=Status.RUNNING,
        provider_task_id="t1",
        submitted_at=timezone.now(),
        sent_at=timezone.now(),
    )
    accepted.refresh_from_db()
    accepted.cancel()
    assert Usage.objects.get(generation=queued).cost_usd == D(0)
    entry = Usage.objects.get(generation=accepted)
    assert (entry.outcome, entry.cost_usd, entry.images) == (Status.CANCELLED, D("0.03"), 0)


def test_the_ledger_outlives_the_generation_and_the_team(alice, studio):
    generation = start(alice, studio)
    entry = generation.usage
    studio.delete()
    entry.refresh_from_db()
    assert (entry.generation, entry.team, entry.team_name, entry.user) == (
        None,
        None,
        "Studio",
        alice,
    )


# --- Budgets ----------------------------------------------------------------------------------


def test_a_person_over_their_daily_images_is_refused_with_a_clear_message(alice):
    Budget.objects.create(user=alice, images_per_day=3)
    start(alice, num_images=2)
    with pytest.raises(OverBudget) as refused:
        start(alice, num_images=2)
    assert str(refused.value).startswith(
        "You have made 2 of 3 images allowed today, and this would make 2 more (1 left)."
    )
    assert Generation.objects.count() == 1 and Usage.objects.count() == 1  # nothing half-made
    start(alice, num_images=1)  # what is left can still be used


def test_failed_and_earlier_generations_do_not_count_against_today(alice):
    Budget.objects.create(user=alice, images_per_day=2)
    failed = start(alice, num_images=2)
    failed.mark_failed("The provider is down.")
    old = start(alice, num_images=2)
    old.mark_failed("x")
    Usage.objects.filter(generation=old).update(
        images=2, created_at=day_start() - timedelta(minutes=1)
    )
    start(alice, num_images=2)


def test_a_team_over_its_monthly_spend_is_refused(alice, bob, studio):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.40"))
    Budget.objects.create(team=studio, usd_per_month=D("1.00"))
    start(alice, studio, num_images=2)
    with pytest.raises(OverBudget) as refused:
        start(bob, studio, num_images=1)  # the team's limit binds every member
    assert str(refused.value) == (
        "The team Studio has spent $0.80 of $1.00 allowed this month, and this would cost "
        "about $0.40 more."
    )
    start(bob, num_images=1)  # bob's own team has no limit


def test_the_reported_cost_replaces_the_estimate_in_the_monthly_sum(alice, studio):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.40"))
    Budget.objects.create(team=studio, usd_per_month=D("1.00"))
    first = start(alice, studio, num_images=2)
    Usage.objects.filter(generation=first).update(cost_usd=D("0.10"))  # as settled, reported
    start(alice, studio, num_images=2)


def test_an_unpriced_model_is_refused_under_a_spending_limit(alice):
    # Unpriced, and so is every model of its family (else it counts at their highest price).
    Price.objects.filter(model_id__in=family(catalog.MODELS["flux/schnell"])).delete()
    SiteSettings.objects.update_or_create(pk=1, defaults={"user_usd_per_month": D("5")})
    with pytest.raises(OverBudget, match="no price yet"):
        start(alice, model_id="flux/schnell", provider="aimlapi")
    start(alice)  # the free sandbox is fine


def test_site_defaults_apply_and_a_budget_of_ones_own_overrides_them(alice, bob):
    SiteSettings.objects.update_or_create(pk=1, defaults={"user_images_per_day": 1})
    start(alice)
    with pytest.raises(OverBudget):
        start(alice)
    Budget.objects.create(user=bob, images_per_day=5)
    for _ in range(5):
        start(bob)


def test_the_form_shows_what_is_used_of_each_limit(alice_client, alice):
    Budget.objects.create(user=alice, images_per_day=100)
    team = personal_team(alice)
    Budget.objects.create(team=team, usd_per_month=D("20"))
    for _ in range(37):
        Usage.objects.create(
            user=alice, team=team, user_name="a", team_name="a", provider="x", model_id="y",
            images=1, cost_usd=D("0.5"), cost_source=Source.ESTIMATED,
        )  # fmt: skip
    page = alice_client.get("/").content.decode()
    assert "You: 37 of 100 images today" in page
    assert '<span class="limit near">Team alice: $18.50 of $20.00 this month</span>' in page


def test_the_generate_view_refuses_over_a_limit_and_keeps_the_form(alice_client, alice):
    Budget.objects.create(user=alice, images_per_day=1)
    data = {"model": "sandbox/flux-sync", "prompt": "a fox", "p_num_images": "2"}
    response = alice_client.post("/generate", data, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.headers["HX-Retarget"] == "#generate-form"
    assert "You have made 0 of 1 images allowed today, and this would make 2 more" in page
    assert "a fox</textarea>" in page  # what was typed is kept
    assert not Generation.objects.exists()
    response = alice_client.post("/generate", data | {"p_num_images": "1"})
    assert response.status_code == 302 and Generation.objects.count() == 1
    response = alice_client.post("/generate", data | {"p_num_images": "1"})
    assert response.status_code == 403
    assert "this would make 1 more (0 left)" in response.content.decode()


def test_a_generation_made_with_htmx_updates_the_limits_shown(alice_client, alice):
    Budget.objects.create(user=alice, images_per_day=10)
    data = {"model": "sandbox/flux-sync", "prompt": "a fox", "p_num_images": "3"}
    page = alice_client.post("/generate", data, headers={"HX-Request": "true"}).content.decode()
    assert 'id="limits"' in page and 'hx-swap-oob="true"' in page
    assert "You: 3 of 10 images today" in page


def test_retry_and_try_models_are_held_to_the_same_limits(alice_client, alice):
    Budget.objects.create(user=alice, images_per_day=1)
    failed = start(alice)
    failed.mark_failed("x")
    start(alice)
    response = alice_client.post(f"/generations/{failed.uuid}/retry", follow=True)
    assert "images allowed today" in response.content.decode()
    response = alice_client.post(
        f"/generations/{failed.uuid}/retry", headers={"HX-Request": "true"}
    )
    # With htmx the card is replaced in place, saying why; no second copy before it.
    assert response.headers["HX-Retarget"] == f"#gen-{failed.uuid}"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert "Not retried: You have made 1 of 1 images allowed today" in response.content.decode()
    response = alice_client.post(
        "/try", {"prompt": "a fox", "models": ["sandbox/flux-sync", "sandbox/openai-sync"]}
    )
    assert response.status_code == 403
    assert "images allowed today" in response.content.decode()
    assert Generation.objects.count() == 2  # neither the retry nor any of the batch


def test_admins_see_who_is_near_a_limit(alice, bob, studio):
    Budget.objects.create(user=alice, images_per_day=10)
    Budget.objects.create(user=bob, images_per_day=10)
    Budget.objects.create(team=studio, images_per_day=100)
    for _ in range(9):
        start(alice, studio)
    start(bob, studio)
    near = standing()
    assert [(s.scope, s.name, str(s.limit)) for s in near] == [
        ("user", "alice", "9 of 10 images today")
    ]
    assert [s.name for s in standing(threshold=0.1)] == ["alice", "bob", "Studio"]


# --- The race ---------------------------------------------------------------------------------
# Racing submits must queue up on the row locks `Usage.open` takes. SQLite runs one writing
# transaction at a time, so there a race passes with or without the locks and proves nothing.
# On PostgreSQL each test holds a submit that has read what is used until every other one has
# read too, has finished, or is seen waiting for a lock (pg_locks): without the locks they all
# read the same "used" and all pass, every time.


def ready_to_race(user, images_per_day: int) -> None:
    """A limit, and everything a submit would otherwise create on its first run (the site's
    settings, the team's gallery): creating those would serialize the submits by chance."""
    SiteSettings.load()
    personal_team(user).default_gallery()
    Budget.objects.create(user=user, images_per_day=images_per_day)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_submits_racing_at_the_limit_one_passes_one_is_refused(alice):
    """The first submit holds its transaction open; the second must wait for it, then count it."""
    ready_to_race(alice, images_per_day=1)
    outcomes, second_waited = race_two(lambda: start(alice), lambda: start(alice))
    assert outcomes == {"first": "passed", "second": "refused"}
    assert second_waited
    assert Usage.objects.count() == 1 and Generation.objects.count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_many_submits_at_once_never_exceed_the_limit(alice, monkeypatch):
    ready_to_race(alice, images_per_day=3)
    barrier = threading.Barrier(6)
    pids: dict[threading.Thread, int] = {}
    have_read: set[threading.Thread] = set()
    finished: set[threading.Thread] = set()
    passed: list[int] = []
    read_limits = Budget.limits

    def read_then_hold(user, team):
        """Read what is used, then hold on to it until no other submit is still on its way."""
        found = read_limits(user, team)
        me = threading.current_thread()
        have_read.add(me)

        def others_read_waiting_or_finished() -> bool:
            waiting = waiting_for_a_lock()
            return all(
                t in have_read or t in finished or pid in waiting
                for t, pid in pids.items()
                if t is not me
            )

        until(others_read_waiting_or_finished, "every other submit reading or waiting")
        return found

    monkeypatch.setattr(Budget, "limits", staticmethod(read_then_hold))

    def submit():
        pids[threading.current_thread()] = backend_pid()
        barrier.wait(20)
        try:
            start(alice)
            passed.append(1)
        except OverBudget:
            pass
        finally:
            finished.add(threading.current_thread())
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(passed) == 3
    assert Usage.objects.filter(user=alice).count() == 3


def test_a_step_between_states_is_one_update_and_the_last_settles_with_it(alice):
    from django.test.utils import CaptureQueriesContext

    generation = start(alice, model_id="sandbox/relay-async", width=64, height=64)
    with CaptureQueriesContext(connection) as step:
        assert generation.advance(Status.QUEUED, Status.SUBMITTED)
    # No transaction (savepoint, in a test) around one UPDATE, and no ledger work.
    assert [q["sql"].split()[0] for q in step.captured_queries] == ["UPDATE"]
    assert Usage.objects.get(generation=generation).settled_at is None
    with CaptureQueriesContext(connection) as last:
        assert generation.mark_failed("no")
    sql = [q["sql"].split()[0] for q in last.captured_queries]
    assert sql[0] == "SAVEPOINT" and sql[-1] == "RELEASE"  # one transaction with the ledger
    # The row; reading it back as that left it (not the caller's copy); then its entry; then
    # whether a webhook listens (gallery/webhooks/events.py).
    found = [q for q in sql if q in ("UPDATE", "SELECT")]
    assert found == ["UPDATE", "SELECT", "UPDATE", "SELECT"]
    assert Usage.objects.get(generation=generation).outcome == Status.FAILED


def test_settling_a_generation_from_before_the_ledger_changes_nothing(alice):
    generation = start(alice, model_id="sandbox/relay-async", width=64, height=64)
    Usage.objects.filter(generation=generation).delete()
    assert generation.mark_failed("no")
    assert not Usage.objects.exists()


def test_a_cancel_from_an_old_copy_still_charges_for_a_task_the_provider_accepted(alice):
    """The web's copy was loaded before the worker stored the task id; the ledger reads the row."""
    Price.objects.create(model_id="sandbox/relay-async", usd_per_image=D("0.03"))
    generation = start(alice, model_id="sandbox/relay-async", width=64, height=64)
    stale = Generation.objects.get(pk=generation.pk)
    Generation.objects.filter(pk=generation.pk).update(  # what the worker writes
        status=Status.RUNNING,
        provider_task_id="t1",
        submitted_at=timezone.now(),
        sent_at=timezone.now(),
    )
    assert stale.provider_task_id == "" and stale.cancel()
    assert Usage.objects.get(generation=generation).cost_usd == D("0.03")


def test_a_free_model_stays_free_whatever_it_reports(alice, provider):
    answer = {
        "data": [{"url": "http://127.0.0.1:8000/f/a"}],
        "meta": {"usage": {"credits_used": 9}},
    }
    provider["handler"] = lambda r: (
        httpx.Response(200, json=answer) if r.url.path.endswith("/generations") else png_answer(r)
    )
    entry = run(start(alice, model_id="sandbox/openai-sync", n=1)).usage
    assert (entry.cost_usd, entry.cost_source, entry.reported_credits) == (D(0), Source.FREE, 9)


def test_pictures_kept_from_a_generation_that_failed_later_are_counted(alice):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.02"))
    generation = start(alice, num_images=2)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.FETCHING, result_at=timezone.now(), submitted_at=timezone.now()
    )
    make_image(generation, 0)  # the first was stored, the second was a broken file
    generation.mark_failed("The provider's second picture could not be read.")
    entry = Usage.objects.get(generation=generation)
    assert (entry.outcome, entry.images, entry.cost_usd) == (Status.FAILED, 1, D("0.04"))
