"""The three layers, read for one person in one team: site, team list, role (and its price)."""

from decimal import Decimal

from gallery.models import Price, RoleModels
from gallery.policy import models as rules
from jobs import catalog
from tests.policy.conftest import FLUX, OPENAI, RELAY


def test_everything_offered_is_usable_without_rules(studio, bob):
    assert rules.models_unavailable(bob, studio) == {}


def test_a_model_closed_site_wide_is_unavailable_to_everyone_with_the_reason(
    studio, alice, dave, relay_closed
):
    for person, team in ((alice, studio), (dave, None)):
        assert (
            rules.models_unavailable(person, team)[RELAY]
            == "turned off on this site: being replaced"
        )


def test_a_team_list_leaves_out_the_rest(studio, alice, dave, studio_list):
    assert rules.models_unavailable(alice, studio)[RELAY] == "not on this team's list"
    assert FLUX not in rules.models_unavailable(alice, studio)
    dave_team = dave.memberships.get(team__name="Dave's team").team
    assert RELAY not in rules.models_unavailable(dave, dave_team)


def test_a_role_is_narrowed_but_owners_are_not(studio, alice, bob, editors_only_flux):
    assert rules.models_unavailable(bob, studio)[OPENAI] == "not for editors in this team"
    assert FLUX not in rules.models_unavailable(bob, studio)
    assert rules.models_unavailable(alice, studio) == {}


def test_nothing_for_viewers(studio, carol):
    RoleModels.objects.create(team=studio, role="viewer", scope=RoleModels.Scope.NONE)
    assert set(rules.models_unavailable(carol, studio)) == {m.id for m in catalog.offered()}


def test_a_price_ceiling_counts_the_request_options(studio, bob, openai_priced):
    RoleModels.objects.create(team=studio, role="editor", max_usd_per_image=Decimal("0.05"))
    refused = rules.model_refusal(bob, studio, OPENAI, {"size": "1024x1024"})
    assert refused is not None
    assert refused.endswith(
        "costs about $0.08 an image; editors here may use models up to $0.05 an image."
    )
    assert rules.model_refusal(bob, studio, OPENAI, {"size": "256x256"}) is None
    # The picker counts each model at its defaults; free models pass.
    assert "about $0.08" in rules.models_unavailable(bob, studio)[OPENAI]
    assert FLUX not in rules.models_unavailable(bob, studio)


def test_an_unpriced_model_is_refused_under_a_ceiling(studio, bob):
    Price.objects.all().delete()
    RoleModels.objects.create(team=studio, role="editor", max_usd_per_image=Decimal("0.05"))
    unavailable = rules.models_unavailable(bob, studio)
    assert unavailable["alibaba/qwen-image"] == (
        "no price is known for it; editors here may use models up to $0.05 an image"
    )
    assert FLUX not in unavailable  # the sandbox is free


def test_strangers_to_the_team_may_use_nothing_in_it(studio, dave):
    assert rules.model_refusal(dave, studio, FLUX, {}) == (
        f"{catalog.get(FLUX).name} is only for members of the team."
    )
