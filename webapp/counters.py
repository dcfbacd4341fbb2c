"""Counts of events that leave no row behind, shared by every process that counts them.

A budget refusal rolls back the transaction that would have made the generation, so the
database never sees it; the count lives in the shared cache instead (Redis across hosts, the
file cache on one machine), without expiry. Read by /metrics as Prometheus counters: should the
cache lose it (a Redis restart), the count starts again at 0, which Prometheus reads as a reset.
"""

from django.core.cache import cache

PREFIX = "counter:"
BUDGET_REFUSALS = "budget_refusals"
# Webhook deliveries a receiver refused; counted once webhooks exist (issue 15).
WEBHOOK_REFUSALS = "webhook_refusals"


def add(name: str, amount: int = 1) -> None:
    key = PREFIX + name
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key, amount)
    except ValueError:  # gone between add and incr (evicted)
        cache.add(key, amount, timeout=None)


def read(name: str) -> int:
    return int(cache.get(PREFIX + name, 0))
