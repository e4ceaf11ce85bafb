"""The servers bench/run.py measures: sockhub's full stack and the peers.

Each entry knows how to start its server on a port (a fresh process per run)
and how the load client (bench/clients/fanout.js) talks to it.  The peers
are installed by ``make bench`` (bench/setup.sh) outside the package and are
never imported by sockhub; an entry whose software is missing is skipped with
the reason :func:`missing` gives.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS = BENCH / "peers"
CENTRIFUGE_PY = BENCH / ".peers/centrifuge/bin/python"
SECRET = "bench-secret"
PROJECT = "bench"


@dataclass(frozen=True)
class Server:
    """One server under test.  ``client`` is the load client's config for it
    (kind, SockJS prefix, secret...); ``argv(port)`` starts it."""

    name: str
    argv: Callable[[int], list[str]]
    client: dict[str, Any]
    needs: Callable[[], str | None] = field(default=lambda: None)
    #: speaks the Centrifugo protocol with an HTTP API (API scenarios)
    api: bool = False


def _python_module(module: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if importlib.util.find_spec(module) is None:
            return f"Python package {module!r} is not installed in {sys.prefix} (make bench)"
        return None
    return check


def _node_module(module: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        if not (BENCH / "node_modules" / module / "package.json").exists():
            return f"npm {module!r} is not installed in bench/node_modules (make bench)"
        return None
    return check


def _centrifuge() -> str | None:
    if not CENTRIFUGE_PY.exists():
        return "bench/.peers/centrifuge (Python 3.6 env with centrifuge 0.8.4) is missing (make bench)"
    probe = subprocess.run([str(CENTRIFUGE_PY), "-c", "import centrifuge.core"], capture_output=True)
    if probe.returncode != 0:
        return "centrifuge 0.8.4 does not import in bench/.peers/centrifuge"
    return None


def sockhub_argv(port: int, extra: tuple[str, ...] = ()) -> list[str]:
    """sockhub as it ships (memory engine, real secret, quiet log).  An empty
    config file: a ./config.json that `make run` left in the checkout (the
    server's cwd) must not change what is measured."""
    return [str(ROOT / ".venv/bin/sockhub"), "--config", os.devnull, "--port", str(port),
            "--address", "127.0.0.1", "--secret", SECRET, "--log_level", "error", *extra]


SOCKHUB_CLIENT = {"kind": "centrifugo", "path": "/connection", "secret": SECRET}
#: the experiment behind (not) adding a --uvloop option: sockhub on uvloop's loop
UVLOOP_WRAPPER = "import sys, uvloop; uvloop.install(); from app.cli import main; sys.exit(main())"
PY = sys.executable

#: the three wire forms of one sockhub on its raw websocket /connection/websocket
#: (issue 13's dialect rows): the 1.x protocol, protocol v2 in JSON and in protobuf
DIALECT_CLIENTS = {
    "sockhub-1x-raw": dict(SOCKHUB_CLIENT, transport="raw"),
    "sockhub-v2-json": {"kind": "v2", "format": "json", "secret": SECRET},
    "sockhub-v2-protobuf": {"kind": "v2", "format": "protobuf", "secret": SECRET},
    "sockhub-v1-json": {"kind": "v1", "format": "json", "secret": SECRET},
    "sockhub-v1-protobuf": {"kind": "v1", "format": "protobuf", "secret": SECRET},
}

SERVERS: dict[str, Server] = {s.name: s for s in [
    Server("sockhub", sockhub_argv, SOCKHUB_CLIENT, api=True),
    Server("sockhub-uvloop", lambda p: [PY, "-c", UVLOOP_WRAPPER, *sockhub_argv(p)[1:]], SOCKHUB_CLIENT,
           _python_module("uvloop"), api=True),
    Server("sockjs-node", lambda p: ["node", str(PEERS / "sockjs_node_bcast.js"), str(p)],
           {"kind": "sockjs", "path": "/bcast"}, _node_module("sockjs")),
    Server("ws", lambda p: ["node", str(PEERS / "ws_bcast.js"), str(p)],
           {"kind": "raw"}, _node_module("ws")),
    Server("websockets", lambda p: [PY, str(PEERS / "websockets_bcast.py"), str(p)],
           {"kind": "raw"}, _python_module("websockets")),
    Server("asyncio", lambda p: [PY, str(PEERS / "asyncio_bcast.py"), str(p)], {"kind": "raw"}),
    Server("sockjs-tornado", lambda p: [PY, str(PEERS / "sockjs_tornado_bcast.py"), str(p)],
           {"kind": "sockjs", "path": "/bcast"}, _python_module("sockjs")),
    Server("centrifuge-0.8", lambda p: [str(CENTRIFUGE_PY), str(PEERS / "centrifuge08.py"), str(p),
                                        PROJECT, SECRET],
           {"kind": "centrifugo", "path": "/connection", "secret": SECRET, "project": PROJECT},
           _centrifuge, api=True),
    *(Server(name, sockhub_argv, client, api=True) for name, client in DIALECT_CLIENTS.items()),
]}

#: measured only when named in --servers (or by their group, GROUP_SERVERS)
EXPERIMENTS = frozenset({"sockhub-uvloop", *DIALECT_CLIENTS})

#: what the table calls them
LABELS = {
    "sockhub": "sockhub (full stack)",
    "sockhub-uvloop": "sockhub on uvloop",
    "sockjs-node": "sockjs-node 0.3.24",
    "ws": "Node ws 8.23.0",
    "websockets": "Python websockets",
    "asyncio": "bare asyncio write",
    "sockjs-tornado": "sockjs-tornado 1.0.7",
    "centrifuge-0.8": "Centrifuge 0.8.4",
    "sockhub-1x-raw": "sockhub 1.x, raw websocket",
    "sockhub-v2-json": "sockhub v2 JSON, websocket",
    "sockhub-v2-protobuf": "sockhub v2 protobuf, websocket",
    "sockhub-v1-json": "sockhub v1 JSON, websocket",
    "sockhub-v1-protobuf": "sockhub v1 protobuf, websocket",
}


def missing(name: str) -> str | None:
    """Why server ``name`` cannot run here, or None."""
    return SERVERS[name].needs()
