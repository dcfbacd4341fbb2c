"""CSV that spreadsheets open as plain data: the dashboard's exports and the zip's metadata."""

import csv
import io
from collections.abc import Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(header: list[str], rows: Iterable[Iterable]) -> str:
    """CSV with every text cell that a spreadsheet would run as a formula made inert."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([inert(value) for value in row])
    return out.getvalue()


def inert(value):
    """A text a spreadsheet would take for a formula (also after leading spaces) gets a leading
    apostrophe, which spreadsheets read as "this is text"."""
    if isinstance(value, str) and (value[:1] in TRIGGERS or value.lstrip(" ")[:1] in TRIGGERS):
        return "'" + value
    return "" if value is None else value
