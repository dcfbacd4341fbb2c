"""Hosts that share nothing: the keys every process must agree on come from the environment when
the site runs on a real database, and beat's schedule file is the host's own."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://atelier@db.invalid:5432/atelier"  # settings only: never connected to
SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'beat': s.CELERY_BEAT_SCHEDULE_FILENAME, 'key': s.SECRET_KEY}))"
)


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Load the settings and set Django up in a fresh process with only these variables."""
    base = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "webapp.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def started(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_a_site_on_postgresql_refuses_to_start_without_a_shared_key(tmp_path, missing):
    keys = {"SECRET_KEY": "k" * 50, "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    keys[missing] = ""
    result = start(tmp_path, DATABASE_URL=POSTGRES, **keys)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert (
        f"{missing} must be set in the environment when DEBUG is off and the database is not "
        "SQLite" in result.stderr
    )
    # Nothing was made up and kept on this host's disk instead.
    assert not (tmp_path / "var" / "secret_key").exists()


def test_a_field_encryption_key_that_is_not_a_fernet_key_is_refused(tmp_path):
    result = start(
        tmp_path, DATABASE_URL=POSTGRES, SECRET_KEY="k" * 50, FIELD_ENCRYPTION_KEY="hunter2"
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must be Fernet keys separated by commas" in result.stderr
    assert "hunter2" not in result.stderr


def test_with_both_keys_it_starts_and_writes_no_key_file(tmp_path):
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    shown = started(
        start(tmp_path, DATABASE_URL=POSTGRES, SECRET_KEY="s" * 50, FIELD_ENCRYPTION_KEY=keys)
    )
    assert shown["key"] == "s" * 50
    assert not (tmp_path / "var" / "secret_key").exists()


def test_debug_on_postgresql_still_starts_without_them(tmp_path):
    started(start(tmp_path, DATABASE_URL=POSTGRES, DEBUG="1"))


def test_the_embedded_default_keeps_its_key_in_var(tmp_path):
    """SQLite, nothing set: one machine, the key made once and kept under VAR_DIR."""
    first = started(start(tmp_path))
    assert (tmp_path / "var" / "secret_key").read_text().strip() == first["key"]
    assert started(start(tmp_path))["key"] == first["key"]


def test_beat_keeps_its_schedule_in_a_file_of_this_host(tmp_path):
    shown = started(start(tmp_path))
    assert shown["beat"] == str(tmp_path / "var" / f"celerybeat-schedule-{socket.gethostname()}")
    chosen = str(tmp_path / "elsewhere" / "beat")
    assert started(start(tmp_path, BEAT_SCHEDULE_FILE=chosen))["beat"] == chosen


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CLAIM_LEASE", "0", "CLAIM_LEASE must be 1 second or more, got 0"),
        ("SWEEP_INTERVAL", "0", "SWEEP_INTERVAL must be more than 0 seconds, got 0"),
    ],
)
def test_a_lease_or_sweep_interval_that_cannot_work_is_refused(tmp_path, name, value, message):
    result = start(tmp_path, **{name: value})
    assert result.returncode != 0 and message in result.stderr
