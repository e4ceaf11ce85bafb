"""One client connection: the :class:`~transports.interfaces.Connection` the
node gives every transport session, with its protocol-neutral state.

Duties and ordering:

* frames are handled one at a time, in order (the transport awaits
  ``on_message``) by the client's :class:`ClientDialect`, which parses,
  dispatches and answers them; a :class:`~app.core.errors.Disconnect`
  raised there closes the client with its advice, any other exception with
  ``internal server error`` (logged: this is a loop boundary);
* callbacks given to :meth:`Client.after_reply` while a frame is handled
  run once its replies are queued (or the frame was aborted): the dialect
  calls :meth:`Client.run_after_reply`;
* every send is followed by the queue-bound check (``client_queue_max_size``
  against ``session.pending_bytes``): past it the client is closed ``slow``
  (what the socket has not taken is dropped for the push and close frame,
  then a half-close and ``client_slow_close_grace`` seconds to go);
* closing (by us or by the peer) tells the :class:`ClientHost` once, which
  unregisters the client from the hub at once and then, in a task,
  unsubscribes every channel (presence removed, leaves published, engine
  told of the last subscriber).

What the client writes is the dialect's: pushes, the ``disconnect`` push
and the close frame's code and reason.  The core never imports a dialect.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

from app.core.errors import INTERNAL_SERVER_ERROR, SLOW, Disconnect
from app.core.metrics import Metrics
from app.core.values import ClientInfo, Message, Recovery
from app.core.overrides import NO_OVERRIDE, Override
from app.options import Options
from transports.interfaces import SessionHandle

logger = logging.getLogger("sockhub.client")


#: One message to a client as a dialect encodes it: text, or bytes for a
#: binary websocket frame (a protobuf dialect).
Push = str | bytes


class ClientDialect(Protocol):
    """A wire dialect as one client speaks it: the dialect reads the client's
    frames and writes everything the core sends it.  One object per dialect
    and format (and node), shared by its clients; each push it returns is
    one message."""

    async def on_frame(self, client: "Client", data: str | bytes) -> None:
        """Handle one client frame, text or binary (parse, dispatch, reply);
        may raise Disconnect."""
        ...

    def message(self, message: Message) -> Push:
        """The push of a publication (encoded once per fan-out)."""
        ...

    def join(self, channel: str, info: ClientInfo) -> Push: ...

    def leave(self, channel: str, info: ClientInfo) -> Push: ...

    def unsubscribed(self, channel: str) -> Push:
        """The push of a server-side unsubscribe."""
        ...

    def subscribed(self, channel: str, recovery: Recovery) -> Push:
        """The push of a server-side subscribe."""
        ...

    def disconnect(self, exc: Disconnect) -> Push:
        """The push sent before a close with advice ("" or b"": none)."""
        ...

    def close(self, exc: Disconnect) -> tuple[int, str]:
        """The close frame's code and reason of a close with advice."""
        ...

    def refusal(self, reason: str) -> tuple[int, str]:
        """The close frame of a connection a node limit turned away."""
        ...


class ClientHost(Protocol):
    """What a client needs of its node (app.core.clients.ClientRegistry)."""

    @property
    def options(self) -> Options: ...

    @property
    def metrics(self) -> Metrics: ...

    def client_opened(self, client: "Client") -> None: ...

    def client_authenticated(self, client: "Client") -> None: ...

    def client_closed(self, client: "Client") -> None: ...


@dataclass(slots=True)
class Subscription:
    """One channel a client holds.  ``server_side``: made by the API
    ``subscribe``; a later client subscribe to it is then accepted.
    ``override``: what this subscription changes of the channel's options
    (app.core.overrides); ``push_join_leave``: it receives the channel's
    join and leave pushes."""

    channel_info: str = ""
    server_side: bool = False
    override: Override = NO_OVERRIDE
    push_join_leave: bool = True


class Client:
    """State of one connection; core operations and its dialect act on it."""

    # Slots: a broadcast reads ``closing``, ``session`` and ``dialect`` of
    # every subscriber, one cache line fewer per delivery than an instance dict.
    __slots__ = ("host", "session", "dialect", "id", "user", "default_info", "timestamp", "authenticated",
                 "closing", "channels", "opened_at", "expire_at", "presence_at", "timers", "state",
                 "_after_reply")

    def __init__(self, host: ClientHost, session: SessionHandle, dialect: ClientDialect) -> None:
        self.host = host
        self.session = session
        self.dialect = dialect
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
        #: What the client's dialect keeps per connection (its heartbeat,
        #: token expiries); the core never looks at it.
        self.state: object = None
        self._after_reply: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"<Client {self.id or self.session.id} user={self.user!r}>"

    # -- transports.interfaces.Connection ----------------------------------------

    def on_open(self) -> None:
        self.host.client_opened(self)

    async def on_message(self, data: str | bytes) -> None:
        """Handle one frame; never raises (this is a loop boundary)."""
        if self.closing:
            return
        try:
            await self.dialect.on_frame(self, data)
        except Disconnect as exc:
            self.disconnect(exc)
        except Exception:
            logger.exception("client %s: command failed", self)
            self.disconnect(Disconnect(INTERNAL_SERVER_ERROR, reconnect=True))

    def on_close(self) -> None:
        self._finish()

    # -- replies ------------------------------------------------------------------

    def after_reply(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the replies of the current frame are queued."""
        self._after_reply.append(callback)

    def run_after_reply(self) -> None:
        """The dialect's call once a frame's replies are queued (or it was aborted)."""
        callbacks, self._after_reply = self._after_reply, []
        for callback in callbacks:
            callback()

    # -- sending and closing ------------------------------------------------------

    def send(self, message: Push) -> None:
        """Queue one message to the session, then check the queue bound."""
        if self.closing:
            return
        self._write(message)
        self.host.metrics.tally.bytes_out += len(message)
        self.check_queue()

    def _write(self, message: Push) -> None:
        if isinstance(message, str):
            self.session.send(message)
        else:
            self.session.send_binary(message)

    def check_queue(self) -> None:
        """Close ``slow`` past the bound (see :meth:`close_slow`)."""
        limit = self.host.options.client_queue_max_size
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
        self.host.metrics.slow.inc()
        self.session.drop_queued()
        self.disconnect(Disconnect(SLOW, reconnect=False), grace=self.host.options.client_slow_close_grace)

    def disconnect(self, exc: Disconnect, grace: float | None = None) -> None:
        """The dialect's ``disconnect`` push, then its close frame
        (``grace``: see Session.close)."""
        if self.closing:
            return
        if exc.push and not self.session.closed:
            push = self.dialect.disconnect(exc)
            if push:  # a dialect whose close frame says it all has no push
                self._write(push)
        self._finish()
        code, reason = self.dialect.close(exc)
        if grace is None:
            self.session.close(code, reason)
        else:
            self.session.close(code, reason, grace=grace)

    def refuse(self, reason: str) -> None:
        """Close a connection a node limit turned away as it opened, without
        a push (it has not connected): the dialect's refusal frame."""
        if self.closing:
            return
        self._finish()
        self.session.close(*self.dialect.refusal(reason))

    def _finish(self) -> None:
        """Unregister once; unsubscribe every channel in a task."""
        if self.closing:
            return
        self.closing = True
        self.host.client_closed(self)

    # -- state --------------------------------------------------------------------

    def reserve_id(self) -> str:
        """The id this client gets at its connect, chosen now (a proxy hook
        tells the backend before the connect is done)."""
        if not self.id:
            self.id = str(uuid.uuid4())
        return self.id

    def authenticate(self, user: str, default_info: str, timestamp: int) -> None:
        self.id = self.id or str(uuid.uuid4())
        self.user = user
        self.default_info = default_info
        self.timestamp = timestamp
        self.authenticated = True
        self.host.client_authenticated(self)

    def info(self, channel: str = "") -> ClientInfo:
        """This client as presence, join/leave and publications show it."""
        sub = self.channels.get(channel)
        return ClientInfo(self.user, self.id, self.default_info, sub.channel_info if sub else "")
