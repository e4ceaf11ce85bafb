"""Logging set-up: the "sockhub.*" loggers (and Tornado's) as text or JSON lines.

Called once by the CLI before the server starts; library code only ever does
``logging.getLogger("sockhub.<module>")``.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

TRACE = 5
#: Centrifugo's level names (trace ... none) to Python's.
LEVELS: dict[str, int] = {
    "trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
    "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL, "none": logging.CRITICAL + 10,
}
#: The loggers sockhub configures; the root logger is left alone.
LOGGER_NAMES = ("sockhub", "tornado")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and exc_info)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def make_handler(fmt: str, log_file: str = "", stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``fmt`` ("text" or "json") to ``log_file`` or ``stream``."""
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    return handler


def setup_logging(level: str = "info", fmt: str = "text", log_file: str = "",
                  stream: TextIO | None = None) -> None:
    """Route "sockhub.*" and "tornado.*" to one handler at ``level``.

    Tornado's per-request access log is kept at debug and below only, so a busy
    node does not log every poll."""
    logging.addLevelName(TRACE, "TRACE")
    handler = make_handler(fmt, log_file, stream)
    numeric = LEVELS.get(level.lower(), logging.INFO)
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(numeric)
        logger.propagate = False
    logging.getLogger("tornado.access").setLevel(max(numeric, logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING))
