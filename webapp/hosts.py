"""What a process needs to run beside others on other hosts, sharing nothing but the database,
Redis and the object store (README, "Growing past one machine").

Read by the settings, before Django is set up: plain functions of the environment.
"""

import socket
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

SHARED_KEYS = {
    "SECRET_KEY": "signs sessions, password resets and the sandbox key",
    "FIELD_ENCRYPTION_KEY": "encrypts the teams' provider keys",
}


def require_shared_keys(environ: Mapping[str, str]) -> None:
    """Refuse to start unless every key all processes must agree on is in the environment.

    On one machine a missing SECRET_KEY is made and kept under VAR_DIR; a second host would make
    another and nothing signed on one would be valid on the other, and a team key stored through
    one web process could not be read by a worker elsewhere.
    """
    for name, role in SHARED_KEYS.items():
        if not environ.get(name, "").strip():
            raise ImproperlyConfigured(
                f"{name} must be set in the environment when DEBUG is off and the database is "
                f"not SQLite: it {role}, and every web process and worker must share it "
                "(README, Growing past one machine)."
            )
    for key in environ["FIELD_ENCRYPTION_KEY"].split(","):
        if key.strip():
            try:
                Fernet(key.strip())
            except ValueError:
                raise ImproperlyConfigured(
                    "FIELD_ENCRYPTION_KEY must be Fernet keys separated by commas (make one "
                    "with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')."
                ) from None


def beat_schedule_file(environ: Mapping[str, str], var_dir: Path) -> str:
    """Where beat keeps its schedule: BEAT_SCHEDULE_FILE, or a file named after this host, so
    two hosts that share a VAR_DIR (a network volume) never write the same file."""
    if path := environ.get("BEAT_SCHEDULE_FILE", "").strip():
        return path
    return str(var_dir / f"celerybeat-schedule-{socket.gethostname()}")
