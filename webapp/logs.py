"""Log lines as JSON objects (LOG_FORMAT=json), each pipeline line naming its generation.

One object per line: time (UTC, ISO 8601), level, logger, message, then any extras the caller
gave (`log.info(..., extra={...})`) and the exception's traceback. The pipeline's tasks run
inside `about(generation)`, and a filter on the handler adds that generation's uuid to every
line logged meanwhile, whichever module logs it (the pipeline, image handling, httpx).
Provider keys are masked in the pipeline's messages before they are logged (jobs.pipeline
`safe_text`); nothing here adds one.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from uuid import UUID

_generation: ContextVar[str | None] = ContextVar("generation", default=None)
# A record's own attributes; anything else on it is an extra, and is written out.
STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


@contextmanager
def about(uuid: UUID | str) -> Iterator[None]:
    """Lines logged in this block belong to the generation `uuid`."""
    token = _generation.set(str(uuid))
    try:
        yield
    finally:
        _generation.reset(token)


class GenerationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if (uuid := _generation.get()) is not None and not hasattr(record, "generation"):
            record.generation = uuid
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in STANDARD and not name.startswith("_") and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # Whatever an extra holds (a request, a date) is written as its text.
        return json.dumps(entry, default=str, ensure_ascii=False)
