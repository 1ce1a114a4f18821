"""Logging set-up: plain lines for a terminal, JSON lines (``LOG_FORMAT=json``) for a
log collector, each line carrying the activity and chat of the turn that wrote it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from aiohttp.http_exceptions import HttpProcessingError

from store import trace

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, activity and chat ids."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "activity_id": trace.ACTIVITY_ID.get(),
            "chat_id": trace.CHAT_ID.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Set the root handler once, for ``support-bridge run`` and ``python app.py``."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class MalformedRequests(logging.Filter):
    """aiohttp logs a request it could not parse (a request line over 8 KiB, a bad
    header) with a traceback at ERROR, although it answered the client 400: anyone could
    fill the log with tracebacks. Such a record becomes one WARNING line naming what was
    wrong; the server's own errors keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = f"{record.msg}: a malformed request, answered 400 ({type(error).__name__})"
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_malformed_requests() -> None:
    """Install ``MalformedRequests`` on aiohttp's server logger (once)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequests) for f in server.filters):
        server.addFilter(MalformedRequests())
