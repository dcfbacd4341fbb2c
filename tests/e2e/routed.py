"""Atelier's processes on queues of their own, for a test that starts a whole site beside the
session's worker (which takes from the product's queues on the same Redis).

ATELIER_TEST_ROUTES holds the product's routes with other queue names. As a module it runs
Celery's command line (`python -m tests.e2e.routed worker ...`, `... beat ...`); gunicorn
serves its `application`. Every task a process sends, and every next step, goes to those queues.
"""

import json
import os
import sys

from webapp.celery import app

app.conf.task_routes = json.loads(os.environ["ATELIER_TEST_ROUTES"])

from webapp.wsgi import application  # noqa: E402 - after the routes, before anything is sent

__all__ = ["application"]

if __name__ == "__main__":
    app.start(sys.argv[1:])
