import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from gallery.webhooks import endpoints
from tests.factories import Receiver, make_user
from tests.storage_server import Bucket, s3_server_fixture  # noqa: F401 - the s3_server fixture

# Playwright's sync API runs an event loop in the test thread; Django's ORM is still used
# synchronously from there, which is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    """Every test writes its files under a fresh temporary media root."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    return settings.MEDIA_ROOT


@pytest.fixture
def s3_storage(settings, media_root, s3_server) -> Iterator[Bucket]:
    """Media in a fresh bucket on the test S3 server; and, when the test ends, none on disk."""
    bucket = s3_server.new_bucket()
    bucket.use(settings)
    yield bucket
    written = [str(path) for path in Path(media_root).rglob("*")]
    assert not written, f"written under MEDIA_ROOT with S3 on: {written}"


@pytest.fixture(autouse=True)
def sandbox_on(settings):
    """The suite uses the sandbox as its stand-in provider, with its failure markers working.

    A site has it off by default; the "as started" tests (tests/e2e/test_started.py) check
    that. The e2e workers get the same two settings in their environment (tests/e2e/conftest.py).
    """
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_FAULTS = True


@pytest.fixture(autouse=True)
def forget_expected_durations():
    """Durations learned from one test's rows are not carried into the next."""
    from jobs import timing

    timing.forget()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def dave(db):
    """A stranger in another team: sees nothing of the studio's."""
    return make_user("dave")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def carol(db):
    return make_user("carol")


@pytest.fixture
def studio(alice, bob, carol, dave):
    """Alice owns the Studio team, bob edits, carol views; dave has a team of his own."""
    from gallery.models import Gallery, Membership, Team

    team = Team.objects.create(name="Studio")
    Membership.objects.create(team=team, user=alice, role="owner")
    Membership.objects.create(team=team, user=bob, role="editor")
    Membership.objects.create(team=team, user=carol, role="viewer")
    Gallery.objects.create(team=team, name="Main", created_by=alice)
    other = Team.objects.create(name="Dave's team")
    Membership.objects.create(team=other, user=dave, role="owner")
    Gallery.objects.create(team=other, name="Main", created_by=dave)
    return team


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters must not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def queries_anywhere() -> Iterator[list[str]]:
    """Every SQL statement run by any thread of this process while the test runs, a live
    server's request threads included (each opens its own connection): a list of their texts."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    def wrap(sender, connection, **kwargs) -> None:
        if record not in connection.execute_wrappers:
            connection.execute_wrappers.append(record)

    existing = list(connections.all())
    for connection in existing:
        wrap(None, connection)
    connection_created.connect(wrap)
    yield seen
    connection_created.disconnect(wrap)
    for connection in existing:
        connection.execute_wrappers.remove(record)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def pytest_collection_modifyitems(config, items):
    """End-to-end tests last: their worker lives for the rest of the session once started."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


NODE_TOOLS = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """The test-only Node.js tools (axe-core, oidc-provider), installed once with `npm ci`.

    Returns their node_modules folder. The lock file pins every version and checksum.
    """
    modules = NODE_TOOLS / "node_modules"
    lock = NODE_TOOLS / "package-lock.json"
    stamp = modules / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_TOOLS,
            check=True,
            timeout=600,
        )
    return modules


@pytest.fixture
def receiver(settings):
    """A receiver on loopback, which WEBHOOK_ALLOWED_HOSTS lets through the SSRF guard."""
    with Receiver() as found:
        settings.WEBHOOK_ALLOWED_HOSTS = [f"http://127.0.0.1:{found.server.server_port}"]
        yield found


@pytest.fixture
def hook(studio, alice, receiver):
    """The studio's endpoint to the receiver, for every event; the receiver knows its secret."""
    events = ["generation.succeeded", "generation.failed", "budget.near_limit", "budget.exceeded"]
    endpoint, secret = endpoints.add(studio, alice, url=receiver.url, events=events)
    receiver.secrets.append(secret)
    return endpoint
