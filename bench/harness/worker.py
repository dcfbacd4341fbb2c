"""Start a Celery worker (or beat) for a bench run: `python -m bench.harness.worker worker -Q ...`.

One bench-only adjustment, read from the environment the Stack sets:
BENCH_TASK_ROUTES, the product's routes with private queue names, so a bench run never takes
(or leaves) messages of another worker sharing the same Redis database.
The bench process calls `configure()` too, so what it enqueues lands in the same queues.
"""

import json
import os
import sys


def configure(app) -> None:
    if routes := os.environ.get("BENCH_TASK_ROUTES"):
        app.conf.task_routes = json.loads(routes)


if __name__ == "__main__":
    from webapp.celery import app

    configure(app)
    app.start(sys.argv[1:])  # `worker ...`, or `beat` (bench/load.py): its tasks are routed too
