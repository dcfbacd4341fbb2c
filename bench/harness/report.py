"""How the bench scripts word their results."""

import os


def machine() -> str:
    """Cores and load at the start: other work on the machine moves every figure."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, load average {load:.1f} at start"


def ratio_text(ratio: float, goal: float) -> str:
    """Two decimals, or three when two would round onto the goal and hide which side it is."""
    text = f"{ratio:.2f}"
    return f"{ratio:.3f}" if text == f"{goal:.2f}" else text


def verdict(met: bool) -> str:
    return "goal met" if met else "GOAL MISSED"


def server_times(client, paths, repeat: int) -> list[tuple[float, int]]:
    """Median server time and query count per path (Django test client), requests interleaved
    so drift (caches, autovacuum, the other core) falls on every path alike."""
    import statistics
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for path in paths:
        assert client.get(path).status_code == 200  # warm
    times: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(repeat):
        for path in paths:
            start = time.perf_counter()
            response = client.get(path)
            times[path].append(time.perf_counter() - start)
            assert response.status_code == 200
    found = []
    for path in paths:
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        found.append((statistics.median(times[path]), len(queries)))
    return found
