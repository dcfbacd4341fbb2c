"""The test suite's settings: the app's own, in the environment an operator gives every process.

On PostgreSQL with DEBUG off, the app refuses to start without SECRET_KEY and
FIELD_ENCRYPTION_KEY from the environment (webapp/hosts.py). The suite sets both, once per run,
before the settings are read; the Celery workers it starts inherit them, so web and workers
agree as the hosts of one site do.
"""

import os
import secrets

from cryptography.fernet import Fernet

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEY", Fernet.generate_key().decode())

from webapp.settings import *  # noqa: F403
