"""A tiny blocking HTTP client for the integration tests (http.client, no magic)."""
from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(port: int, method: str, path: str, body: bytes | Iterable[bytes] | None = None,
            headers: Mapping[str, str] | None = None, chunked: bool = False) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}), encode_chunked=chunked)
        response = conn.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        conn.close()
