"""Prometheus metrics at /metrics, read at scrape time from what every process shares.

Every figure comes from the database, the broker or the shared cache, never from one process's
memory: behind a load balancer any web replica answers a scrape, and workers run on other
hosts. So the provider latency and download histograms are computed from the rows' own times
(`sent_at` → `result_at` → `finished_at`, which the pipeline writes anyway) rather than
observed in workers: prometheus-client's multiprocess mode keeps its figures in files on each
host, so a web process would see only its own host's workers, and two replicas would answer
the same scrape differently. The price is one aggregate query over the generations per
scrape.
"""

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import redis
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gallery.accounts.ratelimit import forwarded_address
from gallery.models import Generation
from webapp import counters

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
DOWNLOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in lists of their own.
REDIS_PRIORITY_SEP = "\x06\x16"
REDIS_PRIORITIES = (3, 6, 9)


def may_read(request: HttpRequest) -> bool:
    """Who may read the metrics: the bearer of METRICS_TOKEN, or a client in METRICS_ALLOWED."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(forwarded_address(request))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOWED)


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED:
        raise Http404("Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED.")
    if not may_read(request):
        return HttpResponse(
            "Metrics need the METRICS_TOKEN bearer token or an address in METRICS_ALLOWED.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


class AtelierCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield generations()
        yield histogram(
            "atelier_provider_latency_seconds",
            "From sending a request to a provider to its answer with the result.",
            "sent_at",
            "result_at",
            LATENCY_BUCKETS,
            Q(),
        )
        yield histogram(
            "atelier_download_seconds",
            "From the provider's result to the images stored (download, decode, thumbnails).",
            "result_at",
            "finished_at",
            DOWNLOAD_BUCKETS,
            Q(status=Generation.Status.SUCCEEDED),
        )
        yield oldest_in_flight()
        if (depths := queue_depths()) is not None:
            yield depths
        for name, what in (
            (counters.BUDGET_REFUSALS, "Generations refused because they would break a budget."),
            (counters.WEBHOOK_REFUSALS, "Webhook deliveries refused by their receiver."),
        ):
            yield CounterMetricFamily(f"atelier_{name}", what, value=counters.read(name))


def generations() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "atelier_generations", "Generations by status and provider.", labels=["status", "provider"]
    )
    counts = Generation.objects.values_list("provider", "status").annotate(n=Count("pk"))
    found = {(provider, status): n for provider, status, n in counts.order_by()}
    for provider in sorted({provider for provider, _ in found}):
        for status in Generation.Status.values:
            family.add_metric([status, provider], found.get((provider, status), 0))
    return family


def histogram(
    name: str, what: str, start: str, end: str, buckets: tuple[float, ...], rows: Q
) -> HistogramMetricFamily:
    """Per provider, how long generations took from `start` to `end`, counted by the database."""
    took = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    under = {
        f"le_{i}": Count("pk", filter=Q(took__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(buckets)
    }
    found = (
        Generation.objects.filter(rows, **{f"{start}__isnull": False, f"{end}__isnull": False})
        .annotate(took=took)
        .values("provider")
        .annotate(count=Count("pk"), total=Sum("took"), **under)
        .order_by("provider")
    )
    family = HistogramMetricFamily(name, what, labels=["provider"])
    for row in cast(list[dict[str, Any]], list(found)):
        cumulative = [(str(bound), row[f"le_{i}"]) for i, bound in enumerate(buckets)]
        total = row["total"].total_seconds() if row["total"] else 0.0
        family.add_metric([row["provider"]], [*cumulative, ("+Inf", row["count"])], sum_value=total)
    return family


def oldest_in_flight() -> GaugeMetricFamily:
    oldest = Generation.objects.in_flight().aggregate(oldest=Min("created_at"))["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return GaugeMetricFamily(
        "atelier_oldest_in_flight_seconds",
        "Age of the oldest generation not yet finished (0 when none is in flight).",
        value=max(0.0, age),
    )


def queues() -> list[str]:
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})


def queue_depths() -> GaugeMetricFamily | None:
    """Messages waiting in each Celery queue (not those a worker holds); None if the broker
    does not answer, so the other metrics are still served."""
    family = GaugeMetricFamily(
        "atelier_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
    )
    try:
        depths = _redis_depths() if _on_redis() else _folder_depths()
    except (redis.RedisError, OSError):
        log.warning("metrics: the broker's queues could not be read", exc_info=True)
        return None
    for queue, depth in depths.items():
        family.add_metric([queue], depth)
    return family


def _on_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def _redis_depths() -> dict[str, int]:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
    )
    with client:
        depths = {}
        for queue in queues():
            keys = [queue] + [f"{queue}{REDIS_PRIORITY_SEP}{p}" for p in REDIS_PRIORITIES]
            depths[queue] = sum(client.llen(key) for key in keys)
        return depths


def _folder_depths() -> dict[str, int]:
    """The embedded broker: one file per message, named `<time>_<id>.<queue>.msg`."""
    names = os.listdir(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    return {queue: sum(n.endswith(f".{queue}.msg") for n in names) for queue in queues()}


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(AtelierCollector())
