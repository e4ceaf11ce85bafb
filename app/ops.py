"""Operations helpers the server and CLI call: TLS and the pid file.

(Text and JSON log lines are app.logs' job.)

Each function raises :class:`OpsError` with a one-line message meant for the
operator (the CLI prints it and exits non-zero) instead of a traceback.
"""
from __future__ import annotations

import os
import ssl

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
    for path in (options.ssl_cert, options.ssl_key):
        if not os.path.isfile(path):
            raise OpsError(f"TLS file not found: {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(options.ssl_cert, options.ssl_key)
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
