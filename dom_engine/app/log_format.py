"""How `dom serve` logs: readable text (default) or JSON lines ([server] log_format = "json"), one
object per record with the time, level, logger, message and the call's fields when the record
carries them (request_id, order_id, method, status, code, elapsed_ms, orders, error_id,
reservation_id)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
# Attributes a record may carry through logging's `extra=` that a JSON line shows as fields.
CALL_FIELDS = ("method", "request_id", "order_id", "status", "code", "elapsed_ms", "orders", "error_id",
               "reservation_id")
FORMATS = ("text", "json")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "process": record.processName,
               "message": record.getMessage()}
        for name in CALL_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


CALLS_LOGGER = "dom_engine.calls"


def configure_logging(fmt: str = "text", calls: bool = False, level: int = logging.INFO) -> None:
    """Send the server's log to stderr in `fmt` ("text" or "json"), replacing earlier handlers;
    `calls`: one INFO line per routing call (logger dom_engine.calls), else that logger is quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger(CALLS_LOGGER).setLevel(logging.INFO if calls else logging.WARNING)
