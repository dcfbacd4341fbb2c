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
