"""The product's ASGI app for a bench run's web processes (`gunicorn bench.harness.asgi -k
uvicorn_worker.UvicornWorker`, as `manage.py serve` and docker-compose run the site).

The one bench-only adjustment, as in bench/harness/wsgi.py: what the web process enqueues goes
to the run's private queues (BENCH_TASK_ROUTES), never to the product's.
"""

from bench.harness import worker
from webapp.asgi import application
from webapp.celery import app as celery_app

worker.configure(celery_app)

__all__ = ["application"]
