import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections

import webapp.broker  # noqa: F401 - registers the atomicfs:// embedded broker
from webapp import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("atelier")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["jobs"])


@task_prerun.connect
@task_postrun.connect
def keep_usable_connections(task=None, **kwargs) -> None:
    """Database connections follow CONN_MAX_AGE between tasks, as between web requests.

    Celery's Django fixup closes every connection before and after each task unless
    CELERY_DB_REUSE_MAX is set (settings set it high): a new connection per task cost ~1 ms of
    CPU, more on SQLite, where closing one may checkpoint the WAL. Here, as Django does around a
    request, a connection is closed only when it is past its age or broken by an error.
    """
    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()


@after_setup_logger.connect
@after_setup_task_logger.connect
def log_as_configured(logger=None, **kwargs) -> None:
    """The worker's lines in LOG_FORMAT as the web's are: Celery replaced Django's handlers
    with its own, so those are given the JSON formatter and the generation filter."""
    if logger is None or settings.LOG_FORMAT != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(logs.JsonFormatter())
        handler.addFilter(logs.GenerationFilter())
