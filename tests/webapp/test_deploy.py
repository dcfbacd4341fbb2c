"""Django's deployment checks pass with the settings docker-compose gives the web service."""

import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# What an operator sets before `docker compose up` (README, "Running it on the internet").
OPERATOR = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "EMAIL_HOST": "smtp.example.com",
    "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
}
VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def compose_environment(given: dict[str, str]) -> dict[str, str]:
    """The `environment:` of the services' shared block, as compose fills it in from `given`."""
    lines = COMPOSE.read_text().splitlines()
    start = lines.index("  environment:")
    found: dict[str, str] = {}
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        entry = line.strip()
        if entry and not entry.startswith("#"):
            name, _, value = entry.partition(": ")
            found[name] = VARIABLE.sub(lambda m: _substitute(m, given), value)
    return found


def _substitute(match: re.Match, given: dict[str, str]) -> str:
    name, how, fallback = match.groups()
    if how == "?":
        assert given.get(name), f"docker-compose requires {name}: {fallback}"
        return given[name]
    return given.get(name) or (fallback if how == "-" else "")


def test_compose_reads_as_expected():
    env = compose_environment(OPERATOR)
    assert env["SECRET_KEY"] == OPERATOR["SECRET_KEY"]
    # The TLS proxy in front and the bundled nginx each append to X-Forwarded-For.
    assert env["HTTPS"] == "1" and env["PROXY_HOPS"] == "2"
    assert env.get("DEBUG", "0") == "0"


def test_compose_keeps_media_in_the_bundled_minio_bucket():
    env = compose_environment(OPERATOR)
    assert env["AWS_STORAGE_BUCKET_NAME"] == "atelier"
    assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_SECRET_ACCESS_KEY"] == OPERATOR["AWS_SECRET_ACCESS_KEY"]
    assert env["MEDIA_STREAM"] == "1"  # the browser cannot reach minio:9000
    text = COMPOSE.read_text()
    assert "\n  minio:\n" in text and "mc mb --ignore-existing store/$$BUCKET" in text
    assert "bucket: { condition: service_completed_successfully }" in text


def test_compose_does_not_start_without_a_mail_server():
    """With EMAIL_HOST empty, mail went to the console (invitations, password resets never
    arrived) and `check --deploy` failed on mail.E001: compose must ask for it."""
    given = {name: value for name, value in OPERATOR.items() if name != "EMAIL_HOST"}
    with pytest.raises(AssertionError, match="docker-compose requires EMAIL_HOST"):
        compose_environment(given)


def test_the_deploy_checks_pass_with_the_compose_settings(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "VAR_DIR": str(tmp_path),  # the image's /data
        **compose_environment(OPERATOR),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_generated_secret_key_is_private_from_the_moment_it_is_on_disk(tmp_path, monkeypatch):
    """It was written with the default mode (0644 under umask 022) and chmodded after: anyone on
    the machine could read it in between, or for good if the process died there."""
    from webapp import settings as module

    monkeypatch.setattr(module, "VAR_DIR", tmp_path)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)  # as if it never came
    umask = os.umask(0o022)
    try:
        key = module._secret_key()
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert len(key) >= 50 and module._secret_key() == key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # nothing else left behind
