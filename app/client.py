"""One client connection: the :class:`~transports.interfaces.Connection` the
node gives every transport session.

Duties and ordering:

* frames are handled one at a time, in order (the transport awaits
  ``on_message``); the commands of a batch run in order and their replies
  leave as one frame (an object for an object, an array for an array);
* the first :class:`~app.protocol.Disconnect` of a batch aborts it: the
  replies gathered so far are dropped, a ``disconnect`` push is sent, then
  close 3000 with the JSON advice (§6, §17);
* callbacks given to :meth:`Client.after_reply` while a frame is handled
  run once its replies are queued (or the frame was aborted);
* every send is followed by the queue-bound check (``client_queue_max_size``
  against ``session.pending_bytes``): past it the client is closed ``slow``
  (what the socket has not taken is dropped for the push and close frame,
  then a half-close and ``client_slow_close_grace`` seconds to go);
* closing (by us or by the peer) unregisters the client from the hub at once
  and then, in a task, unsubscribes every channel (presence removed, leaves
  published, engine told of the last subscriber).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from app.commands import COMMANDS
from app.core.values import ClientInfo
from app.core.errors import (
    INTERNAL_SERVER_ERROR,
    INVALID_MESSAGE,
    LIMIT_EXCEEDED,
    METHOD_NOT_FOUND,
    SLOW,
    UNAUTHORIZED,
    Disconnect,
    ProtocolError,
)
from app.protocol import (
    Command,
    disconnect_push,
    join_replies,
    parse_commands,
    parse_params,
    reply_error,
    reply,
)
from transports.interfaces import Session

if TYPE_CHECKING:
    from app.node import Node

logger = logging.getLogger("sockhub.client")

#: The websocket close code of a connection refused by a limit (RFC 6455 /
#: IANA "Try Again Later"); SockJS carries it in its ``c[...]`` frame.
TRY_AGAIN_LATER = 1013


@dataclass(slots=True)
class Subscription:
    """One channel a client holds.  ``server_side``: made by the API
    ``subscribe``; a later client subscribe to it is then accepted."""

    channel_info: str = ""
    server_side: bool = False


class Client:
    """State of one connection; the commands in app.commands act on it."""

    # Slots: a broadcast reads ``closing`` and ``session`` of every
    # subscriber, one cache line fewer per delivery than an instance dict.
    __slots__ = ("node", "session", "id", "user", "default_info", "timestamp", "authenticated",
                 "closing", "channels", "opened_at", "expire_at", "presence_at", "timers",
                 "_after_reply")

    def __init__(self, node: "Node", session: Session) -> None:
        self.node = node
        self.session = session
        self.id = ""  # set by a successful connect
        self.user = ""
        self.default_info = ""
        self.timestamp = 0  # of the last valid token (connection_lifetime)
        self.authenticated = False
        self.closing = False
        self.channels: dict[str, Subscription] = {}
        self.opened_at = 0.0
        #: Deadlines the node's tick compares with its heap entries.
        self.expire_at = 0.0
        self.presence_at = 0.0
        #: kind -> handle of its entry in the node's deadline heap (cancelled at close)
        self.timers: dict[str, int] = {}
        self._after_reply: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"<Client {self.id or self.session.id} user={self.user!r}>"

    # -- transports.interfaces.Connection ----------------------------------------

    def on_open(self) -> None:
        self.node.client_opened(self)

    async def on_message(self, text: str) -> None:
        """Handle one frame; never raises (this is a loop boundary)."""
        if self.closing:
            return
        try:
            await self._handle_frame(text)
        except Disconnect as exc:
            self.disconnect(exc)
        except Exception:
            logger.exception("client %s: command failed", self)
            self.disconnect(Disconnect(INTERNAL_SERVER_ERROR, reconnect=True))

    def on_close(self) -> None:
        self._finish()

    # -- frames and commands ------------------------------------------------------

    async def _handle_frame(self, text: str) -> None:
        options = self.node.options
        size = len(text.encode("utf-8", "surrogatepass"))
        self.node.metrics.bytes_in.inc(size)
        if size == 0 or not text.strip():
            raise Disconnect(INVALID_MESSAGE)
        if options.client_request_max_size > 0 and size > options.client_request_max_size:
            raise Disconnect(LIMIT_EXCEEDED)
        commands, is_array = parse_commands(text)
        replies = []
        try:
            for command in commands:
                replies.append(await self._dispatch(command))
                if self.closing:
                    return  # closed meanwhile (e.g. by the API); say nothing more
            self.send(join_replies(replies, is_array))
        finally:
            callbacks, self._after_reply = self._after_reply, []
            for callback in callbacks:
                callback()

    def after_reply(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the replies of the current frame are queued."""
        self._after_reply.append(callback)

    async def _dispatch(self, command: Command) -> str:
        """One command's reply; Disconnect for the fatal cases of §2."""
        spec = COMMANDS.get(command.method)
        if spec is None:
            raise Disconnect(METHOD_NOT_FOUND)
        if spec.needs_auth and not self.authenticated:
            raise Disconnect(UNAUTHORIZED)
        try:
            params: Any = parse_params(spec.params, command.params)
        except ValueError:
            raise Disconnect(INVALID_MESSAGE) from None
        metrics = self.node.metrics
        metrics.child(metrics.client_requests, command.method).inc()
        try:
            body = await spec.handler(self, params)
        except ProtocolError as err:
            return reply_error(command.method, err, spec.error_body(params), command.uid)
        return reply(command.method, body, command.uid)

    # -- sending and closing ------------------------------------------------------

    def send(self, text: str) -> None:
        """Queue one frame to the session, then check the queue bound."""
        if self.closing:
            return
        self.session.send(text)
        self.node.metrics.bytes_out.inc(len(text))
        self.check_queue()

    def check_queue(self) -> None:
        """Close ``slow`` past the bound (see :meth:`close_slow`)."""
        limit = self.node.options.client_queue_max_size
        if limit > 0 and self.session.pending_bytes > limit:
            self.close_slow()

    def close_slow(self) -> None:
        """The queue is past its bound: what the socket has not taken yet is
        dropped, and the ``disconnect`` push and close frame take its place,
        so a client that reads again learns it was ``slow`` (no reconnect)
        rather than seeing the connection vanish; the connection is
        half-closed and dropped ``client_slow_close_grace`` seconds later if
        the client does not close it.  Counted once per client."""
        if self.closing:
            return
        self.node.metrics.slow.inc()
        self.session.drop_queued()
        self.disconnect(Disconnect(SLOW, reconnect=False), grace=self.node.options.client_slow_close_grace)

    def disconnect(self, exc: Disconnect, grace: float | None = None) -> None:
        """A ``disconnect`` push, then close 3000 with the JSON advice
        (``grace``: see Session.close)."""
        if self.closing:
            return
        if exc.push and not self.session.closed:
            self.session.send(disconnect_push(exc.reason, exc.reconnect))
        self._finish()
        if grace is None:
            self.session.close(3000, exc.advice)
        else:
            self.session.close(3000, exc.advice, grace=grace)

    def refuse(self, reason: str) -> None:
        """Close a connection a node limit turned away as it opened: 1013
        (try again later) with ``{"reason":..,"reconnect":true}``, no push
        (it has not connected)."""
        if self.closing:
            return
        self._finish()
        self.session.close(TRY_AGAIN_LATER, Disconnect(reason, reconnect=True).advice)

    def _finish(self) -> None:
        """Unregister once; unsubscribe every channel in a task."""
        if self.closing:
            return
        self.closing = True
        self.node.client_closed(self)

    # -- state helpers used by the commands -----------------------------------------

    def authenticate(self, user: str, default_info: str, timestamp: int) -> None:
        self.id = str(uuid.uuid4())
        self.user = user
        self.default_info = default_info
        self.timestamp = timestamp
        self.authenticated = True
        self.node.client_authenticated(self)

    def info(self, channel: str = "") -> ClientInfo:
        """This client as presence, join/leave and publications show it."""
        sub = self.channels.get(channel)
        return ClientInfo(self.user, self.id, self.default_info, sub.channel_info if sub else "")
