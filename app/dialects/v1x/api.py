"""The 1.x server API (docs/protocol-1x.md §10): its body format and
commands, shared by the HTTP API, the Redis API queue and the admin websocket.

:meth:`ApiRunner.execute` takes one command object or an array and always
answers a JSON array of reply items, in command order:
``{"uid"?, "method", "error": null|"..", "advice"?, "body"}``.

The whole request fails with :class:`~app.core.errors.HttpError` (status and message) when:

* 400: the data is empty, not UTF-8, not JSON, does not start with ``{`` or
  ``[``, is an empty array, a command has an unknown method or params of the
  wrong shape, or a ``publish`` has an empty channel or no data (1.8).
  Every command is checked BEFORE any runs, so a bad batch has no effect;
* 503: the engine failed (e.g. Redis unreachable) while running a command;
  the commands before it in the request were done, those after it did not
  run, and the message says what became of it: ``Service Unavailable:
  engine error: <method> not done`` (safe to retry) or ``Service
  Unavailable: engine error: <method> outcome unknown (retry with the same
  idempotency_key)`` (it may have been done, e.g. a publish sent to a
  Redis that stalled).

Other failures are the item's ``error`` (``invalid message``, ``namespace not
found``, ``not available``).  Beyond 1.x: ``subscribe`` (user, channel: every
connection of the user on every node joins the channel; see
app.core.control for what clients receive) and ``history_remove``
(channel).  API ``unsubscribe``, ``disconnect`` and ``subscribe`` act on this
node, then tell the others with a control message.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine

from app.core import control
from app.core.engine import EngineError
from app.core.errors import ADVICE_FIX, INVALID_MESSAGE, HttpError, ProtocolError
from app.core.values import Message, UidSource
from app.dialects.v1x.channel_cmds import ChannelParams, history_data, presence_data  # the client's params
from app.dialects.v1x.context import V1xContext
from app.dialects.v1x.wire import Plan, Raw, channel_data, command_from, decode_batch, dumps, parse_planned, plan
from app.options import ChannelOptions

logger = logging.getLogger("sockhub.api")

#: What the Redis API queue runs; other methods are ignored there (1.8).
QUEUE_METHODS = frozenset({"publish", "broadcast", "unsubscribe", "disconnect"})


def bad_request(why: str) -> HttpError:
    return HttpError(400, "Bad Request: " + why)


@dataclass(slots=True)
class ApiPublishParams:
    channel: str = ""
    data: Raw | None = None
    client: str = ""
    uid: str = ""
    idempotency_key: str = ""  # beyond 1.x (Centrifugo 5.2's name): see Engine.publish_message


@dataclass(slots=True)
class BroadcastParams:
    channels: list[str] = field(default_factory=list)
    data: Raw | None = None
    client: str = ""
    idempotency_key: str = ""  # the same key for each channel's publish


#: Longest idempotency_key (a Redis key part); longer fails the request (400).
MAX_IDEMPOTENCY_KEY = 256


@dataclass(slots=True)
class UserChannelParams:
    user: str = ""
    channel: str = ""


@dataclass(slots=True)
class NoParams:
    pass


#: A command's handler: its body JSON text (None: null), or an awaitable of
#: it when the command has to wait (an engine call that awaits).
Handler = Callable[["ApiRunner", Any], "str | None | Awaitable[str | None]"]


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """``params`` dataclass, ``handler`` (see :data:`Handler`) and
    ``validate`` raising HttpError(400) for params that fail the whole request."""

    params: type
    handler: Handler
    validate: Callable[[Any], None] | None = None
    plan: Plan = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", plan(self.params))


@dataclass(slots=True)
class _Prepared:
    uid: str
    method: str
    spec: ApiSpec
    params: Any


def _invalid() -> ProtocolError:
    return ProtocolError(INVALID_MESSAGE, ADVICE_FIX)


def item(method: str, uid: str = "", body: str | None = None, error: str = "", advice: str = "") -> str:
    """One reply item; keys uid (if any), method, error, advice (if any), body."""
    out = '{"uid":' + dumps(uid) + "," if uid else "{"
    out += '"method":' + dumps(method) + ',"error":' + (dumps(error) if error else "null")
    if advice:
        out += ',"advice":' + dumps(advice)
    return out + ',"body":' + (body if body is not None else "null") + "}"


class ApiRunner:
    """Runs API commands against one node (``node.api``)."""

    def __init__(self, ctx: V1xContext) -> None:
        self._ctx = ctx
        self._uids = UidSource()

    async def execute(self, data: bytes) -> bytes:
        """One command object or an array in, a JSON array of items out."""
        answer = self.submit(data)
        return answer if isinstance(answer, bytes) else await answer

    def submit(self, data: bytes) -> bytes | Coroutine[Any, Any, bytes]:
        """:meth:`execute` without a coroutine when it can.  The commands run
        in order, each started at once: when none has to wait (every publish
        on an ImmediateEngine, the memory engine) the answer itself, else a
        coroutine that awaits the first one that waits and runs the rest.

        Raises HttpError(400) for bad data before anything runs, and
        HttpError(503) (or the coroutine does) when the engine fails.  No
        coroutine chain per command, nor the HTTP API's task per request, on
        the memory engine: bench/run.py api_1k and batch_1k."""
        started = time.perf_counter()
        handed_over = False
        try:
            commands = [self._prepare(raw) for raw in self._decode(data)]
            items: list[str] = []
            for index, command in enumerate(commands):
                done = self._start(command)
                if not isinstance(done, str):
                    handed_over = True
                    return self._finish(command, done, commands[index + 1:], items, started)
                items.append(done)
            return ("[" + ",".join(items) + "]").encode()
        finally:
            if not handed_over:
                self._ctx.metrics.api_latency.observe(time.perf_counter() - started)

    def _start(self, command: _Prepared) -> str | Awaitable[str | None]:
        """Count and start one command: its item when it is done, else what
        to await for its body (see :meth:`_item_of`)."""
        counts = self._ctx.metrics.tally.api_requests
        counts[command.method] = counts.get(command.method, 0) + 1
        try:
            body = command.spec.handler(self, command.params)
        except (ProtocolError, EngineError) as exc:
            return self._failed(command, exc)
        if body is None:
            return item(command.method, command.uid) if command.uid else _DONE[command.method]
        if isinstance(body, str):
            return item(command.method, command.uid, body)
        return body

    async def _item_of(self, command: _Prepared, body: Awaitable[str | None]) -> str:
        try:
            return item(command.method, command.uid, await body)
        except (ProtocolError, EngineError) as exc:
            return self._failed(command, exc)

    async def _finish(self, command: _Prepared, body: Awaitable[str | None], rest: list[_Prepared],
                      items: list[str], started: float) -> bytes:
        """The rest of :meth:`submit` from the first command that waits."""
        try:
            items.append(await self._item_of(command, body))
            for command in rest:
                done = self._start(command)
                items.append(done if isinstance(done, str) else await self._item_of(command, done))
        finally:
            self._ctx.metrics.api_latency.observe(time.perf_counter() - started)
        return ("[" + ",".join(items) + "]").encode()

    async def execute_queued(self, data: bytes) -> None:
        """One Redis API queue item: a command, or the pre-1.6 ``{"data":[..]}``
        envelope.  Only QUEUE_METHODS run; nothing is answered."""
        try:
            raws = self._decode(data)
            if len(raws) == 1 and isinstance(raws[0], dict) and "method" not in raws[0] \
                    and isinstance(raws[0].get("data"), list):
                raws = raws[0]["data"]
            wanted = [r for r in raws if isinstance(r, dict) and r.get("method") in QUEUE_METHODS]
            for command in [self._prepare(raw) for raw in wanted]:
                done = self._start(command)
                if not isinstance(done, str):
                    await self._item_of(command, done)
        except HttpError as exc:
            logger.warning("API queue item refused: %s", exc)

    def _decode(self, data: bytes) -> list[Any]:
        if not data or not data.strip():
            raise bad_request("empty data")
        try:
            text = data.decode("utf-8")
            return decode_batch(text)[0]
        except UnicodeDecodeError:
            raise bad_request("data is not UTF-8") from None
        except ValueError as exc:
            raise bad_request(f"malformed JSON ({exc})") from None

    def _prepare(self, raw: Any) -> _Prepared:
        """Check one command completely (400 for anything wrong)."""
        try:
            command = command_from(raw)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        spec = API_COMMANDS.get(command.method)
        if spec is None:
            raise bad_request(f"unknown method {command.method!r}")
        try:
            params: Any = parse_planned(spec.params, spec.plan, command.params)
        except ValueError as exc:
            raise bad_request(f"{command.method} params: {exc}") from None
        if spec.validate is not None:
            spec.validate(params)
        return _Prepared(command.uid, command.method, spec, params)

    @staticmethod
    def _failed(command: _Prepared, exc: ProtocolError | EngineError) -> str:
        """The item of a command that failed; an engine failure fails the request (503)."""
        if isinstance(exc, ProtocolError):
            return item(command.method, command.uid, None, exc.error, exc.advice)
        logger.warning("API %s: engine failed: %s", command.method, exc)
        outcome = "outcome unknown (retry with the same idempotency_key)" if exc.unknown else "not done"
        raise HttpError(503, f"Service Unavailable: engine error: {command.method} {outcome}") from None

    # -- the commands -----------------------------------------------------------------

    def _message(self, p: ApiPublishParams) -> tuple[Message, ChannelOptions]:
        options = self._ctx.rules.options(p.channel)
        assert p.data is not None  # validated
        return Message(p.uid or self._uids.take(), p.channel, p.data, p.client), options

    def publish(self, p: ApiPublishParams) -> Awaitable[None] | None:
        """Done when it returns None (see Publisher.publish): the path of
        every message of a batch."""
        if p.idempotency_key:
            return self._ctx.publisher.publish(*self._message(p), p.idempotency_key)
        return self._ctx.publisher.publish(*self._message(p))

    async def broadcast(self, p: BroadcastParams) -> None:
        """Each channel gets its own message and uid; namespaces checked first."""
        if not p.channels or p.data is None or not all(p.channels):
            raise _invalid()
        ctx = self._ctx
        targets = [(channel, ctx.rules.options(channel)) for channel in p.channels]
        for channel, options in targets:
            waiting = ctx.publisher.publish(Message(self._uids.take(), channel, p.data, p.client), options,
                                            p.idempotency_key)
            if waiting is not None:
                await waiting

    async def unsubscribe(self, p: UserChannelParams) -> None:
        if not p.user:
            raise _invalid()
        if p.channel:
            self._ctx.rules.options(p.channel)
        await control.unsubscribe_user(self._ctx, p.user, p.channel)
        await self._ctx.control.send("unsubscribe", {"user": p.user, "channel": p.channel})

    async def disconnect(self, p: UserChannelParams) -> None:
        if not p.user:
            raise _invalid()
        await control.disconnect_user(self._ctx, p.user)
        await self._ctx.control.send("disconnect", {"user": p.user})

    async def subscribe(self, p: UserChannelParams) -> None:
        if not p.user or not p.channel:
            raise _invalid()
        self._ctx.rules.options(p.channel)
        await control.subscribe_user(self._ctx, p.user, p.channel)
        await self._ctx.control.send("subscribe", {"user": p.user, "channel": p.channel})

    async def presence(self, p: ChannelParams) -> str:
        return channel_data(p.channel, await presence_data(self._ctx, p.channel))

    async def history(self, p: ChannelParams) -> str:
        return channel_data(p.channel, await history_data(self._ctx, p.channel))

    async def history_remove(self, p: ChannelParams) -> None:
        if not p.channel:
            raise _invalid()
        self._ctx.rules.options(p.channel)
        await self._ctx.engine.remove_history(p.channel)

    async def channels(self, p: NoParams) -> str:
        return '{"data":' + dumps(sorted(await self._ctx.engine.channels())) + "}"

    async def stats(self, p: NoParams) -> str:
        return dumps({"data": {"nodes": self._ctx.directory.nodes(),
                               "metrics_interval": self._ctx.options.node_metrics_interval}})

    async def node(self, p: NoParams) -> str:
        return dumps({"data": self._ctx.directory.node_info()})


def _validate_publish(p: ApiPublishParams) -> None:
    if not p.channel or p.data is None:
        raise bad_request("publish needs a channel and data")
    if p.idempotency_key:  # no call per publish without a key: bench/instructions.py batch
        _validate_key(p)


def _validate_key(p: ApiPublishParams | BroadcastParams) -> None:
    if len(p.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise bad_request(f"idempotency_key longer than {MAX_IDEMPOTENCY_KEY} characters")


def _spec(params: type, method: Callable[..., Any], validate: Callable[[Any], None] | None = None) -> ApiSpec:
    return ApiSpec(params, method, validate)


API_COMMANDS: dict[str, ApiSpec] = {
    "publish": _spec(ApiPublishParams, ApiRunner.publish, _validate_publish),
    "broadcast": _spec(BroadcastParams, ApiRunner.broadcast, _validate_key),
    "unsubscribe": _spec(UserChannelParams, ApiRunner.unsubscribe),
    "disconnect": _spec(UserChannelParams, ApiRunner.disconnect),
    "subscribe": _spec(UserChannelParams, ApiRunner.subscribe),
    "presence": _spec(ChannelParams, ApiRunner.presence),
    "history": _spec(ChannelParams, ApiRunner.history),
    "history_remove": _spec(ChannelParams, ApiRunner.history_remove),
    "channels": _spec(NoParams, ApiRunner.channels),
    "stats": _spec(NoParams, ApiRunner.stats),
    "node": _spec(NoParams, ApiRunner.node),
}
"""The ONE API dispatch table: method -> (params, handler, whole-request check)."""

#: The item of each method done without uid and body, built once (a batch of
#: publishes answers 100 of them).
_DONE: dict[str, str] = {method: item(method) for method in API_COMMANDS}
