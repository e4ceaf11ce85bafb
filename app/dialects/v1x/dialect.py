"""The Centrifugo 1.x dialect of client connections (docs/protocol-1x.md).

:class:`V1x` is the :class:`~app.core.client.ClientDialect` every 1.x client
of a node shares: it reads a client's frames and writes what the core sends.

Duties and ordering:

* a frame is one command object or an array (the first byte decides); the
  commands of a batch run in order and their replies leave as one frame (an
  object for an object, an array for an array);
* the first Disconnect of a batch aborts it: the replies gathered so far
  are dropped, a ``disconnect`` push is sent, then close 3000 with the JSON
  advice (docs/protocol-1x.md §6, §17);
* the client's after-reply callbacks run once the replies are queued (or
  the frame was aborted);
* pushes carry no ``uid`` (that is how clients tell them from replies).
"""
from __future__ import annotations

from typing import Any

from app.core.client import Client
from app.core.errors import (
    INVALID_MESSAGE,
    LIMIT_EXCEEDED,
    METHOD_NOT_FOUND,
    UNAUTHORIZED,
    Disconnect,
    ProtocolError,
)
from app.core.values import ClientInfo, Message, Recovery
from app.dialects.v1x.commands import COMMANDS
from app.dialects.v1x.context import V1xContext
from app.dialects.v1x.wire import (
    CLOSE_CODE,
    Command,
    channel_status,
    close_advice,
    disconnect_push,
    join_replies,
    membership_body,
    message_json,
    parse_commands,
    parse_planned,
    push,
    recovery_body,
    reply,
    reply_error,
)

#: The websocket close code of a connection refused by a limit (RFC 6455 /
#: IANA "Try Again Later"); SockJS carries it in its ``c[...]`` frame.
TRY_AGAIN_LATER = 1013

#: push("message", body) is _MESSAGE_OPEN + body + _MESSAGE_CLOSE (one
#: concatenation per message instead of a call that also JSON-encodes "message").
_MESSAGE_OPEN, _MESSAGE_CLOSE = push("message", "\0").split("\0")


class V1x:
    """The 1.x dialect over one node; see the module docstring."""

    name = "1.x"

    def __init__(self, ctx: V1xContext) -> None:
        self._ctx = ctx

    # -- frames and commands ------------------------------------------------------

    async def on_frame(self, client: Client, data: str | bytes) -> None:
        options = self._ctx.options
        if isinstance(data, bytes):
            # 1.x is JSON text; a binary frame is read as UTF-8 text
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self._ctx.metrics.bytes_in.inc(len(data))
                raise Disconnect(INVALID_MESSAGE) from None
        else:
            text = data
        size = len(text.encode("utf-8", "surrogatepass"))
        self._ctx.metrics.bytes_in.inc(size)
        if size == 0 or not text.strip():
            raise Disconnect(INVALID_MESSAGE)
        if options.client_request_max_size > 0 and size > options.client_request_max_size:
            raise Disconnect(LIMIT_EXCEEDED)
        commands, is_array = parse_commands(text)
        replies = []
        try:
            for command in commands:
                replies.append(await self._dispatch(client, command))
                if client.closing:
                    return  # closed meanwhile (e.g. by the API); say nothing more
            client.send(join_replies(replies, is_array))
        finally:
            client.run_after_reply()

    async def _dispatch(self, client: Client, command: Command) -> str:
        """One command's reply; Disconnect for the fatal cases of §2."""
        spec = COMMANDS.get(command.method)
        if spec is None:
            raise Disconnect(METHOD_NOT_FOUND)
        if spec.needs_auth and not client.authenticated:
            raise Disconnect(UNAUTHORIZED)
        try:
            params: Any = parse_planned(spec.params, spec.plan, command.params)
        except ValueError:
            raise Disconnect(INVALID_MESSAGE) from None
        metrics = self._ctx.metrics
        metrics.child(metrics.client_requests, command.method).inc()
        try:
            body = await spec.handler(self._ctx, client, params)
        except ProtocolError as err:
            return reply_error(command.method, err, spec.error_body(params), command.uid)
        return reply(command.method, body, command.uid)

    # -- what the core sends ------------------------------------------------------

    def message(self, message: Message) -> str:
        return _MESSAGE_OPEN + message_json(message) + _MESSAGE_CLOSE

    def join(self, channel: str, info: ClientInfo) -> str:
        return push("join", membership_body(channel, info))

    def leave(self, channel: str, info: ClientInfo) -> str:
        return push("leave", membership_body(channel, info))

    def unsubscribed(self, channel: str) -> str:
        return push("unsubscribe", channel_status(channel, True))

    def subscribed(self, channel: str, recovery: Recovery) -> str:
        return push("subscribe", recovery_body(channel, recovery))

    def disconnect(self, exc: Disconnect) -> str:
        """The 1.4-style ``disconnect`` push every client 1.3-1.5 understands."""
        return disconnect_push(exc.reason, exc.reconnect)

    def close(self, exc: Disconnect) -> tuple[int, str]:
        """Close 3000 with ``{"reason":..,"reconnect":..}``."""
        return CLOSE_CODE, close_advice(exc)

    def refusal(self, reason: str) -> tuple[int, str]:
        """1013 (try again later) with ``{"reason":..,"reconnect":true}``."""
        return TRY_AGAIN_LATER, close_advice(Disconnect(reason, reconnect=True))
