"""The site-wide monthly dollar cap, checked with the other budgets under one lock."""

from datetime import timedelta
from decimal import Decimal

import pytest

from gallery.models import Generation, OverBudget, Price, SiteSettings, Usage, personal_team
from gallery.usage.limits import month_start
from gallery.usage.prices import family
from jobs import catalog
from jobs.start import start_generation
from tests.usage.conftest import postgresql_only, race_two

D = Decimal


def start(user, **params):
    team = personal_team(user)
    return start_generation(
        owner=user,
        team=team,
        gallery=team.default_gallery(),
        model_id="sandbox/flux-sync",
        provider="sandbox",
        prompt="a red fox",
        params=params or {"num_images": 1},
    )


@pytest.fixture
def priced(db):
    Price.objects.create(model_id="sandbox/flux-sync", usd_per_image=D("0.40"))


def cap(usd: str | None) -> None:
    SiteSettings.objects.update_or_create(pk=1, defaults={"site_usd_per_month": usd})


def test_everyones_spending_together_is_held_to_the_site_cap(priced, alice, bob):
    cap("1.00")
    start(alice, num_images=2)
    with pytest.raises(OverBudget) as refused:
        start(bob, num_images=1)  # bob has no budget of his own; the site's binds him
    assert str(refused.value) == (
        "Everyone on this site together has spent $0.80 of $1.00 allowed this month, and this "
        "would cost about $0.40 more. An admin sets this limit under Site settings."
    )
    assert Generation.objects.count() == 1 and Usage.objects.count() == 1


def test_last_months_spending_and_an_empty_cap_do_not_count(priced, alice, bob):
    cap("1.00")
    first = start(alice, num_images=2)
    Usage.objects.filter(generation=first).update(created_at=month_start() - timedelta(minutes=1))
    start(bob, num_images=2)
    cap(None)
    start(bob, num_images=2)


def test_an_unpriced_model_is_refused_under_the_site_cap(alice):
    # Unpriced, and so is every model of its family (else it counts at their highest price).
    Price.objects.filter(model_id__in=family(catalog.MODELS["flux/schnell"])).delete()
    cap("100")
    with pytest.raises(OverBudget, match="no price yet"):
        start_generation(
            owner=alice,
            team=personal_team(alice),
            model_id="flux/schnell",
            provider="aimlapi",
            prompt="x",
            params={},
        )


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_people_racing_at_the_site_cap_one_passes_one_is_refused(priced, alice, bob):
    """Different people in different teams take different person and team locks; only the site
    row's lock makes the second wait for the first and count it."""
    cap("0.40")
    outcomes, second_waited = race_two(lambda: start(alice), lambda: start(bob))
    assert outcomes == {"first": "passed", "second": "refused"}
    assert second_waited
    assert Usage.objects.count() == 1
