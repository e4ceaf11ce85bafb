"""The current-style API's commands over the core: ONE table
(:data:`COMMANDS`), a single command (:meth:`ServerApi.call`) and a batch
(:meth:`ServerApi.batch`).

A command's answer is a :class:`Reply`: its result object or its
:class:`~app.dialects.v2api.errors.ApiError`.  The whole request fails with
:class:`~app.dialects.v2api.params.ParamsError` (400) when its body does
not parse or a field has the wrong type; every command of a batch is parsed
before any runs.  An engine failure is the command's ``internal server
error`` (100), as Centrifugo answers it.

Each command runs at once and only a command that has to wait (an engine
call that awaits) costs a coroutine: a publish on the memory engine is
answered without one, as the 1.x API's.  Beyond the core of today, documented
here: ``tags``, ``idempotency_key`` and ``delta`` of a publish are checked
and not kept; ``subscribe`` takes ``client`` and ``info``, not ``data``,
``expire_at`` or ``recover_since`` (its ``override`` is applied:
app.core.overrides); ``refresh`` acts on
``expired`` only; ``session`` is not a notion of this server (ignored);
batch ``parallel`` runs the commands in order all the same;
``channels`` counts each channel's subscribers on this node.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine

from app.core import control, overrides, streams, subscriptions
from app.core.engine import EngineError
from app.core.errors import DISCONNECT, EXPIRED, ProtocolError
from app.core.values import Message, StreamPosition, UidSource
from app.dialects.v2api import positions, results
from app.dialects.v2api.context import ServerApiContext
from app.dialects.v2api.errors import BAD_REQUEST, INTERNAL, NOT_AVAILABLE_CODE, NOT_FOUND, ApiError, from_core, from_engine
from app.dialects.v2api.params import (
    BroadcastRequest, ChannelRequest, ChannelsRequest, DisconnectRequest, HistoryRequest, InfoRequest,
    ParamsError, Plan, Position, PublishRequest, RawJson, RefreshRequest, RpcRequest, SubscribeRequest,
    UnsubscribeRequest, decode_body, decoded_b64, parse, plan,
)
from app.dialects.v2api.pattern import Pattern
from app.options import ChannelOptions
from transports.strictjson import loads

#: Commands of a batch, channels of a broadcast: at most this many per request.
MAX_BATCH = 1000
#: Longest idempotency_key of a publish or broadcast (a Redis key part).
MAX_IDEMPOTENCY_KEY = 256
#: A disconnect reason's bytes at most: it must fit in every close frame and proxy.
MAX_REASON = 32

Result = str | Awaitable[str]
Handler = Callable[["ServerApi", Any], Result]


@dataclass(frozen=True, slots=True)
class Reply:
    """A command's result object (JSON text) or its error."""

    result: str = "{}"
    error: ApiError | None = None


@dataclass(frozen=True, slots=True)
class Spec:
    request: type
    handler: Handler
    plan: Plan = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", plan(self.request))


def _failure(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ProtocolError):
        return from_core(exc.error)
    if isinstance(exc, EngineError):
        return from_engine(exc.unknown)
    return ApiError(INTERNAL)


async def _settled(result: Awaitable[str]) -> Reply:
    try:
        return Reply(await result)
    except (ApiError, ProtocolError, EngineError) as exc:
        return Reply(error=_failure(exc))


class ServerApi:
    """Runs current-style API commands against one node (``node.server_api``)."""

    def __init__(self, ctx: ServerApiContext) -> None:
        self._ctx = ctx
        self._uids = UidSource()

    # -- requests ---------------------------------------------------------------------

    def call(self, method: str, body: bytes) -> Reply | Coroutine[Any, Any, Reply]:
        """One command of ``POST /api/<method>`` (a method of COMMANDS):
        its reply, or a coroutine of it when it has to wait.  Raises
        ParamsError for a body that does not parse."""
        return self.call_value(method, decode_body(body))

    def call_value(self, method: str, params: Any) -> Reply | Coroutine[Any, Any, Reply]:
        """:meth:`call` with the params already decoded (the Centrifugo 2
        API's commands, app.dialects.v1api); ParamsError when they do not fit."""
        spec = COMMANDS[method]
        request: Any = parse(spec.request, spec.plan, params)
        return self._run(method, spec, request)

    async def batch(self, body: bytes) -> str:
        """``POST /api/batch``: ``{"replies":[...]}``, one per command in
        order, each ``{"<method>": result}`` or ``{"error": ...}``."""
        commands = self._batch_commands(decode_body(body))
        replies = []
        request: Any
        for method, spec, request in commands:
            if spec is None:
                replies.append('{"error":' + ApiError(NOT_FOUND).json() + "}")
                continue
            reply = self._run(method, spec, request)
            if not isinstance(reply, Reply):
                reply = await reply
            replies.append('{"error":' + reply.error.json() + "}" if reply.error
                           else '{"' + method + '":' + reply.result + "}")
        return '{"replies":[' + ",".join(replies) + "]}"

    @staticmethod
    def _batch_commands(value: dict[str, Any]) -> list[tuple[str, Spec | None, Any]]:
        commands = value.get("commands")
        if commands is None:
            commands = []
        if not isinstance(commands, list):
            raise ParamsError("commands: list expected")
        if len(commands) > MAX_BATCH:
            raise ParamsError(f"commands: at most {MAX_BATCH}")
        parallel = value.get("parallel")
        if parallel is not None and not isinstance(parallel, bool):
            raise ParamsError("parallel: bool expected")
        out: list[tuple[str, Spec | None, Any]] = []
        for index, command in enumerate(commands):
            if not isinstance(command, dict):
                raise ParamsError(f"commands[{index}]: object expected")
            method = next((m for m in COMMANDS if command.get(m) is not None), "")
            spec = COMMANDS.get(method)
            try:
                out.append((method, spec, parse(spec.request, spec.plan, command[method]) if spec else None))
            except ParamsError as exc:
                raise ParamsError(f"commands[{index}].{method}: {exc}") from None
        return out

    def _run(self, method: str, spec: Spec, request: Any) -> Reply | Coroutine[Any, Any, Reply]:
        metrics = self._ctx.metrics
        counts = metrics.tally.api_requests
        counts[method] = counts.get(method, 0) + 1
        started = time.perf_counter()
        try:
            result = spec.handler(self, request)
        except (ApiError, ProtocolError, EngineError) as exc:
            return Reply(error=_failure(exc))
        finally:
            metrics.api_latency.observe(time.perf_counter() - started)
        return Reply(result) if isinstance(result, str) else _settled(result)

    # -- publishing -------------------------------------------------------------------

    def _options(self, channel: str) -> ChannelOptions:
        return self._ctx.rules.options(channel)  # ProtocolError: unknown channel

    @staticmethod
    def _data(data: RawJson | None, b64data: str) -> str:
        found = decoded_b64(b64data) if b64data else data
        if found is None:
            raise ApiError(BAD_REQUEST)
        return found

    def _publish(self, channel: str, data: str, skip_history: bool, idempotency_key: str = "") -> Result:
        if not channel or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise ApiError(BAD_REQUEST)
        options = self._options(channel)
        if skip_history and options.history_size:
            options = dataclasses.replace(options, history_size=0)
        message = Message(self._uids.take(), channel, data)
        waiting = self._ctx.publisher.publish(message, options, idempotency_key)
        return positions.published(message) if waiting is None else self._published_later(waiting, message)

    @staticmethod
    async def _published_later(waiting: Awaitable[None], message: Message) -> str:
        await waiting
        return positions.published(message)

    def publish(self, p: PublishRequest) -> Result:
        if not p.channel:
            raise ApiError(BAD_REQUEST)
        return self._publish(p.channel, self._data(p.data, p.b64data), p.skip_history, p.idempotency_key)

    def broadcast(self, p: BroadcastRequest) -> Result:
        """One publication per channel, in order; each channel's own
        response (``{"result":..}`` or ``{"error":..}``)."""
        if not p.channels or len(p.channels) > MAX_BATCH:
            raise ApiError(BAD_REQUEST)
        data = self._data(p.data, p.b64data)
        started = [self._publish_to(channel, data, p.skip_history, p.idempotency_key) for channel in p.channels]
        if all(isinstance(one, Reply) for one in started):
            return self._responses([one for one in started if isinstance(one, Reply)])
        return self._broadcast_later(started)

    def _publish_to(self, channel: str, data: str, skip_history: bool, idempotency_key: str) -> Reply | Awaitable[Reply]:
        try:
            result = self._publish(channel, data, skip_history, idempotency_key)
        except (ApiError, ProtocolError, EngineError) as exc:
            return Reply(error=_failure(exc))
        return Reply(result) if isinstance(result, str) else _settled(result)

    async def _broadcast_later(self, started: list[Reply | Awaitable[Reply]]) -> str:
        return self._responses([one if isinstance(one, Reply) else await one for one in started])

    @staticmethod
    def _responses(replies: list[Reply]) -> str:
        items = ('{"error":' + r.error.json() + "}" if r.error else '{"result":' + r.result + "}" for r in replies)
        return '{"responses":[' + ",".join(items) + "]}"

    # -- users' connections -----------------------------------------------------------

    async def subscribe(self, p: SubscribeRequest) -> str:
        if not p.channel:
            raise ApiError(BAD_REQUEST)
        self._options(p.channel)
        info = decoded_b64(p.b64info) if p.b64info else p.info or ""
        try:
            asked = loads(p.override) if p.override else None
            override = overrides.parse(asked)
        except ValueError:  # OverrideInvalid too
            raise ApiError(BAD_REQUEST) from None
        await control.subscribe_user(self._ctx, p.user, p.channel, p.client, info, override)
        params: dict[str, Any] = {"user": p.user, "channel": p.channel, "client": p.client, "info": info}
        if asked:
            params["override"] = asked
        await self._ctx.control.send("subscribe", params)
        return "{}"

    async def unsubscribe(self, p: UnsubscribeRequest) -> str:
        if p.channel:
            self._options(p.channel)
        await control.unsubscribe_user(self._ctx, p.user, p.channel, p.client)
        await self._ctx.control.send("unsubscribe", {"user": p.user, "channel": p.channel, "client": p.client})
        return "{}"

    async def disconnect(self, p: DisconnectRequest) -> str:
        """The ``disconnect`` object's reason (at most MAX_REASON bytes; its
        code decides reconnect, as the SDKs read codes); without it
        ``disconnect``, no reconnect."""
        reason, reconnect, code = DISCONNECT, False, None
        if p.disconnect is not None:
            code = p.disconnect.code or None
            reason = p.disconnect.reason or DISCONNECT
            if len(reason.encode()) > MAX_REASON:
                raise ApiError(BAD_REQUEST)
            reconnect = code is None or not (3500 <= code < 4000 or 4500 <= code < 5000)
        await self._disconnect(p.user, p.client, p.whitelist, reason, reconnect, code)
        return "{}"

    async def _disconnect(self, user: str, client: str, keep: list[str], reason: str, reconnect: bool,
                          code: int | None = None) -> None:
        await control.disconnect_user(self._ctx, user, client, frozenset(keep), reason, reconnect, code)
        params: dict[str, Any] = {"user": user, "client": client, "whitelist": keep, "reason": reason,
                                  "reconnect": reconnect}
        if code is not None:
            params["code"] = code
        await self._ctx.control.send("disconnect", params)

    async def refresh(self, p: RefreshRequest) -> str:
        if p.expired:
            await self._disconnect(p.user, p.client, [], EXPIRED, True)
        return "{}"

    # -- channels ---------------------------------------------------------------------

    async def presence(self, p: ChannelRequest) -> str:
        return results.presence(await self._presence(p.channel))

    async def presence_stats(self, p: ChannelRequest) -> str:
        return results.presence_stats(await self._presence(p.channel))

    async def _presence(self, channel: str) -> Any:
        if not channel:
            raise ApiError(BAD_REQUEST)
        return await subscriptions.presence(self._ctx, channel)

    async def history(self, p: HistoryRequest) -> str:
        """``limit`` 0: the position only; below 0: every publication; else
        at most that many from the oldest (``reverse``: from the newest)."""
        if not p.channel:
            raise ApiError(BAD_REQUEST)
        since = StreamPosition(p.since.offset, p.since.epoch) if p.since is not None else None
        page = await streams.read_history(self._ctx, p.channel, p.limit if p.limit >= 0 else -1, since, p.reverse)
        return results.history(page.publications, Position(page.position.offset, page.position.epoch))

    async def history_remove(self, p: ChannelRequest) -> str:
        if not p.channel:
            raise ApiError(BAD_REQUEST)
        if not subscriptions.history_options(self._options(p.channel)).enabled:
            raise ApiError(NOT_AVAILABLE_CODE)
        await self._ctx.engine.remove_history(p.channel)
        return "{}"

    async def channels(self, p: ChannelsRequest) -> str:
        pattern = Pattern(p.pattern) if p.pattern else None
        names = sorted(await self._ctx.engine.channels())
        hub = self._ctx.hub
        return results.channels({name: len(hub.channel_clients(name)) for name in names
                                 if pattern is None or pattern.match(name)})

    def info(self, p: InfoRequest) -> str:
        ctx = self._ctx
        now, interval = ctx.clock(), ctx.options.node_metrics_interval
        return '{"nodes":[' + ",".join(results.node(n, interval, now) for n in ctx.directory.nodes()) + "]}"

    def rpc(self, p: RpcRequest) -> str:
        """No RPC extension is registered: ``not found`` for every method."""
        raise ApiError(BAD_REQUEST if not p.method else NOT_FOUND)


def _spec(request: type, handler: Callable[..., Any]) -> Spec:
    return Spec(request, handler)


COMMANDS: dict[str, Spec] = {
    "publish": _spec(PublishRequest, ServerApi.publish),
    "broadcast": _spec(BroadcastRequest, ServerApi.broadcast),
    "subscribe": _spec(SubscribeRequest, ServerApi.subscribe),
    "unsubscribe": _spec(UnsubscribeRequest, ServerApi.unsubscribe),
    "disconnect": _spec(DisconnectRequest, ServerApi.disconnect),
    "history": _spec(HistoryRequest, ServerApi.history),
    "history_remove": _spec(ChannelRequest, ServerApi.history_remove),
    "presence": _spec(ChannelRequest, ServerApi.presence),
    "presence_stats": _spec(ChannelRequest, ServerApi.presence_stats),
    "info": _spec(InfoRequest, ServerApi.info),
    "rpc": _spec(RpcRequest, ServerApi.rpc),
    "refresh": _spec(RefreshRequest, ServerApi.refresh),
    "channels": _spec(ChannelsRequest, ServerApi.channels),
}
"""THE command table, in the order a batch command's method key is looked for."""

#: Every route under ``{http_prefix}/api/``: the commands and ``batch``.
ROUTES = frozenset(COMMANDS) | {"batch"}
