import os

import pytest
from django.contrib.auth import get_user_model

# Playwright's sync API runs an event loop in the test thread; Django's ORM is still used
# synchronously from there, which is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    """Every test writes its files under a fresh temporary media root."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    return settings.MEDIA_ROOT


def make_user(username: str):
    return get_user_model().objects.create_user(username, f"{username}@example.com", "password")


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def dave(db):
    """A stranger: sees nothing of alice's."""
    return make_user("dave")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client
