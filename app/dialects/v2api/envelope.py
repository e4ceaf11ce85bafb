"""The HTTP request of the current-style API (docs/protocol-v2.md §9.1):
its key, its body, the status and body of its answer.

* the key: ``X-API-Key: KEY``; when that header is absent,
  ``Authorization: apikey KEY`` (scheme in any case); then the query's
  ``api_key``, as Centrifugo v5 reads them.  A wrong or missing key, or no
  ``api_key`` configured, is ``401`` with an empty body; ``insecure_api``
  skips the check;
* a body that is not a JSON object, or a field of the wrong type: ``400``
  with ``{"error":{"code":107,"message":"bad request: <why>"}}``;
* otherwise ``200`` with ``{"result": ...}`` or ``{"error": ...}``, and for
  ``batch`` ``{"replies": [...]}`` (no wrapper: what cent 5 reads).  With
  ``X-Centrifugo-Error-Mode: transport`` a command's error is an HTTP
  status (errors.TRANSPORT_STATUS) with the bare error as body.

The endpoint's own checks (size 413, shutting down 503) come first, in
app.http_api; this module does not know Tornado's request, only headers
and query.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Awaitable, Coroutine, Mapping
from urllib.parse import parse_qs

from app.dialects.v2api.errors import BAD_REQUEST, ApiError
from app.dialects.v2api.params import ParamsError
from app.dialects.v2api.runner import Reply, ServerApi
from app.options import Options

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE


UNAUTHORIZED = Response(401, b"", TEXT_TYPE)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8", "replace"), given.encode("utf-8", "replace"))


def authorized(options: Options, headers: Mapping[str, str], query: str) -> bool:
    """Whether the request carries the API key (see the module docstring)."""
    if options.insecure_api:
        return True
    key = options.api_key
    if not key:
        return False
    given = headers.get("X-API-Key")
    if given:
        if _same(key, given):
            return True
    else:
        parts = headers.get("Authorization", "").split()
        if len(parts) == 2 and parts[0].lower() == "apikey" and _same(key, parts[1]):
            return True
    if query:
        values = parse_qs(query, keep_blank_values=True).get("api_key") or [""]
        return _same(key, values[0])
    return False


def respond(api: ServerApi, options: Options, headers: Mapping[str, str], query: str, route: str,
            body: bytes) -> Response | Awaitable[Response]:
    """The answer to ``POST /api/<route>`` (a route of runner.ROUTES): at
    once when the command did not wait, else an awaitable.  Never raises
    for bad input."""
    if not authorized(options, headers, query):
        return UNAUTHORIZED
    transport = headers.get("X-Centrifugo-Error-Mode", "").lower() == "transport"
    if route == "batch":
        return _batch(api.batch(body))
    try:
        reply = api.call(route, body)
    except ParamsError as exc:
        return refused(exc)
    return _response(reply, transport) if isinstance(reply, Reply) else _later(reply, transport)


def refused(exc: ParamsError) -> Response:
    """400 for a body that does not parse."""
    return Response(400, ('{"error":' + ApiError(BAD_REQUEST, f"bad request: {exc}").json() + "}").encode())


def _response(reply: Reply, transport: bool) -> Response:
    if reply.error is None:
        return Response(200, ('{"result":' + reply.result + "}").encode())
    if transport:
        return Response(reply.error.http_status, reply.error.json().encode())
    return Response(200, ('{"error":' + reply.error.json() + "}").encode())


async def _later(reply: Coroutine[Any, Any, Reply], transport: bool) -> Response:
    return _response(await reply, transport)


async def _batch(replies: Coroutine[Any, Any, str]) -> Response:
    try:
        return Response(200, (await replies).encode())
    except ParamsError as exc:
        return refused(exc)
