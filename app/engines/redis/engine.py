"""The Redis engine: several nodes share channels, history and presence.

How the pieces fit (each in its own module):
- connection.py builds one Endpoint per shard (plain servers, Sentinel
  masters, or one Cluster); keys.py names keys/topics and picks a channel's
  shard (jump hash over FNV-1a-64; control, admin and the API queue use
  shard 0);
- batcher.py pipelines every command of a loop tick into one round trip per
  shard; scripts.py holds the Lua scripts; codec.py the JSON payloads;
- subscriber.py keeps one PUB/SUB connection per shard subscribed to the
  topics of the channels this node holds, reconnecting and resubscribing
  by itself (and then telling the handler which channels lost messages);
- api_queue.py consumes the Redis API queue.

Delivery: a message published on any node comes back through Redis to every
node subscribed to its channel, this one included, and reaches the handler
once per node (one PUB/SUB subscription per channel per node).

Failure: every method raises EngineError within about
``redis_connect_timeout + redis_write_timeout`` seconds when Redis is away;
``unsubscribe`` never raises.  In Cluster mode ``drop_inactive`` is not
applied (PUBSUB NUMSUB in a script counts only the subscribers of one cluster node,
so "nobody listens" cannot be known there); history is then always kept.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from app.core.engine import EngineError, EngineHandler, HistoryOptions
from app.core.values import ClientInfo, HistoryPage, Message, StreamPosition, UidSource
from app.engines.redis import codec
from app.engines.redis.api_queue import ApiQueueConsumer
from app.engines.redis.batcher import Batcher
from app.engines.redis.connection import Endpoint, build_endpoints
from app.engines.redis.keys import Names, shard_index
from app.engines.redis.scripts import (
    HISTORY,
    PRESENCE_ADD,
    PRESENCE_GET,
    PRESENCE_REMOVE,
    PUBLISH_IDEMPOTENT,
    PUBLISH_WITH_HISTORY,
)
from app.engines.redis.status import RedisStatusStore, status_base
from app.engines.redis.subscriber import Subscriber
from app.options import Options

logger = logging.getLogger("sockhub.engines.redis")

#: Lua numbers are doubles: a client's since offset (any uint64) is passed at
#: most as 2**53, past every offset a stream reaches, so reads after it find
#: nothing and reads before it find everything, as for the true value.
MAX_SCRIPT_OFFSET = 2 ** 53


class RedisEngine:
    """The Engine of base.py over one or more Redis servers."""

    name = "Redis"

    def __init__(self, options: Options, clock: Callable[[], float] = time.time, pipelined: bool = True) -> None:
        self._options = options
        self._clock = clock  # presence expiry scores; wall clock so nodes agree
        self._names = Names(options.redis_prefix, cluster=options.redis_cluster)
        self._cluster = options.redis_cluster
        self._op_timeout = float(max(options.redis_connect_timeout + options.redis_write_timeout, 1))
        self._endpoints: list[Endpoint] = build_endpoints(options)
        self._batchers = [Batcher(ep.client, timeout=self._op_timeout, pipelined=pipelined) for ep in self._endpoints]
        self._subscribers: list[Subscriber] = []
        self._api: ApiQueueConsumer | None = None
        self._handler: EngineHandler | None = None
        self._epochs = UidSource()  # epoch candidates, one per publish with history
        names = self._names
        self._exact: dict[str, Callable[[EngineHandler, bytes], None]] = {
            names.control: lambda h, data: h.handle_control(data),
            names.admin: lambda h, data: h.handle_admin(data),
        }
        self._by_prefix: tuple[tuple[str, Callable[[EngineHandler, str, bytes], None]], ...] = (
            (names.message_prefix, lambda h, ch, data: h.handle_message(codec.decode_message(data))),
            (names.join_prefix, lambda h, ch, data: h.handle_join(ch, codec.decode_info(data))),
            (names.leave_prefix, lambda h, ch, data: h.handle_leave(ch, codec.decode_info(data))),
        )

    # -- life cycle -----------------------------------------------------------

    async def run(self, handler: EngineHandler) -> None:
        """Connect the PUB/SUB listeners (waiting up to the op timeout for
        each; an unreachable Redis is retried in the background, the node
        stays up) and start the API queue consumer when ``redis_api``."""
        self._handler = handler
        read_timeout = float(self._options.redis_read_timeout or 10)
        for index, endpoint in enumerate(self._endpoints):
            fixed = [self._names.control, self._names.admin] if index == 0 else []
            self._subscribers.append(
                Subscriber(
                    endpoint.pubsub_pools, fixed, self._dispatch,
                    read_timeout=read_timeout, op_timeout=self._op_timeout, name=endpoint.name,
                    on_restored=self._on_restored,
                )
            )
        await asyncio.gather(*(s.start() for s in self._subscribers))
        if self._options.redis_api:
            queues = self._names.api_queues(self._options.redis_api_num_shards)
            self._api = ApiQueueConsumer(self._endpoints[0].client, queues, self._on_api, max(read_timeout / 2, 0.1))
            self._api.start()

    async def shutdown(self) -> None:
        if self._api is not None:
            await self._api.close()
        await asyncio.gather(*(s.close() for s in self._subscribers))
        await asyncio.gather(*(b.close() for b in self._batchers))
        for endpoint in self._endpoints:
            await endpoint.client.aclose()
            pool = getattr(endpoint.client, "connection_pool", None)
            if pool is not None:  # a pool given to Redis() is not closed by aclose()
                await pool.disconnect()
            for pool in endpoint.pubsub_pools:
                await pool.disconnect()
            for other in endpoint.others:
                await other.aclose()

    @property
    def batchers(self) -> list[Batcher]:
        """The per-shard command pipelines (tests and the bench read their counters)."""
        return self._batchers

    @property
    def subscribers(self) -> list[Subscriber]:
        """The per-shard PUB/SUB listeners (tests and stats read their state)."""
        return self._subscribers

    def status_store(self) -> RedisStatusStore:
        """Online status and occupancy on the first shard (app.core.status)."""
        return RedisStatusStore(self._batchers[0], status_base(self._options.redis_prefix, self._cluster))

    def _dispatch(self, topic: str, data: bytes) -> None:
        """Called by a Subscriber for each PUB/SUB message, in arrival order."""
        handler = self._handler
        if handler is None:
            return
        try:
            exact = self._exact.get(topic)
            if exact is not None:
                exact(handler, data)
                return
            for prefix, deliver in self._by_prefix:
                if topic.startswith(prefix):
                    deliver(handler, topic[len(prefix) :], data)
                    return
        except codec.CodecError as exc:
            logger.warning("undecodable payload on %s: %s", topic, exc)
        except Exception:  # loop boundary: the reader must go on
            logger.exception("engine handler failed for %s", topic)

    def _on_restored(self, topics: list[str]) -> None:
        """A listener is back after a failure: its channels missed messages."""
        prefix = self._names.message_prefix
        channels = [topic[len(prefix) :] for topic in topics if topic.startswith(prefix)]
        if channels and self._handler is not None:
            self._handler.handle_lost(channels)

    def _on_api(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.handle_api(data)

    # -- routing --------------------------------------------------------------

    def _shard(self, channel: str) -> int:
        return shard_index(channel, len(self._endpoints))

    async def _call(self, shard: int, *args: Any) -> Any:
        return await self._batchers[shard].call(*args)

    # -- broker ---------------------------------------------------------------

    async def publish_message(self, message: Message, history: HistoryOptions, idempotency_key: str = "") -> None:
        channel = message.channel
        payload = codec.encode_message(message)
        topic = self._names.message_prefix + channel
        if not history.enabled:
            if not idempotency_key:
                await self._call(self._shard(channel), "PUBLISH", topic, payload)
            else:
                await self._call(self._shard(channel), "EVALSHA", PUBLISH_IDEMPOTENT.sha, 1,
                                 self._names.idempotency(channel, idempotency_key), topic, payload,
                                 self._options.idempotent_result_ttl)
            return
        drop = "1" if history.drop_inactive and not self._cluster else "0"
        names = self._names
        keys = [names.history_stream(channel), names.history_meta(channel), names.history_touch(channel)]
        extra: list[Any] = []
        if idempotency_key:
            keys.append(names.idempotency(channel, idempotency_key))
            extra.append(self._options.idempotent_result_ttl)
        reply = await self._call(
            self._shard(channel), "EVALSHA", PUBLISH_WITH_HISTORY.sha, len(keys), *keys,
            topic, payload, history.size, history.lifetime, drop, self._epochs.take()[:8], *extra,
        )
        message.offset, message.epoch = reply[0], reply[1].decode()

    async def publish_join(self, channel: str, info: ClientInfo) -> None:
        await self._call(self._shard(channel), "PUBLISH", self._names.join_prefix + channel, codec.encode_info(info))

    async def publish_leave(self, channel: str, info: ClientInfo) -> None:
        await self._call(self._shard(channel), "PUBLISH", self._names.leave_prefix + channel, codec.encode_info(info))

    async def publish_control(self, data: bytes) -> None:
        await self._call(0, "PUBLISH", self._names.control, data)

    async def publish_admin(self, data: bytes) -> None:
        await self._call(0, "PUBLISH", self._names.admin, data)

    async def subscribe(self, channel: str) -> None:
        await self._subscribers[self._shard(channel)].subscribe(list(self._names.topics(channel)))

    async def unsubscribe(self, channel: str, history: HistoryOptions | None = None) -> None:
        shard = self._shard(channel)
        await self._subscribers[shard].unsubscribe(list(self._names.topics(channel)))
        if history is not None and history.enabled and history.drop_inactive:
            try:
                await self._call(shard, "SET", self._names.history_touch(channel), b"", "EX", history.lifetime)
            except EngineError as exc:
                logger.warning("could not mark %s as recently active: %s", channel, exc)

    async def channels(self) -> list[str]:
        prefix = self._names.message_prefix
        pattern = _glob_escape(prefix) + "*"
        found: set[str] = set()
        try:
            async with asyncio.timeout(self._op_timeout):
                for endpoint in self._endpoints:
                    # a Cluster client asks every node and merges the answers
                    for topic in await endpoint.client.pubsub_channels(pattern):
                        found.add(topic.decode()[len(prefix) :])
        except (RedisError, OSError, TimeoutError) as exc:
            raise EngineError(f"redis: {str(exc) or type(exc).__name__}") from None
        return sorted(found)

    # -- history --------------------------------------------------------------

    async def history(self, channel: str, limit: int = -1, since: StreamPosition | None = None,
                      reverse: bool = False, lifetime: int = 0) -> HistoryPage:
        names = self._names
        offset, epoch_bytes, entries = await self._call(
            self._shard(channel), "EVALSHA", HISTORY.sha, 2, names.history_stream(channel), names.history_meta(channel),
            max(limit, -1), "" if since is None else min(since.offset, MAX_SCRIPT_OFFSET), "1" if reverse else "0",
            self._epochs.take()[:8] if lifetime > 0 else "", lifetime,
        )
        epoch = epoch_bytes.decode()
        out = []
        for entry in entries:
            try:
                out.append(codec.decode_entry(entry, epoch))
            except codec.CodecError as exc:
                logger.warning("skipping undecodable history entry of %s: %s", channel, exc)
        return HistoryPage(out, StreamPosition(offset, epoch))

    async def remove_history(self, channel: str) -> None:
        await self._call(self._shard(channel), "DEL", self._names.history_stream(channel))

    # -- presence -------------------------------------------------------------

    def _presence_keys(self, channel: str) -> tuple[str, str]:
        return self._names.presence_set(channel), self._names.presence_hash(channel)

    async def add_presence(self, channel: str, uid: str, info: ClientInfo, expire: int) -> None:
        zset, hash_ = self._presence_keys(channel)
        expire_at = self._clock() + expire
        await self._call(
            self._shard(channel), "EVALSHA", PRESENCE_ADD.sha, 2, zset, hash_,
            repr(expire_at), expire, uid, codec.encode_info(info),
        )

    async def remove_presence(self, channel: str, uid: str) -> None:
        zset, hash_ = self._presence_keys(channel)
        await self._call(self._shard(channel), "EVALSHA", PRESENCE_REMOVE.sha, 2, zset, hash_, uid)

    async def presence(self, channel: str) -> dict[str, ClientInfo]:
        zset, hash_ = self._presence_keys(channel)
        flat = await self._call(self._shard(channel), "EVALSHA", PRESENCE_GET.sha, 2, zset, hash_, repr(self._clock()))
        out = {}
        for uid, info in zip(flat[::2], flat[1::2]):
            try:
                out[uid.decode()] = codec.decode_info(info)
            except codec.CodecError as exc:
                logger.warning("skipping undecodable presence entry of %s: %s", channel, exc)
        return out


def _glob_escape(text: str) -> str:
    """Escape Redis glob specials so the prefix matches literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

