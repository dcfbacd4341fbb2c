import pytest

from gallery.models import Generation
from tests.factories import make_generation, make_image, make_share_link


@pytest.fixture
def main(studio):
    return studio.galleries.get(name="Main")


@pytest.fixture
def images(studio, main, alice):
    """Three images in the studio's Main gallery, oldest first."""
    made = []
    for prompt in ("a secret fox", "a secret owl", "a secret hare"):
        generation = make_generation(
            alice, team=studio, gallery=main, prompt=prompt, status=Generation.Status.SUCCEEDED
        )
        made.append(make_image(generation))
    return made


@pytest.fixture
def link(main, alice, images):
    """alice shares the Main gallery; downloads and prompts off, as the form starts."""
    return make_share_link(alice, gallery=main)
