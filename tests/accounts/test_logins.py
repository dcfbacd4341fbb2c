"""Login throttling (on /login/ and /admin/login/), and the generated admin password."""

import os
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from gallery.models import Membership
from tests.factories import client_at

User = get_user_model()
HERE, THERE = "203.0.113.5", "198.51.100.7"


def log_in(client: Client, username: str, password: str, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password})


@pytest.fixture
def strict(settings):
    settings.LOGIN_RATE = (3, 300)
    settings.LOGIN_ADDRESS_RATE = (5, 300)
    return settings


def test_failed_logins_are_limited_per_username_and_address(strict, alice):
    here = client_at(HERE)
    codes = [log_in(here, "alice", "wrong").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    refused = log_in(here, "alice", "password")  # refused before the password is checked
    assert refused.status_code == 429
    assert "Too many failed logins from here. Try again in" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 300


def test_look_alike_usernames_count_as_the_username_they_log_in_as(strict, alice):
    """Django logs "alice" in full-width letters in as alice, and counted the failure for
    "alice", but the check before the password looked up the counter of what was typed."""
    full_width = "\uff41\uff4c\uff49\uff43\uff45"
    here = client_at(HERE)
    for name in (full_width, "ALICE", " \uff41lice"):
        assert log_in(here, name, "wrong").status_code == 200
    assert log_in(here, full_width, "password").status_code == 429
    assert log_in(here, "alice", "password").status_code == 429


def test_someone_guessing_elsewhere_does_not_lock_the_owner_out(strict, alice):
    for _ in range(6):
        log_in(client_at(HERE), "alice", "wrong")
    assert log_in(client_at(HERE), "alice", "password").status_code == 429
    assert log_in(client_at(THERE), "alice", "password").status_code == 302


def test_successful_logins_never_count(strict, alice):
    here = client_at(HERE)
    for _ in range(6):
        assert log_in(here, "alice", "password").status_code == 302
        here.post("/logout/")


def test_a_successful_login_forgets_the_failures_before_it(strict, alice):
    here = client_at(HERE)
    for _ in range(2):
        log_in(here, "alice", "wrong")
    assert log_in(here, "alice", "password").status_code == 302
    here.post("/logout/")
    for _ in range(2):
        assert log_in(here, "alice", "wrong").status_code == 200
    assert log_in(here, "alice", "password").status_code == 302


def test_an_address_trying_many_usernames_is_held_by_its_own_higher_limit(strict, alice, bob):
    here = client_at(HERE)
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert log_in(here, name, "wrong").status_code == 200
    assert log_in(here, "bob", "password").status_code == 429
    assert log_in(client_at(THERE), "bob", "password").status_code == 302


def test_behind_a_proxy_each_client_has_its_own_counters(strict, alice):
    strict.PROXY_HOPS = 1
    proxy = "10.0.0.2"
    for _ in range(3):
        Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=HERE).post(
            "/login/", {"username": "alice", "password": "wrong"}
        )
    from_here = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{THERE}, {HERE}")
    assert log_in(from_here, "alice", "password").status_code == 429  # a made-up entry is ignored
    from_there = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=THERE)
    assert log_in(from_there, "alice", "password").status_code == 302


def test_without_a_proxy_a_forwarded_header_changes_nothing(strict, alice):
    for i in range(3):
        Client(REMOTE_ADDR=HERE, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").post(
            "/login/", {"username": "alice", "password": "wrong"}
        )
    dodging = Client(REMOTE_ADDR=HERE, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert log_in(dodging, "alice", "password").status_code == 429


def test_the_admin_login_is_throttled_as_login_is(strict, db):
    User.objects.create_superuser("root", "", "right-password")
    here = client_at(HERE)
    assert log_in(here, "root", "wrong", "/admin/login/").status_code == 200
    assert log_in(here, "root", "wrong", "/login/").status_code == 200  # the same counters
    assert log_in(here, "root", "wrong", "/admin/login/").status_code == 200
    refused = log_in(here, "root", "right-password", "/admin/login/")
    assert refused.status_code == 429
    assert "Too many failed logins from here. Try again in" in refused.content.decode()
    assert "Retry-After" in refused
    there = client_at(THERE)
    assert log_in(there, "root", "right-password", "/admin/login/").status_code == 302
    assert there.get("/admin/").status_code == 200


def test_a_generated_admin_password_is_printed_once_and_kept_until_the_first_login(
    settings, tmp_path, monkeypatch, capsys, alice
):
    settings.VAR_DIR = tmp_path
    settings.ADMIN_USERNAME = "admin"
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    password = (tmp_path / "admin_password").read_text().strip()
    assert f"password {password}" in capsys.readouterr().out
    assert stat.S_IMODE(os.stat(tmp_path / "admin_password").st_mode) == 0o600
    call_command("ensure_admin")  # a second run prints nothing secret
    assert password not in capsys.readouterr().out
    assert log_in(Client(), "alice", "password").status_code == 302
    assert (tmp_path / "admin_password").exists()  # someone else's login leaves it
    assert log_in(Client(), "admin", "wrong").status_code == 200
    assert (tmp_path / "admin_password").exists()
    assert log_in(Client(), "admin", password, "/admin/login/").status_code == 302
    assert not (tmp_path / "admin_password").exists()
    assert Membership.objects.filter(user__username="admin").exists()
