"""The usage dashboard: sums on a known ledger, roll-ups equal to the ledger, filters, CSV,
staff-only access, and a real generation showing up once the pipeline has settled it."""

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone

from gallery import spreadsheet
from gallery.models import ApiToken, Budget, Generation, Team, Usage, UsageDay, UsageRollup
from gallery.usage.figures import Scope, Source, standing, used_by
from gallery.usage.sums import EDGES, Figures, bucket, percentile
from jobs import pipeline, tasks
from tests.factories import make_user

Status = Generation.Status
REPORTED, ESTIMATED = Usage.Source.REPORTED, Usage.Source.ESTIMATED
TODAY = timezone.localdate()
A, B = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
FORMULA = "=cmd|' /C calc'!A0"


def entry(user, team, day, model_id, outcome, images=1, cost="0", source=ESTIMATED, **extra):
    model_provider = "sandbox" if model_id.startswith("sandbox/") else "aimlapi"
    return Usage.objects.create(
        user=user,
        team=team,
        user_name=user.username,
        team_name=team.name,
        provider=model_provider,
        model_id=model_id,
        created_at=timezone.make_aware(datetime.combine(day, time(12))),
        images=images,
        outcome=outcome,
        cost_usd=Decimal(cost),
        estimated_usd=Decimal(cost),
        cost_source=source,
        **extra,
    )


@pytest.fixture
def staff(db):
    user = make_user("sam")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_usage"))
    return user


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def today():
    """The day the ledger's "today" is; a test may freeze another (see `frozen_today`)."""
    return TODAY


@pytest.fixture
def frozen_today(today, monkeypatch):
    """Make `today` the site's date: Django's clock reads 3 pm of that day, local time.

    `timezone.localdate()`, `localtime()` and the budget windows all read `timezone.now`.
    """
    frozen = timezone.make_aware(datetime.combine(today, time(15)))
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    return today


@pytest.fixture
def ledger(studio, alice, bob, dave, today):
    """Ten generations over three days (two before today, and today)."""
    theirs = Team.objects.get(name="Dave's team")
    a, b = today - timedelta(days=2), today - timedelta(days=1)
    fs, sx = "flux/schnell", "sandbox/flux-sync"
    entry(alice, studio, a, sx, Status.SUCCEEDED, 2, "0.10", REPORTED, total_seconds=1.0)
    entry(alice, studio, a, fs, Status.SUCCEEDED, 1, "0.05", total_seconds=2.0)
    entry(bob, studio, a, fs, Status.FAILED, 0, error="Provider timed out", total_seconds=30)
    entry(dave, theirs, a, fs, Status.SUCCEEDED, 4, "0.20", REPORTED, total_seconds=4.0)
    entry(dave, theirs, b, fs, Status.FAILED, 0, error="Provider timed out")
    entry(dave, theirs, b, fs, Status.FAILED, 0, error=FORMULA)
    entry(bob, studio, b, fs, Status.CANCELLED, 0, "0.03")
    entry(alice, studio, b, fs, Status.SUCCEEDED, 1, "0.05", total_seconds=8.0)
    entry(alice, studio, today, fs, Status.RUNNING, 1, "0.05")
    entry(bob, studio, today, fs, Status.SUCCEEDED, 1, "0.05", total_seconds=16.0)
    return {"studio": studio, "theirs": theirs}


def scope(**filters) -> Scope:
    return Scope(TODAY - timedelta(days=29), TODAY, **filters)


def by_label(table: dict, index: int) -> dict:
    return {key[index]: figures for key, figures in table.items()}


# --- Sums on a known ledger -------------------------------------------------------------------


def test_percentiles_are_nearest_rank_upper_bucket_edges():
    times = [float(s) for s in range(1, 101)]  # 1 s .. 100 s
    histogram: dict[int, int] = {}
    for seconds in times:
        histogram[bucket(seconds)] = histogram.get(bucket(seconds), 0) + 1
    # Nearest rank: p50 is the 50th smallest (50 s), p95 the 95th (95 s); each is reported as
    # the upper edge of its bucket, 0.1 s * 2^(k/4).
    assert percentile(histogram, 0.50) == pytest.approx(51.2)  # 0.1 * 2^(36/4)
    assert percentile(histogram, 0.95) == pytest.approx(102.4)  # 0.1 * 2^(40/4)
    for p, true in ((0.50, 50), (0.95, 95)):
        assert true <= percentile(histogram, p) < true * 2 ** (1 / 4)
    assert percentile({}, 0.5) is None
    assert percentile({len(EDGES): 3}, 0.5) == EDGES[-1]  # beyond the last edge


def test_totals_groups_and_percentiles_of_a_known_ledger(ledger, alice, bob, dave):
    source = Source(scope())
    totals = Figures()
    for figures in source.table("day").values():
        totals.add(figures)
    assert (totals.generations, totals.succeeded, totals.failed) == (10, 5, 3)
    assert (totals.cancelled, totals.in_flight, totals.images) == (1, 1, 10)
    assert totals.cost_usd == Decimal("0.53")
    assert (totals.reported_usd, totals.estimated_usd) == (Decimal("0.30"), Decimal("0.23"))
    assert totals.failure_rate == 3 / 8  # cancelled ones are not failures

    days = by_label(source.table("day"), 0)
    assert [days[d].generations for d in (A, B, TODAY)] == [4, 4, 2]
    assert [days[d].cost_usd for d in (A, B, TODAY)] == [Decimal(x) for x in (".35", ".08", ".1")]

    users = by_label(source.table("user"), 1)
    assert {name: f.generations for name, f in users.items()} == {"alice": 4, "bob": 3, "dave": 3}
    assert users["alice"].images == 5 and users["alice"].cost_usd == Decimal("0.25")
    assert users["dave"].failure_rate == 2 / 3
    teams = by_label(source.table("team"), 1)
    assert teams["Studio"].generations == 7 and teams["Dave's team"].images == 4
    providers = by_label(source.table("provider"), 0)
    assert providers["aimlapi"].generations == 9 and providers["sandbox"].cost_usd == Decimal(".1")

    schnell = by_label(source.table("model"), 1)["flux/schnell"]
    # Succeeded flux/schnell times: 2, 4, 8, 16 s (the failure's 30 s does not count).
    assert sum(schnell.latency.values()) == 4
    assert schnell.p50 == EDGES[bucket(4.0)] == pytest.approx(4.5255, abs=1e-4)
    assert schnell.p95 == EDGES[bucket(16.0)] == pytest.approx(18.1019, abs=1e-4)
    assert schnell.mean_seconds == 7.5

    assert source.reasons() == {"Provider timed out": 2, FORMULA: 1}


def test_rolled_up_days_add_up_to_the_same_as_the_ledger(ledger, alice, dave):
    scopes = [scope(), scope(team_id=ledger["studio"].pk), scope(user_id=dave.pk)]
    scopes += [scope(model_id="flux/schnell"), scope(user_id=alice.pk, model_id="flux/schnell")]
    tables = ("day", "user", "team", "provider", "model")

    def read(s):
        source = Source(s)
        return {name: source.table(name) for name in tables}, source.reasons()

    raw = [read(s) for s in scopes]
    UsageDay.objects.rebuild(A)
    UsageDay.objects.rebuild(B)
    UsageDay.objects.rebuild(B)  # again: rebuilt, not doubled
    assert set(UsageRollup.objects.values_list("day", flat=True)) == {A, B}
    assert UsageDay.objects.filter(day=B, grain="reason").count() == 2
    assert [read(s) for s in scopes] == raw
    assert not Source(scope()).ledger.filter(created_at__date=A).exists()  # A is read rolled up


def test_a_day_settled_after_its_roll_up_is_caught_by_the_next_one(ledger, alice, studio):
    late = entry(alice, studio, B, "flux/schnell", Status.RUNNING, 1, "0.05")
    UsageDay.objects.rebuild(B)
    assert by_label(Source(scope()).table("day"), 0)[B].in_flight == 1
    Usage.objects.filter(pk=late.pk).update(outcome=Status.FAILED, error="Lost", images=0)
    call_command("rollup_usage", days=2, stdout=io.StringIO())
    day = by_label(Source(scope()).table("day"), 0)[B]
    assert (day.in_flight, day.failed, day.generations) == (0, 3, 5)
    tasks.rollup_usage(days=3)  # the beat task does the same
    assert UsageRollup.objects.count() == 3


def test_filters_narrow_every_figure(ledger, staff_client, dave):
    studio = ledger["studio"]
    response = staff_client.get("/staff/usage/", {"team": studio.pk})
    assert response.context["totals"].generations == 7
    response = staff_client.get("/staff/usage/", {"user": dave.pk, "model": "flux/schnell"})
    assert response.context["totals"].generations == 3
    assert response.context["reasons"] == [(FORMULA, 1), ("Provider timed out", 1)]
    response = staff_client.get("/staff/usage/", {"first": B.isoformat(), "last": B.isoformat()})
    assert response.context["totals"].generations == 4
    assert [row["label"] for row in response.context["tables"]["day"]] == [B.isoformat()]


def test_the_page_shows_figures_charts_and_tables(ledger, staff_client):
    response = staff_client.get("/staff/usage/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "37.5 %" in html  # the failure rate
    assert "57 % reported" in html and "43 % estimated" in html
    assert html.count("<svg") == 4 and html.count('class="bar generations"') == 30
    assert '<th scope="row">Dave&#x27;s team</th>' in html
    assert "=cmd|&#x27; /C calc&#x27;!A0" in html  # escaped like any text
    assert "style=" not in html  # the CSP allows no inline style


def test_htmx_gets_only_the_results(ledger, staff_client, studio):
    response = staff_client.get(
        "/staff/usage/", {"team": studio.pk}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html and 'class="usage-totals"' in html
    assert f"export/user?team={studio.pk}" in html  # exports keep the filters


def test_a_bad_range_is_explained_and_the_default_shown(ledger, staff_client):
    response = staff_client.get("/staff/usage/", {"first": TODAY, "last": A})
    assert response.status_code == 200
    assert "The start of the range is after its end." in response.content.decode()
    assert response.context["totals"].generations == 10


def test_the_near_a_limit_panel_lists_who_is_close(ledger, staff_client, alice, studio):
    Budget.objects.create(user=alice, images_per_day=1)  # alice has 1 image in flight today
    Budget.objects.create(team=studio, usd_per_month=Decimal("100"))  # far from it
    response = staff_client.get("/staff/usage/")
    assert [(s.scope, s.name) for s in response.context["standing"]] == [("user", "alice")]
    assert "1 of 1 images today" in response.content.decode()


# The 18th: days A and B (the 16th and 17th) are in the same month, whatever day it is now.
@pytest.mark.parametrize("today", [date(2026, 3, 18)])
def test_near_a_limit_reads_roll_ups_to_the_same_effect(frozen_today, ledger, studio, dave):
    Budget.objects.create(team=studio, usd_per_month=Decimal("0.30"))
    Budget.objects.create(user=dave, usd_per_month=Decimal("0.20"))
    from_ledger = [(s.name, s.limit.used) for s in standing()]
    UsageDay.objects.rebuild(frozen_today - timedelta(days=2))
    UsageDay.objects.rebuild(frozen_today - timedelta(days=1))
    assert [(s.name, s.limit.used) for s in standing(used_by=used_by)] == (from_ledger)
    assert [name for name, _ in from_ledger] == ["Studio", "dave"]


# --- CSV ----------------------------------------------------------------------------------------


def rows_of(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_exports_carry_the_figures_and_the_filters(ledger, staff_client, studio):
    rows = rows_of(staff_client.get("/staff/usage/export/user"))
    assert rows[0][:8] == [
        "user", "generations", "succeeded", "failed", "cancelled", "in_flight", "images",
        "spend_usd",
    ]  # fmt: skip
    assert rows[1][:8] == ["alice", "4", "3", "0", "0", "1", "5", "0.250000"]
    rows = rows_of(staff_client.get("/staff/usage/export/model", {"team": studio.pk}))
    assert rows[0][-2:] == ["p50_seconds_at_most", "p95_seconds_at_most"]
    assert len(rows) == 3 and rows[1][0].endswith("(flux/schnell)")
    rows = rows_of(staff_client.get("/staff/usage/export/day"))
    assert len(rows) == 31  # a header and every day of the range, empty days too


def test_csv_makes_formulas_inert(ledger, staff_client, studio, alice):
    rows = rows_of(staff_client.get("/staff/usage/export/reasons"))
    assert rows == [["reason", "failures"], ["Provider timed out", "2"], ["'" + FORMULA, "1"]]
    studio.name = "@SUM(A1)"
    entry(alice, studio, TODAY, "flux/schnell", Status.SUCCEEDED)
    teams = [r[0] for r in rows_of(staff_client.get("/staff/usage/export/team"))]
    assert "'@SUM(A1)" in teams
    assert spreadsheet.csv_text(["a"], [["-1+2", 5, None, 'say "hi", go']]) == (
        'a\r\n\'-1+2,5,,"say ""hi"", go"\r\n'
    )


def test_staff_without_the_ledger_permission_are_refused(client, bob):
    bob.is_staff = True
    bob.save()
    client.force_login(bob)
    assert client.get("/staff/usage/").status_code == 403
    assert client.get("/staff/usage/export/user").status_code == 403
    assert "/staff/usage/" not in client.get("/").content.decode()  # no link to it either


def test_an_unknown_table_is_not_found(staff_client):
    assert staff_client.get("/staff/usage/export/secrets").status_code == 404


# --- Staff only -----------------------------------------------------------------------------


URLS = ["/staff/usage/", *(f"/staff/usage/export/{t}" for t in ("day", "user", "team"))]
URLS += [f"/staff/usage/export/{t}" for t in ("token", "provider", "model", "reasons", "limits")]


@pytest.mark.parametrize("url", URLS)
def test_every_dashboard_url_is_for_staff_only(url, client, alice, staff):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(alice)
    assert client.get(url).status_code == 403
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 403
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_the_nav_links_the_dashboard_for_staff_only(client, alice, staff):
    client.force_login(alice)
    assert "/staff/usage/" not in client.get("/").content.decode()
    client.force_login(staff)
    assert "/staff/usage/" in client.get("/").content.decode()


# --- A real generation ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_generation_made_through_the_view_shows_once_settled(
    live_server, settings, client, monkeypatch
):
    """The view opens the ledger row, the pipeline (the sandbox, over HTTP) settles it."""
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    settings.SANDBOX_LATENCY = 0
    settings.SANDBOX_ENABLED = True
    submitted: list[int] = []
    monkeypatch.setattr(tasks.submit, "delay", submitted.append)
    alice, staff = make_user("alice"), make_user("sam")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_usage"))
    client.force_login(alice)
    form = {"model": "sandbox/flux-sync", "prompt": "a fox", "p_image_size": "square"}
    form |= {"p_num_images": "2", "p_output_format": "png"}
    assert client.post("/generate", form).status_code in (200, 302)
    (pk,) = submitted
    entry = Usage.objects.get(generation_id=pk)
    assert (entry.outcome, entry.images, entry.user_name) == (Status.QUEUED, 2, "alice")

    step: str | None = "submit"
    while step:  # what the worker does, one step after the other
        next_step = getattr(pipeline, step)(Generation.objects.get(pk=pk))
        step = next_step.step if next_step else None
    entry.refresh_from_db()
    assert (entry.outcome, entry.images) == (Status.SUCCEEDED, 2)
    assert entry.total_seconds is not None and entry.cost_source == Usage.Source.FREE

    client.force_login(staff)
    response = client.get("/staff/usage/", {"model": "sandbox/flux-sync"})
    totals = response.context["totals"]
    assert (totals.generations, totals.succeeded, totals.images) == (1, 1, 2)
    model = response.context["tables"]["model"][0]["figures"]
    assert model.p50 is not None and model.p50 >= entry.total_seconds


# --- Spend by API token ---------------------------------------------------------------------


def test_spend_is_broken_down_by_api_token_on_the_page_and_in_the_csv(
    ledger, staff_client, studio, alice, bob
):
    pipeline_token, _ = ApiToken.issue(alice, studio, "nightly pipeline")
    gone, _ = ApiToken.issue(bob, studio, "old script")
    for cost in ("0.40", "0.60"):
        entry(alice, studio, A, "flux/schnell", Status.SUCCEEDED, 2, cost, api_token=pipeline_token,
              api_token_name=pipeline_token.name)  # fmt: skip
    entry(
        bob, studio, B, "flux/schnell", Status.FAILED, 0, api_token=gone, api_token_name=gone.name
    )
    gone.delete()  # the ledger keeps its name
    UsageDay.objects.rebuild(A)  # a rolled-up day still counts under its token

    response = staff_client.get("/staff/usage/")
    rows = {row["label"]: row["figures"] for row in response.context["tables"]["token"]}
    mine = rows["nightly pipeline · alice in Studio"]
    assert (mine.generations, mine.images, mine.cost_usd) == (2, 4, Decimal("1.00"))
    assert rows["old script (deleted) · bob in Studio"].failed == 1
    assert rows["From the pages (no API token)"].generations == 10
    assert "By API token" in response.content.decode()

    csv_rows = rows_of(staff_client.get("/staff/usage/export/token", {"user": alice.pk}))
    assert csv_rows[0][:8] == [
        "token", "generations", "succeeded", "failed", "cancelled", "in_flight", "images",
        "spend_usd",
    ]  # fmt: skip
    by_token = {row[0]: row[1:8] for row in csv_rows[1:]}
    assert by_token == {
        "nightly pipeline · alice in Studio": ["2", "2", "0", "0", "0", "4", "1.000000"],
        "From the pages (no API token)": ["4", "3", "0", "0", "1", "5", "0.250000"],
    }
