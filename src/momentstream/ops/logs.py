"""Worker log lines: the familiar text, or one JSON object per line for a log pipeline.

Every record of the process goes through the root handler set here, the Kafka clients' too, so
one worker never mixes formats. Credentials are already masked when a record is made
(:mod:`momentstream.ops.redact`); messages name no customer (ids stay out of log calls).

>>> import logging
>>> record = logging.LogRecord("momentstream.x", logging.WARNING, __file__, 1, "lag %d", (5,), None)
>>> doc = json.loads(JsonFormatter().format(record))
>>> doc["level"], doc["logger"], doc["message"]
('warning', 'momentstream.x', 'lag 5')
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Literal

__all__ = ["TEXT_FORMAT", "JsonFormatter", "configure_logging"]

TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO), level, logger, message, process, and the error if any."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(level: str, style: Literal["text", "json"]) -> None:
    """Replace the root handlers with one writing ``style`` to standard error (the Faust runtime reuses it)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if style == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
