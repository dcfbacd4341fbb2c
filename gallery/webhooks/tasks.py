"""Thin Celery tasks for webhook deliveries: take a row id, load it, deliver, schedule the next try.

Late acknowledgement (settings) delivers a task again when its worker died; `deliver` claims the
row first, so a second run of the same message sends nothing twice.
"""

from celery import shared_task
from django.conf import settings

from gallery.webhooks import delivery as sending
from gallery.webhooks.models import Delivery


@shared_task
def deliver(delivery_id: int) -> None:
    found = Delivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    if found is None:
        return
    delay = sending.deliver(found)
    # Short waits ride on the broker; longer ones live in the row, for the sweeper.
    if delay is not None and delay <= settings.MAX_COUNTDOWN:
        deliver.apply_async((delivery_id,), countdown=delay)


@shared_task
def sweep() -> None:
    """Wake the deliveries whose wait is over, and those whose worker died mid-delivery."""
    for pk in Delivery.objects.due().values_list("pk", flat=True)[:1000]:
        deliver.delay(pk)
