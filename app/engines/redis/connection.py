"""Redis clients built from Options: plain shards, Sentinel masters or one Cluster.

Each :class:`Endpoint` is one shard: a client for commands plus the
connection pool(s) its PUB/SUB connection is taken from.  Channels map to
shards by jump consistent hash (see keys.py); a Sentinel setup with several
comma-separated master names shards over the masters; a Cluster is one
endpoint (Redis Cluster shards by itself).

redis-py's own retries are switched off (``Retry(NoBackoff(), 0)``): the
engine fails promptly and the caller (client, API) decides to retry, and the
PUB/SUB reader has its own backoff.  The hiredis parser is used because it
is installed (redis-py picks it by itself).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.asyncio.retry import Retry

from app.options import Options


@dataclass(slots=True)
class Endpoint:
    name: str
    client: Any  # Redis or RedisCluster
    pubsub_pools: list[ConnectionPool]
    #: Other clients to close with this endpoint (the Sentinel connections).
    others: list[Any] = field(default_factory=list)


def _common(options: Options) -> dict[str, Any]:
    return {
        "password": options.redis_password or None,
        # 0 means "no limit" (as in Centrifugo), never "fail at once"
        "socket_connect_timeout": float(options.redis_connect_timeout) or None,
        "socket_timeout": float(options.redis_read_timeout) or None,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": False,
    }


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def addresses(options: Options) -> list[tuple[str, int]]:
    """(host, port) of every configured server, from redis_url or host/port lists."""
    if options.redis_url:
        out = []
        for url in _split(options.redis_url):
            parts = urlsplit(url)
            out.append((parts.hostname or "127.0.0.1", parts.port or 6379))
        return out
    hosts, ports = _split(options.redis_host) or ["127.0.0.1"], _split(options.redis_port) or ["6379"]
    if len(hosts) == 1:
        hosts = hosts * len(ports)
    if len(ports) == 1:
        ports = ports * len(hosts)
    if len(hosts) != len(ports):
        raise ValueError("redis_host and redis_port list different numbers of servers")
    return [(host, int(port)) for host, port in zip(hosts, ports)]


def build_endpoints(options: Options) -> list[Endpoint]:
    """The shards the options describe; nothing connects yet."""
    if options.redis_cluster:
        return [_cluster(options)]
    if options.redis_master_name:
        return _sentinel(options)
    common = _common(options)
    if options.redis_url:
        # named by host:port only: a URL may hold the password, and names reach the logs
        return [
            _plain(f"{host}:{port}", partial(ConnectionPool.from_url, url, **common))
            for url, (host, port) in zip(_split(options.redis_url), addresses(options))
        ]
    return [
        _plain(f"{host}:{port}", partial(ConnectionPool, host=host, port=port, db=options.redis_db, **common))
        for host, port in addresses(options)
    ]


def _plain(name: str, make_pool: Callable[[], ConnectionPool]) -> Endpoint:
    """One server: a pool for commands and one for the PUB/SUB connection."""
    return Endpoint(name, Redis(connection_pool=make_pool()), [make_pool()])


def _sentinel(options: Options) -> list[Endpoint]:
    sentinels = []
    for item in _split(options.redis_sentinels):
        host, _, port = item.rpartition(":")
        sentinels.append((host or "127.0.0.1", int(port)))
    if not sentinels:
        raise ValueError("redis_master_name needs redis_sentinels")
    common = _common(options)
    sentinel_kwargs = {k: common[k] for k in ("socket_connect_timeout", "socket_timeout", "retry")}
    sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs, db=options.redis_db, **common)  # type: ignore[no-untyped-call,unused-ignore]
    out = []
    for master in _split(options.redis_master_name):
        client = sentinel.master_for(master)
        listener = sentinel.master_for(master)
        out.append(Endpoint(f"sentinel:{master}", client, [listener.connection_pool]))
    out[0].others.extend(sentinel.sentinels)
    return out


def _cluster(options: Options) -> Endpoint:
    common = _common(options)
    nodes = addresses(options)
    retry = common.pop("retry")
    client = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes], retry=retry, **common
    )
    # Classic PUB/SUB is cluster-wide: any node hears every PUBLISH, so the
    # listener uses one startup node and moves to the next when it fails.
    pools = [ConnectionPool(host=host, port=port, retry=retry, **common) for host, port in nodes]
    return Endpoint("cluster", client, pools)
