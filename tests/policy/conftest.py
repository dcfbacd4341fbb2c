import pytest

from gallery.models import ClosedModel, Price, RoleModels, TeamModelList

FLUX = "sandbox/flux-sync"
OPENAI = "sandbox/openai-sync"
RELAY = "sandbox/relay-async"


@pytest.fixture(autouse=True)
def quiet_submit(monkeypatch):
    """Generations are made but never sent: these tests are about whether they are made."""
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)


@pytest.fixture
def editors_only_flux(studio):
    return RoleModels.objects.create(
        team=studio, role="editor", scope=RoleModels.Scope.SOME, model_ids=[FLUX]
    )


@pytest.fixture
def studio_list(studio):
    return TeamModelList.objects.create(team=studio, model_ids=[FLUX, OPENAI])


@pytest.fixture
def relay_closed(db):
    return ClosedModel.objects.create(model_id=RELAY, reason="being replaced")


@pytest.fixture
def openai_priced(db):
    """sandbox/openai-sync priced by size: 8 cents an image at its default 1024x1024."""
    return Price.objects.create(
        model_id=OPENAI,
        usd_per_image="0.08",
        by_param={"size": {"256x256": "0.01", "1024x1024": "0.08"}},
    )
