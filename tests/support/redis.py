"""Real redis-server instances for tests: single, several (sharding), Sentinel, Cluster.

Every instance is Debian's /usr/bin/redis-server on a free port of
127.0.0.1, with no persistence (``--save "" --appendonly no``) and its own
temporary directory; nothing here touches a Redis it did not start, and
nothing flushes a database (tests isolate themselves with a fresh key
prefix instead).  ``stop()`` / ``start()`` keep the port, for fault tests.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port, wait_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


@dataclass
class RedisServer:
    """One redis-server process on a fixed port; restartable."""

    port: int
    workdir: Path
    extra: list[str] = field(default_factory=list)
    config_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        head = [REDIS_SERVER] + ([str(self.config_file)] if self.config_file else [])
        return head + [
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "no",
            "--logfile", str(self.workdir / "redis.log"),
        ] + self.extra

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, timeout=10)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); connections see it die."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cli(self, *args: str) -> str:
        """Run redis-cli against this server; returns its stdout."""
        out = subprocess.run(
            [REDIS_CLI, "-p", str(self.port), *args], capture_output=True, check=True, timeout=30
        )
        return out.stdout.decode()


def _tmpdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"sockhub-{name}-"))


@contextlib.contextmanager
def redis_server(*extra: str) -> Iterator[RedisServer]:
    """A running redis-server, stopped and its directory removed afterwards."""
    server = RedisServer(free_port(), _tmpdir("redis"), list(extra))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@contextlib.contextmanager
def redis_servers(count: int) -> Iterator[list[RedisServer]]:
    """Several independent servers (client-side sharding)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(redis_server()) for _ in range(count)]


@dataclass
class SentinelSetup:
    master: RedisServer
    sentinel: RedisServer
    replica: RedisServer | None = None
    master_name: str = "sockhub-master"

    @property
    def sentinels(self) -> str:
        return f"127.0.0.1:{self.sentinel.port}"

    def current_master_port(self) -> int:
        """The master's port as Sentinel reports it now."""
        reply = self.sentinel.cli("SENTINEL", "get-master-addr-by-name", self.master_name).split()
        return int(reply[1])


@contextlib.contextmanager
def redis_sentinel(with_replica: bool = False) -> Iterator[SentinelSetup]:
    """One master (and optionally one replica of it) with one Sentinel, quorum 1.

    With a replica, stopping the master makes Sentinel promote the replica
    after about a second."""
    with contextlib.ExitStack() as stack:
        master = stack.enter_context(redis_server())
        replica = None
        if with_replica:
            replica = stack.enter_context(redis_server("--replicaof", "127.0.0.1", str(master.port)))
            _wait_for(lambda: "master_link_status:up" in replica.cli("INFO", "replication"))
        workdir = _tmpdir("sentinel")
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        config = workdir / "sentinel.conf"  # Sentinel rewrites its config, so it gets its own copy
        config.write_text(
            f"sentinel monitor sockhub-master 127.0.0.1 {master.port} 1\n"
            "sentinel down-after-milliseconds sockhub-master 1000\n"
            "sentinel failover-timeout sockhub-master 10000\n"
        )
        sentinel = RedisServer(free_port(), workdir, ["--sentinel"], config_file=config)
        sentinel.start()
        stack.callback(sentinel.stop)
        setup = SentinelSetup(master, sentinel, replica)
        _wait_for(lambda: setup.current_master_port() == master.port)
        if replica is not None:
            _wait_for(lambda: "num-slaves" in sentinel.cli("SENTINEL", "master", setup.master_name)
                      and _known_replicas(sentinel, setup.master_name) > 0)
        yield setup


def _known_replicas(sentinel: RedisServer, name: str) -> int:
    lines = sentinel.cli("SENTINEL", "master", name).split()
    return int(lines[lines.index("num-slaves") + 1])


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@contextlib.contextmanager
def redis_cluster(masters: int = 3) -> Iterator[list[RedisServer]]:
    """A Redis Cluster of ``masters`` primaries and no replicas, all slots covered."""
    with contextlib.ExitStack() as stack:
        nodes = []
        for _ in range(masters):
            workdir = _tmpdir("cluster")
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
            node = RedisServer(
                _cluster_port(), workdir,
                ["--cluster-enabled", "yes", "--cluster-config-file", str(workdir / "nodes.conf"),
                 "--cluster-node-timeout", "2000"],
            )
            node.start()
            stack.callback(node.stop)
            nodes.append(node)
        addresses = [f"127.0.0.1:{n.port}" for n in nodes]
        nodes[0].cli("--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes")
        for node in nodes:
            _wait_for(lambda: "cluster_state:ok" in node.cli("CLUSTER", "INFO"))
        yield nodes


def _wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("redis set-up did not become ready")
        time.sleep(0.1)
