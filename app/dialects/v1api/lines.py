"""The Centrifugo 2 server API (docs/protocol-v2.md §9.2), the one
``cent`` 3.0.1 speaks: ``POST {http_prefix}/api`` (no trailing slash: the
1.x API keeps ``/api/``).

* the key: ``Authorization: apikey KEY`` or ``?api_key=`` (and
  ``X-API-Key``, as the current-style API reads it: app.dialects.v2api.envelope);
  a wrong or missing key, or no ``api_key`` configured, is 401;
  ``insecure_api`` skips the check;
* the body: one or more commands ``{"id"?, "method", "params"}`` one per
  line (blank lines skipped, at most :data:`MAX_COMMANDS`); ``method`` a
  name in any case or its number (:data:`METHODS`); an empty body, a line
  that is not such an object, or params of the wrong type refuse the whole
  request with 400, before any command runs;
* the answer: 200, one line per command in order, ``{"id"?,"result":{…}}``
  or ``{"id"?,"error":{"code","message"}}``; an unknown method is error 104
  ``method not found``.  JSON only (protobuf bodies,
  ``application/octet-stream``, are refused 415).

The commands are the current-style API's (runner.ServerApi), with the
results of that era: ``history`` without ``limit`` answers the whole stream
(no paging in Centrifugo 2), ``channels`` a list of names; ``unsubscribe``
and ``disconnect`` need a ``user`` (107).  cent 3.0.1's ``uid`` of a publish
is ignored, as Centrifugo 2.8 did.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Awaitable, Mapping

from app.dialects.v2api.envelope import UNAUTHORIZED, Response, authorized
from app.dialects.v2api.errors import BAD_REQUEST, ApiError
from app.dialects.v2api.params import ParamsError, parse
from app.dialects.v2api.runner import COMMANDS, Reply, ServerApi
from app.options import Options
from transports.strictjson import JSONInputError, loads

#: The ``method`` numbers of Centrifugo 2's API schema (api.proto).
METHODS = ("publish", "broadcast", "unsubscribe", "disconnect", "presence", "presence_stats", "history",
           "history_remove", "channels", "info", "rpc")
#: Commands in one request at most (the current style's batch bound).
MAX_COMMANDS = 1000
METHOD_NOT_FOUND = '{"code":104,"message":"method not found"}'
_NEED_USER = frozenset({"unsubscribe", "disconnect"})
TEXT_TYPE = "text/plain; charset=utf-8"
#: The fields of a result written even at their zero value.
_ZEROS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "history": MappingProxyType({"publications": "[]"}),
    "presence": MappingProxyType({"presence": "{}"}),
    "presence_stats": MappingProxyType({"num_clients": "0", "num_users": "0"}),
})
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class ApiLine:
    """One line of a request: its ``id`` as written (JSON text, "" when
    absent), the method (None: not found) and its params."""

    id: str
    method: str | None
    params: dict[str, Any]


def _method(value: Any) -> str | None:
    if type(value) is int:
        return METHODS[value] if 0 <= value < len(METHODS) else None
    if type(value) is str:
        name = value.lower()
        return name if name in METHODS else None
    raise ParamsError("method: a name or a number expected")


def _command(line: bytes) -> ApiLine:
    try:
        value = loads(line)
    except (JSONInputError, ValueError):
        raise ParamsError("malformed JSON") from None
    if not isinstance(value, dict):
        raise ParamsError("a JSON object expected")
    number, params = value.get("id"), value.get("params")
    if number is not None and (type(number) is not int or not 0 <= number < 2**32):
        raise ParamsError("id: a number expected")
    if params is not None and not isinstance(params, dict):
        raise ParamsError("params: an object expected")
    return ApiLine("" if number is None else str(number), _method(value.get("method")), params or {})


def parse_body(body: bytes) -> list[ApiLine]:
    """The request's commands; ParamsError when one does not parse."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    if not lines:
        raise ParamsError("empty body")
    if len(lines) > MAX_COMMANDS:
        raise ParamsError(f"at most {MAX_COMMANDS} commands")
    return [_command(line) for line in lines]


def _params(command: ApiLine) -> dict[str, Any]:
    params = dict(command.params)
    if command.method == "history" and params.get("limit") is None:
        params["limit"] = -1  # Centrifugo 2 answers the whole stream
    return params


def _result(method: str, result: str) -> str:
    """A result as Centrifugo 2 wrote it: its fields written even when
    empty (cent 3 reads ``publications``, ``presence``), ``channels`` a
    list of names."""
    zeros = _ZEROS.get(method)
    if zeros and any(f'"{key}":' not in result for key in zeros):
        value = json.loads(result)
        for key, zero in zeros.items():
            value.setdefault(key, json.loads(zero))
        return _dumps(value)
    if method == "channels":
        return '{"channels":' + json.dumps(sorted(json.loads(result)["channels"])) + "}"
    return result


def _line(command: ApiLine, body: str) -> str:
    head = '{"id":' + command.id + "," if command.id else "{"
    return head + body + "}"


def check(commands: list[ApiLine]) -> None:
    """ParamsError when a command's params do not fit its method (before
    any command runs: the whole request is refused)."""
    for command in commands:
        if command.method is not None:
            spec = COMMANDS[command.method]
            parse(spec.request, spec.plan, _params(command))


async def run(api: ServerApi, commands: list[ApiLine]) -> str:
    """Every command's line, each run after the one before it has finished."""
    lines = []
    for command in commands:
        method = command.method
        if method is None:
            lines.append(_line(command, '"error":' + METHOD_NOT_FOUND))
            continue
        if method in _NEED_USER and not command.params.get("user"):
            reply = Reply(error=ApiError(BAD_REQUEST))
        else:
            call = api.call_value(method, _params(command))
            reply = call if isinstance(call, Reply) else await call
        body = '"error":' + reply.error.json() if reply.error is not None else '"result":' + _result(method, reply.result)
        lines.append(_line(command, body))
    return "\n".join(lines)


async def _answer(api: ServerApi, commands: list[ApiLine]) -> Response:
    return Response(200, (await run(api, commands)).encode())


def respond(api: ServerApi, options: Options, headers: Mapping[str, str], query: str, route: str,
            body: bytes) -> Response | Awaitable[Response]:
    """The answer to ``POST /api``; never raises for bad input."""
    if not authorized(options, headers, query):
        return UNAUTHORIZED
    if headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/octet-stream":
        return Response(415, b"protobuf API requests are not supported: send JSON\n", TEXT_TYPE)
    try:
        commands = parse_body(body)
        check(commands)
    except ParamsError as exc:
        return Response(400, ("bad request: " + str(exc) + "\n").encode(), TEXT_TYPE)
    return _answer(api, commands)
