"""OpenAI's "WxH" on every model of the catalog: the nearest value its own size parameter takes,
which the generate form then accepts."""

import pytest

from gallery.api import sizes
from gallery.api.auth import Caller
from gallery.api.generations import bound_form
from gallery.images.fields import field_name
from gallery.models import ApiToken, personal_team
from jobs import catalog

ASKED = ["256x256", "1024x1024", "1536x1024", "1024x1792", "4096x4096", "100x3000"]
SIZED = [m for m in catalog.offered() if sizes.takes_size(m)]


def test_most_models_take_a_size():
    assert len(SIZED) > 60


@pytest.fixture
def caller(alice, settings):
    for name in ("AIMLAPI_API_KEY", "RELAY_API_KEY"):
        setattr(settings, name, "key")
    settings.A1111_BASE_URL = "http://a1111.invalid"
    token, _ = ApiToken.issue(alice, personal_team(alice), "sizes")
    return Caller(token=token, user=alice, team=token.team, role="owner")


@pytest.mark.parametrize("model", SIZED, ids=lambda m: m.id)
def test_every_size_maps_to_a_value_the_form_accepts(model, caller, monkeypatch):
    monkeypatch.setattr("gallery.images.fields.dynamic_choices", lambda param: ["any"])
    for asked in ASKED:
        params = sizes.params_for(model, asked)
        assert params, (model.id, asked)
        form = bound_form(caller, model.id, "a cat", params)
        form.is_valid()
        touched = {field_name(model.param(name)) for name in params}
        wrong = {k: v for k, v in form.errors.items() if k.startswith(tuple(touched))}
        assert not wrong, (model.id, asked, params, wrong)


def model_with(*names):
    return next(m for m in SIZED if all(m.param(n) for n in names))


def test_it_picks_the_enum_value_of_the_same_shape():
    model = catalog.get("openai/gpt-image-1")
    assert model.param("size").enum[:3] == ("1024x1024", "1024x1536", "1536x1024")
    assert sizes.params_for(model, "1792x1024") == {"size": "1536x1024"}
    assert sizes.params_for(model, "512x768") == {"size": "1024x1536"}
    assert sizes.params_for(model, "256x256") == {"size": "1024x1024"}


def test_it_clamps_a_custom_size_to_the_limits_and_the_step():
    model = catalog.get("sandbox/flux-sync")
    assert sizes.params_for(model, "1000x333") == {"image_size": {"width": 992, "height": 320}}
    assert sizes.params_for(model, "9000x10") == {"image_size": {"width": 2048, "height": 64}}


def test_it_picks_the_nearest_aspect_ratio_and_resolution_tier():
    model = model_with("aspect_ratio", "resolution")
    mapped = sizes.params_for(model, "1920x1080")
    assert mapped["aspect_ratio"] == "16:9"
    assert mapped["resolution"].upper() in ("2K", "1K")


def test_it_refuses_a_size_that_is_not_width_x_height():
    with pytest.raises(sizes.SizeError, match="WIDTHxHEIGHT"):
        sizes.params_for(catalog.get("sandbox/flux-sync"), "big")


def test_a_model_without_a_size_says_so():
    model = next(m for m in catalog.offered() if not sizes.takes_size(m))
    with pytest.raises(sizes.SizeError, match="takes no size"):
        sizes.params_for(model, "1024x1024")
