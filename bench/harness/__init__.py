"""Shared plumbing for the bench scripts (not a benchmark itself: `make bench` runs bench/*.py)."""
