import os

from celery import Celery

import jobs.broker  # noqa: F401 - registers the atomicfs:// embedded broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("atelier")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["jobs"])
