"""The team's Models page: owners narrow what editors and viewers may use."""

from gallery.models import RoleModels, TeamModelList
from tests.factories import logged_in
from tests.policy.conftest import FLUX, OPENAI, RELAY


def save(client, team, **data):
    form = {"editor-scope": "all", "viewer-scope": "all", **data}
    return client.post(f"/teams/{team.uuid}/models", form)


def test_an_owner_limits_editors_to_some_models_and_a_price(client, studio, alice):
    response = save(
        logged_in(client, alice, studio), studio,
        **{"editor-scope": "some", "editor-model_ids": [FLUX, OPENAI],
           "editor-max_usd_per_image": "0.05", "viewer-scope": "none"},
    )  # fmt: skip
    assert response.status_code == 302
    editors = RoleModels.objects.get(team=studio, role="editor")
    assert (editors.scope, editors.model_ids) == ("some", [FLUX, OPENAI])
    assert str(editors.max_usd_per_image) == "0.0500"
    assert RoleModels.objects.get(team=studio, role="viewer").scope == "none"


def test_only_ticked_needs_a_model_ticked(client, studio, alice):
    response = save(logged_in(client, alice, studio), studio, **{"editor-scope": "some"})
    assert response.status_code == 400
    assert "Tick at least one model" in response.content.decode()
    assert not RoleModels.objects.exists()


def test_an_owner_can_leave_a_role_only_what_the_team_may_use(client, studio, alice):
    TeamModelList.objects.create(team=studio, model_ids=[FLUX])
    logged_in(client, alice, studio)
    page = client.get(f"/teams/{studio.uuid}/models").content.decode()
    assert f'value="{FLUX}"' in page and f'value="{RELAY}"' not in page
    response = save(client, studio, **{"editor-scope": "some", "editor-model_ids": [RELAY]})
    assert response.status_code == 400
    assert not RoleModels.objects.exists()


def test_editors_and_viewers_cannot_change_it(client, studio, bob, carol, dave):
    for person in (bob, carol):
        assert (
            save(logged_in(client, person, studio), studio, **{"editor-scope": "all"}).status_code
            == 403
        )
    assert save(logged_in(client, dave), studio).status_code == 404
    assert not RoleModels.objects.exists()
