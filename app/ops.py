"""Operations helpers the server and CLI call: TLS, the pid file, JSON logs.

Each function raises :class:`OpsError` with a one-line message meant for the
operator (the CLI prints it and exits non-zero) instead of a traceback.
"""
from __future__ import annotations

import json
import logging
import os
import ssl
import time
from typing import Any

from app.options import Options


class OpsError(Exception):
    """A setting that cannot work as given; the message is one clear line."""


def ssl_context(options: Options) -> ssl.SSLContext | None:
    """The server-side TLS context for ``--ssl --ssl_cert --ssl_key``, or None.

    Loaded once at start: a missing or mismatched certificate is reported
    before any port is opened."""
    if not options.ssl:
        return None
    if not options.ssl_cert or not options.ssl_key:
        raise OpsError("--ssl needs both --ssl_cert and --ssl_key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(options.ssl_cert, options.ssl_key)
    except FileNotFoundError as exc:
        raise OpsError(f"TLS file not found: {exc.filename}") from exc
    except (ssl.SSLError, OSError) as exc:
        raise OpsError(f"cannot load TLS certificate {options.ssl_cert} / key {options.ssl_key}: {exc}") from exc
    return context


def write_pid_file(path: str) -> None:
    """Write this process's pid to ``path`` (atomically, via a rename).

    Refuses when the file names another process that is still alive, so two
    servers cannot share one pid file by mistake."""
    other = _read_pid(path)
    if other is not None and other != os.getpid() and _alive(other):
        raise OpsError(f"pid file {path} belongs to running process {other}")
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise OpsError(f"cannot write pid file {path}: {exc.strerror}") from exc


def remove_pid_file(path: str) -> None:
    """Remove ``path`` if it still holds this process's pid (at shutdown)."""
    if _read_pid(path) == os.getpid():
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _read_pid(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: LogRecord attributes that are not "extra" fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC ISO 8601), ``level``, ``logger``,
    ``message``, any ``extra={...}`` fields, and ``exc`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)
