import pytest

from gallery.models import Preset, Style


@pytest.fixture
def portrait(studio, alice):
    """A preset of the Studio's: the OpenAI-style sandbox model at 512x512, two images."""
    return Preset.objects.create(
        team=studio, name="Watercolor portrait", model_id="sandbox/openai-sync",
        prompt="a watercolor portrait of {subject}, soft light",
        params={"size": "512x512", "n": 2}, created_by=alice,
    )  # fmt: skip


@pytest.fixture
def film(studio, alice):
    return Style.objects.create(
        team=studio, name="Film", suffix="35mm film, grain", negative="blurry", created_by=alice
    )
