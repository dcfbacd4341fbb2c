"""LOG_FORMAT=json: one JSON object per line, with the generation's uuid while a task runs."""

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from webapp import logs

ROOT = Path(__file__).resolve().parents[2]


def record(message: str = "stored %s images", *args, **extra) -> logging.LogRecord:
    made = logging.getLogger("jobs.pipeline").makeRecord(
        "jobs.pipeline", logging.INFO, __file__, 1, message, args or (2,), None, extra=extra
    )
    logs.GenerationFilter().filter(made)
    return made


def test_a_line_is_one_object_with_time_level_logger_message_and_extras():
    line = logs.JsonFormatter().format(record(attempt=3, took=1.5))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "jobs.pipeline"
    assert entry["message"] == "stored 2 images"
    assert entry["attempt"] == 3 and entry["took"] == 1.5
    assert entry["time"].endswith("+00:00")
    assert "generation" not in entry  # logged outside any generation's task


def test_a_line_about_a_generation_names_it_and_only_inside_its_block():
    one, two = uuid.uuid4(), uuid.uuid4()
    with logs.about(one):
        assert json.loads(logs.JsonFormatter().format(record()))["generation"] == str(one)
        with logs.about(two):
            assert record().generation == str(two)
        assert record().generation == str(one)
    assert not hasattr(record(), "generation")


def test_an_exception_is_kept_with_its_traceback_and_odd_extras_as_text():
    try:
        raise ValueError("cannot decode")
    except ValueError:
        made = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info(), extra={"at": object()}
        )
    entry = json.loads(logs.JsonFormatter().format(made))
    assert "ValueError: cannot decode" in entry["exception"]
    assert entry["at"].startswith("<object object")


@pytest.mark.parametrize("value", ["xml", "JSONL"])
def test_an_unknown_log_format_stops_the_app_with_a_clear_message(value, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "LOG_FORMAT": value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"LOG_FORMAT must be text or json, got '{value.lower()}'" in result.stderr


def test_the_web_logs_json_when_asked(tmp_path):
    """Django's own lines (here a 404 warning) come out as JSON objects from the settings."""
    script = (
        "import django, logging; django.setup();"
        "from django.test import Client; Client().get('/no-such-page')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "VAR_DIR": str(tmp_path),
            "LOG_FORMAT": "json",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "ALLOWED_HOSTS": "testserver",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert any(
        line["logger"] == "django.request" and "/no-such-page" in line["message"] for line in lines
    ), result.stderr
