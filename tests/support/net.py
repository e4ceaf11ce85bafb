"""Small network helpers shared by every suite."""
from __future__ import annotations

import socket
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tornado.httpserver import HTTPServer
from tornado.web import Application


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    """Block until something accepts connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


@asynccontextmanager
async def serving(application: Application, port: int, **options: Any) -> AsyncIterator[HTTPServer]:
    """``application`` on 127.0.0.1:``port`` (``options``: HTTPServer's) until
    the block ends, then every connection closed (a test page or backend
    beside sockhub, or a plain Tornado server to compare with)."""
    server = HTTPServer(application, **options)
    server.listen(port, "127.0.0.1")
    try:
        yield server
    finally:
        server.stop()
        await server.close_all_connections()
