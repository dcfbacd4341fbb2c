"""Which adapter speaks which protocol (the catalog names one per model)."""

from typing import Any, cast

from jobs.providers import Adapter, a1111, aimlapi, relay

ADAPTERS: dict[str, Any] = {"aimlapi": aimlapi, "relay": relay, "a1111": a1111}


def adapter_for(protocol: str) -> Adapter:
    """The module that speaks a protocol: each defines the four functions of `Adapter`."""
    return cast(Adapter, ADAPTERS[protocol])
