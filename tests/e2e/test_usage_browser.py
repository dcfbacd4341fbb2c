"""In real Chromium: limits shown and kept on the generate form; the staff usage dashboard."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from gallery.models import Budget, Team, Usage
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_form_counts_down_to_the_limit_and_then_says_no(e2e, live_server, alice, page):
    Budget.objects.create(user=alice, images_per_day=2)
    log_in(page, live_server, "alice")
    limits = page.get_by_label("Your limits")
    expect(limits).to_have_text("You: 0 of 2 images today")
    page.get_by_label("Model", exact=True).select_option("sandbox/flux-sync")
    page.get_by_label("Prompt").fill("a paper crane")
    page.get_by_role("button", name="Generate").click()
    expect(limits).to_have_text("You: 1 of 2 images today")  # updated with the new card
    page.get_by_label("Number of images").fill("2")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "You have made 1 of 2 images allowed today, and this would make 2 more (1 left)."
    )
    expect(page.get_by_label("Prompt")).to_have_value("a paper crane")  # nothing typed is lost
    assert Usage.objects.filter(user=alice).count() == 1


def test_staff_filter_the_dashboard_in_place_and_export_it(e2e, live_server, alice, studio, page):
    alice.is_staff = True
    alice.save()
    alice.user_permissions.add(Permission.objects.get(codename="view_usage"))
    other = Team.objects.get(name="Dave's team")
    for team, images, cost in ((studio, 3, "0.30"), (studio, 1, "0.10"), (other, 5, "0.50")):
        Usage.objects.create(
            user=alice, team=team, user_name="alice", team_name=team.name, provider="aimlapi",
            model_id="flux/schnell", images=images, outcome="succeeded", total_seconds=4.0,
            cost_usd=Decimal(cost), cost_source="reported",
        )  # fmt: skip
    log_in(page, live_server, "alice")
    page.get_by_role("link", name="Usage").click()
    totals = page.locator(".usage-totals")
    figures = totals.locator(".figure")
    expect(figures.nth(1)).to_have_text("9")  # images in all
    expect(figures.nth(2)).to_have_text("$0.90")
    page.evaluate("window.notReloaded = true")
    page.locator("#id_team").select_option(label="Studio")
    page.get_by_role("button", name="Show").click()
    expect(figures.nth(2)).to_have_text("$0.40")
    assert f"team={studio.pk}" in page.url  # the filter is in the address, to share or reload
    assert page.evaluate("window.notReloaded") is True
    with page.expect_download() as download:
        page.get_by_role("link", name="csv").first.click()
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("day,")
    assert ",4," in text  # Studio's 4 images on today's row, the filter carried into the export
