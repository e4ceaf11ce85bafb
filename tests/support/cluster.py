"""Several real ``sockhub --engine redis`` nodes on one real redis-server,
optionally behind nginx with the project's nginx.conf.

    with Cluster(tmp_path, nodes=3, config={...}) as cluster:
        status, items = await cluster.api(cluster.nodes[0].url, "publish", {...})
        cluster.nginx_url  # sticky by SockJS session id, API to any node

Each node gets a name (``node0`` ... so ``stats`` can be read by name), a
short ``node_ping_interval`` and short Redis timeouts; every node shares one
fresh ``redis_prefix``, so clusters never see each other's data.  The Redis
keeps its port over ``kill_redis``/``start_redis`` (fault tests).  Used by
tests/cluster and bench/cluster_fanout.py.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any, Mapping

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from app.dialects.v1x.auth import api_sign
from tests.support.net import free_port
from tests.support.nginx import NginxProcess
from tests.support.redis import RedisServer, redis_server
from tests.support.server import SockhubProcess

SECRET = "cluster-secret"
#: Timings short enough for tests: nodes forget a dead peer after 2*0.5+1 s,
#: a dead PUB/SUB connection is noticed within about a second.
NODE_TIMINGS: dict[str, Any] = {
    "node_ping_interval": 0.5, "redis_read_timeout": 2, "redis_connect_timeout": 1,
    "redis_write_timeout": 1, "shutdown_timeout": 3,
}


class Cluster:
    """Redis + ``count`` sockhub nodes (+ nginx); see the module docstring."""

    def __init__(self, tmp_path: Path, count: int = 3, config: Mapping[str, Any] | None = None,
                 nginx: bool = True, log_level: str = "info", redis_args: tuple[str, ...] = ()) -> None:
        self.tmp_path = Path(tmp_path)
        self.count = count
        self.prefix = "c" + uuid.uuid4().hex[:10]
        self.extra = dict(config or {})
        self.with_nginx = nginx
        self.log_level = log_level
        self.redis_args = redis_args  # extra redis-server arguments (e.g. persistence)
        self.redis: RedisServer | None = None
        self.nodes: list[SockhubProcess] = []
        self.nginx: NginxProcess | None = None
        self._stack = contextlib.ExitStack()

    # -- life cycle ----------------------------------------------------------
    def __enter__(self) -> "Cluster":
        try:
            self.redis = self._stack.enter_context(redis_server(*self.redis_args))
            for index in range(self.count):
                node = SockhubProcess(self.tmp_path, self.node_config(index), name=f"node{index}")
                self.nodes.append(node)
                self._stack.callback(node.stop)
                node.start()
            if self.with_nginx:
                (self.tmp_path / "nginx").mkdir(exist_ok=True)
                self.nginx = self._stack.enter_context(
                    NginxProcess(self.tmp_path / "nginx", free_port(), [n.port for n in self.nodes],
                                 http_prefix=str(self.extra.get("http_prefix", ""))))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def node_config(self, index: int) -> dict[str, Any]:
        assert self.redis is not None
        return {"secret": SECRET, "engine": "redis", "redis_url": self.redis.url,
                "redis_prefix": self.prefix, "name": f"node{index}", "log_level": self.log_level,
                **NODE_TIMINGS, **self.extra}

    # -- addresses -----------------------------------------------------------
    @property
    def nginx_url(self) -> str:
        assert self.nginx is not None
        return f"http://127.0.0.1:{self.nginx.port}"

    @property
    def urls(self) -> list[str]:
        """Every node's base URL."""
        return [node.url for node in self.nodes]

    # -- faults --------------------------------------------------------------
    def kill_node(self, index: int) -> None:
        """SIGKILL one node (no shutdown: its clients see the sockets die)."""
        node = self.nodes[index]
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait(5)

    def kill_redis(self) -> None:
        """SIGKILL the redis-server (without persistence in ``redis_args`` its data is gone)."""
        assert self.redis is not None and self.redis.proc is not None
        self.redis.proc.kill()
        self.redis.proc.wait(5)

    def start_redis(self) -> None:
        """Start the redis-server again on the same port (empty unless persisted)."""
        assert self.redis is not None
        self.redis.start()

    def pause_redis(self, paused: bool) -> None:
        """SIGSTOP (``paused``) or SIGCONT the redis-server: a stall, connections stay open."""
        assert self.redis is not None and self.redis.proc is not None
        os.kill(self.redis.proc.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def tracebacks(self) -> dict[str, str]:
        """Logs of the nodes that contain a Python traceback."""
        return {n.name: n.logs() for n in self.nodes if "Traceback (most recent call last)" in n.logs()}

    # -- the signed HTTP API -------------------------------------------------
    async def api(self, base_url: str, method: str, params: Mapping[str, Any] | None = None,
                  timeout: float = 10) -> tuple[int, Any]:
        """One signed command (JSON body, X-API-Sign) to ``base_url``/api/;
        returns the HTTP status and the decoded reply (text when not JSON)."""
        body = json.dumps({"method": method, "params": dict(params or {})}).encode()
        headers = {"Content-Type": "application/json", "X-API-Sign": api_sign(SECRET, body)}
        try:
            response = await AsyncHTTPClient().fetch(base_url + "/api/", method="POST", body=body,
                                                     headers=headers, request_timeout=timeout)
        except HTTPClientError as exc:
            text = exc.response.body.decode(errors="replace") if exc.response is not None else str(exc)
            return exc.code, text
        return response.code, json.loads(response.body)

    async def result(self, base_url: str, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """The body of a command that must succeed (status 200, error null)."""
        status, items = await self.api(base_url, method, params)
        assert status == 200, (base_url, method, status, items)
        assert items[0]["error"] is None, items
        return items[0]["body"]

    async def node_names(self, base_url: str) -> list[str]:
        """The names of the nodes ``stats`` on ``base_url`` lists, sorted."""
        body = await self.result(base_url, "stats")
        return sorted(node["name"] for node in body["data"]["nodes"])

    async def num_clients(self) -> list[int]:
        """Authenticated clients on each live node (its ``node`` metrics)."""
        out = []
        for node in self.nodes:
            if node.proc is None or node.proc.poll() is not None:
                out.append(0)
                continue
            body = await self.result(node.url, "node")
            out.append(int(body["data"]["metrics"]["node_num_clients"]))
        return out
