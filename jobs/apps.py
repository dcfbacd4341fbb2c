from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        # gallery records webhook deliveries and sends a signal once they commit; jobs enqueues
        # them, so nothing in gallery needs Celery. Here, not at the top: Django's documented
        # place to connect receivers, once every model is loaded (not to dodge a cycle).
        from gallery.webhooks.models import deliveries_recorded
        from jobs import tasks

        deliveries_recorded.connect(tasks.enqueue_webhooks, dispatch_uid="jobs.enqueue_webhooks")
