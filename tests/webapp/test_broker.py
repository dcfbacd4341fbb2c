"""The embedded broker (webapp/broker.py) and how the worker keeps its database connections."""

import os
from types import SimpleNamespace

import pytest
from kombu import Connection

from webapp import broker


@pytest.fixture
def channel(tmp_path):
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }
    with Connection("atomicfs://", transport_options=options) as conn:
        channel = conn.default_channel
        assert isinstance(channel, broker.Channel)
        yield channel


def test_messages_come_out_in_order_and_leave_the_folder(channel):
    for n in range(3):
        channel._put("provider", {"n": n})
    channel._put("images", {"n": "image"})
    assert [channel._get("provider")["n"] for _ in range(3)] == [0, 1, 2]
    assert channel._get("images") == {"n": "image"}
    with pytest.raises(broker.Empty):
        channel._get("provider")
    assert os.listdir(channel.data_folder_in) == []


def test_one_look_serves_many_messages_and_every_queue(channel, monkeypatch):
    for n in range(5):
        channel._put("provider", {"n": n})
    looks = []
    look = channel._look
    monkeypatch.setattr(channel, "_look", lambda: looks.append(1) or look())
    assert [channel._get("provider")["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(broker.Empty):
        channel._get("images")  # answered from the same look, just made
    assert len(looks) == 1


def test_an_empty_queue_is_looked_at_again_later(channel, monkeypatch):
    with pytest.raises(broker.Empty):
        channel._get("provider")
    channel._put("provider", {"n": 1})
    monkeypatch.setattr(channel, "list_again", 0.0)
    assert channel._get("provider") == {"n": 1}


def test_a_message_another_consumer_took_is_skipped(channel):
    channel._put("provider", {"n": 1})
    channel._put("provider", {"n": 2})
    channel._look()
    first = sorted(os.listdir(channel.data_folder_in))[0]
    os.remove(os.path.join(channel.data_folder_in, first))  # taken by someone else meanwhile
    assert channel._get("provider") == {"n": 2}


def test_partial_and_taken_files_are_not_messages(channel):
    folder = channel.data_folder_in
    for name in ("1_a.provider.msg.part", "2_b.provider.msg.taken"):
        with open(os.path.join(folder, name), "w") as f:
            f.write("{")
    with pytest.raises(broker.Empty):
        channel._get("provider")


def test_the_worker_keeps_a_usable_connection_between_tasks(db, monkeypatch):
    from webapp import celery

    closed = []
    monkeypatch.setattr("webapp.celery.close_old_connections", lambda: closed.append(1))
    celery.keep_usable_connections(task=SimpleNamespace(request=SimpleNamespace(is_eager=False)))
    assert closed == [1]  # old or broken ones only: Django's own rule (CONN_MAX_AGE)
    celery.keep_usable_connections(task=SimpleNamespace(request=SimpleNamespace(is_eager=True)))
    assert closed == [1]  # an eager task runs inside its caller's connection and transaction


def test_celerys_django_fixup_does_not_close_connections_around_each_task():
    from django.conf import settings

    assert settings.CELERY_DB_REUSE_MAX >= 1000


def test_an_empty_queue_is_not_listed_per_message_while_another_has_work(channel, monkeypatch):
    for n in range(4):
        channel._put("provider", {"n": n})
    monkeypatch.setattr(channel, "list_again", 0.0)
    monkeypatch.setattr(channel.connection, "polling_interval", 60.0)
    looks = []
    look = channel._look
    monkeypatch.setattr(channel, "_look", lambda: looks.append(1) or look())
    taken = []
    for _ in range(3):
        taken.append(channel._get("provider")["n"])
        with pytest.raises(broker.Empty):
            channel._get("images")
    assert taken == [0, 1, 2] and len(looks) == 1
    assert channel._get("provider")["n"] == 3
    channel._put("images", {"n": "image"})
    assert channel._get("images") == {"n": "image"}  # all taken: it looks again
