"""The product's WSGI app for a bench run's web processes (`gunicorn bench.harness.wsgi`).

The one bench-only adjustment, as in bench/harness/worker.py: what the web process enqueues
(a generation's first task) goes to the run's private queues (BENCH_TASK_ROUTES), where the
run's workers listen, and never to the product's queues of a Redis database others may share.
"""

from bench.harness import worker
from webapp.celery import app as celery_app
from webapp.wsgi import application

worker.configure(celery_app)

__all__ = ["application"]
