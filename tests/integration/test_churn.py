"""Churn: every kind of connection leaves nothing behind (issue 11).

One sockhub Server runs in this process (make_app, start: the production
front door), so its objects can be counted; the clients are blocking
sockets in worker threads (websocket-client, http.client), so none of their
objects is of the kinds counted.  A few hundred connections of each kind
open, do what a client does, and leave; after a collection, the number of
live transport sessions, clients, websocket peers, admin sockets, Tornado
streams, HTTP connections and requests is back to the baseline.

``bench/soak.py`` (``make soak``) is the long version with RSS figures.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import json
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Callable

import jwt
import pytest
import websocket
from tornado.http1connection import HTTP1Connection
from tornado.httputil import HTTPServerRequest
from tornado.iostream import IOStream
from tornado.websocket import WebSocketHandler

from app.dialects.v1x.auth import connection_token
from app.core.client import Client
from app.core.status_memory import MemoryStatusStore
from app.dialects.v1 import protocol_pb2 as v1pb
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.framing import uvarint
from app.options import ChannelOptions, Namespace, Options
from app.server import Server, make_app
from tests.support.backend import ProxyBackend
from tests.support.net import free_port
from transports.session import Session
from transports.wsbase import WebSocketPeer

SECRET = "churn-secret"
PER_KIND = 200
WORKERS = 8

#: What one connection of any kind may leave behind if something keeps it.
COUNTED: dict[str, type] = {
    "Session": Session, "Client": Client, "WebSocketPeer": WebSocketPeer,
    "WebSocketHandler": WebSocketHandler, "IOStream": IOStream,
    "HTTP1Connection": HTTP1Connection, "HTTPServerRequest": HTTPServerRequest,
}


def live() -> dict[str, int]:
    """Live objects of each counted kind, after a full collection."""
    gc.collect()
    counts = dict.fromkeys(COUNTED, 0)
    kinds = tuple(COUNTED.items())
    for obj in gc.get_objects():
        for name, kind in kinds:
            if isinstance(obj, kind):
                counts[name] += 1
    return counts


def command(uid: str, method: str, params: dict[str, object]) -> str:
    return json.dumps({"uid": uid, "method": method, "params": params})


def connect_command(user: str) -> str:
    timestamp = str(int(time.time()))
    return command("1", "connect", {"user": user, "timestamp": timestamp, "info": "",
                                    "token": connection_token(SECRET, user, timestamp, "")})


def sockjs_payload(*commands: str) -> bytes:
    return json.dumps(list(commands)).encode()


# -- one connection of each kind (blocking, in a worker thread) -------------
# ``hold`` is called while the connection is open (the test counts then).

Hold = Callable[[], None]


def nothing() -> None:
    pass


def raw_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket", timeout=10)
    try:
        ws.send(connect_command(f"raw{n}"))
        assert "client" in ws.recv()
        ws.send(command("2", "subscribe", {"channel": f"c{n % 5}"}))
        assert '"subscribe"' in ws.recv()
        hold()
    finally:
        ws.close(timeout=2)


def _v2_token(user: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


def v2_json_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2, JSON: connect and subscribe in one frame; their replies
    in one frame or two (each is queued as it is made)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket", timeout=10)
    try:
        ws.send(json.dumps({"id": 1, "connect": {"token": _v2_token(f"v2j{n}")}}) + "\n"
                + json.dumps({"id": 2, "subscribe": {"channel": f"c{n % 5}"}}))
        replies: list[dict[str, object]] = []
        while len(replies) < 2:
            replies += [json.loads(line) for line in ws.recv().split("\n")]
        connect, subscribe = replies
        assert connect["id"] == 1 and subscribe == {"id": 2, "subscribe": {}}, (connect, subscribe)
        hold()
    finally:
        ws.close(timeout=2)


def v2_proxy_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2, JSON, without a token: the connect and subscribe proxy
    hooks ask the test's backend (app.proxy: its HTTP client's streams and
    requests are counted too)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket", timeout=10)
    try:
        ws.send(json.dumps({"id": 1, "connect": {}}))
        assert '"connect"' in ws.recv()
        ws.send(json.dumps({"id": 2, "subscribe": {"channel": f"px:c{n % 5}"}}))
        assert json.loads(ws.recv()) == {"id": 2, "subscribe": {}}
        hold()
    finally:
        ws.close(timeout=2)


def v2_proxy_gone(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2 without a token, gone while the connect hook is asked:
    the connect the backend allows afterwards must leave nothing."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket", timeout=10)
    try:
        ws.send(json.dumps({"id": 1, "connect": {}}) + "\n" + json.dumps({"id": 2, "subscribe": {"channel": "px:g"}}))
        hold()
    finally:
        ws.shutdown()  # abruptly, the hook may still be asked


def _delimited(command: pb.Command | v1pb.Command) -> bytes:
    body = command.SerializeToString()
    return uvarint(len(body)) + body


def v2_protobuf_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2, protobuf (the SDKs' subprotocol): connect, then subscribe."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket", timeout=10,
                                     subprotocols=["centrifuge-protobuf"])
    try:
        token = _v2_token(f"v2p{n}")
        ws.send_binary(_delimited(pb.Command(id=1, connect=pb.ConnectRequest(token=token))))
        assert b"\x08\x01*" in ws.recv()  # Reply id=1 with its connect field (5, length-delimited)
        ws.send_binary(_delimited(pb.Command(id=2, subscribe=pb.SubscribeRequest(channel=f"c{n % 5}"))))
        assert ws.recv() == b"\x04\x08\x022\x00"  # Reply id=2, subscribe={}
        hold()
    finally:
        ws.close(timeout=2)


def sockjs_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/0/ws{n}/websocket", timeout=10)
    try:
        assert ws.recv() == "o"
        ws.send(json.dumps([connect_command(f"sws{n}")]))
        assert ws.recv().startswith("a[")
        hold()
    finally:
        ws.close(timeout=2)


def _v2_connect_subscribe(n: int, user: str) -> str:
    """Protocol v2's connect and subscribe as one SockJS message (two lines)."""
    return (json.dumps({"id": 1, "connect": {"token": _v2_token(user)}}) + "\n"
            + json.dumps({"id": 2, "subscribe": {"channel": f"c{n % 5}"}}))


def _v2_sockjs_replies(frame: str) -> list[dict[str, object]]:
    """The v2 replies of one ``a[...]`` frame of /connection/sockjs."""
    assert frame.startswith("a["), frame
    return [json.loads(line) for message in json.loads(frame[1:]) for line in message.split("\n")]


def v2_sockjs_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2 over /connection/sockjs's websocket: connect and subscribe."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/sockjs/0/v2ws{n}/websocket",
                                     timeout=10)
    try:
        assert ws.recv() == "o"
        ws.send(json.dumps([_v2_connect_subscribe(n, f"v2sws{n}")]))
        replies = _v2_sockjs_replies(ws.recv())
        while len(replies) < 2:
            replies += _v2_sockjs_replies(ws.recv())
        assert [r["id"] for r in replies] == [1, 2], replies
        hold()
    finally:
        ws.close(timeout=2)


def v2_sockjs_xhr_streaming(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2 over /connection/sockjs's xhr_streaming, then a drop."""
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sender = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        base = f"/connection/sockjs/0/v2stream{n}"
        response = _post(stream, base + "/xhr_streaming")
        assert response.readline().strip(b"h") == b"\n" and response.readline() == b"o\n"
        send = _post(sender, base + "/xhr_send", sockjs_payload(_v2_connect_subscribe(n, f"v2sxs{n}")))
        assert send.status == 204
        send.read()
        replies = _v2_sockjs_replies(response.readline().decode())
        while len(replies) < 2:
            replies += _v2_sockjs_replies(response.readline().decode())
        assert [r["id"] for r in replies] == [1, 2], replies
        hold()
    finally:
        stream.close()
        sender.close()


def _post(conn: http.client.HTTPConnection, path: str, body: bytes = b"") -> http.client.HTTPResponse:
    conn.request("POST", path, body=body)
    return conn.getresponse()


def xhr_polling(port: int, n: int, hold: Hold = nothing) -> None:
    """Open, connect, poll the reply, then vanish: the session expires."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        base = f"/connection/0/poll{n}"
        assert _post(conn, base + "/xhr").read() == b"o\n"
        send = _post(conn, base + "/xhr_send", sockjs_payload(connect_command(f"poll{n}")))
        assert send.status == 204, send.status
        send.read()
        assert _post(conn, base + "/xhr").read().startswith(b"a[")
        hold()
    finally:
        conn.close()


def xhr_streaming(port: int, n: int, hold: Hold = nothing) -> None:
    """A streaming receiver that connects through a second connection and drops."""
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sender = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        base = f"/connection/0/stream{n}"
        response = _post(stream, base + "/xhr_streaming")
        assert response.readline().strip(b"h") == b"\n" and response.readline() == b"o\n"
        send = _post(sender, base + "/xhr_send", sockjs_payload(connect_command(f"stream{n}")))
        assert send.status == 204
        send.read()
        assert response.readline().startswith(b"a[")
        hold()
    finally:
        stream.close()
        sender.close()


def jsonp_polling(port: int, n: int, hold: Hold = nothing) -> None:
    """Open, connect through jsonp_send (a form), poll the reply, then vanish."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        base = f"/connection/0/jp{n}"
        conn.request("GET", base + "/jsonp?c=cb")
        assert conn.getresponse().read() == b'/**/cb("o");\r\n'
        form = urllib.parse.urlencode({"d": sockjs_payload(connect_command(f"jp{n}")).decode()})
        conn.request("POST", base + "/jsonp_send", body=form,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert conn.getresponse().read() == b"ok"
        conn.request("GET", base + "/jsonp?c=cb")
        assert conn.getresponse().read().startswith(b'/**/cb("a[')
        hold()
    finally:
        conn.close()


def _line_with(response: http.client.HTTPResponse, part: bytes) -> bytes:
    while part not in (line := response.readline()):
        assert line, part
    return line


def htmlfile(port: int, n: int, hold: Hold = nothing) -> None:
    """An htmlfile receiver that connects through xhr_send and drops."""
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sender = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        base = f"/connection/0/hf{n}"
        stream.request("GET", base + "/htmlfile?c=cb")
        response = stream.getresponse()
        _line_with(response, b'p("o");')
        send = _post(sender, base + "/xhr_send", sockjs_payload(connect_command(f"hf{n}")))
        assert send.status == 204
        send.read()
        _line_with(response, b'p("a[')
        hold()
    finally:
        stream.close()
        sender.close()


def eventsource(port: int, n: int, hold: Hold = nothing) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", f"/connection/0/es{n}/eventsource")
        response = conn.getresponse()
        assert response.readline() == b"\r\n" and response.readline() == b"data: o\r\n"
        hold()
    finally:
        conn.close()


def v2_http_stream(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2 over HTTP streaming: connect in the stream's body, a
    subscribe through /emulation on a second connection, then the stream
    drops: its session ends with it."""
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sender = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps({"id": 1, "connect": {"token": _v2_token(f"hs{n}")}}).encode()
        stream.request("POST", "/connection/http_stream", body=body, headers={"Content-Type": "application/json"})
        response = stream.getresponse()
        connect = json.loads(response.readline())["connect"]
        frame = json.dumps({"id": 2, "subscribe": {"channel": f"c{n % 5}"}})
        sender.request("POST", "/emulation", body=json.dumps(
            {"session": connect["session"], "node": connect["node"], "data": frame}))
        sent = sender.getresponse()
        sent.read()
        assert sent.status == 204, sent.status
        assert json.loads(response.readline()) == {"id": 2, "subscribe": {}}
        hold()
    finally:
        stream.close()
        sender.close()


def v2_sse(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v2 over SSE (GET with cf_connect), then the stream drops."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        query = urllib.parse.urlencode({"cf_connect": json.dumps({"id": 1, "connect": {"token": _v2_token(f"sse{n}")}})})
        conn.request("GET", "/connection/sse?" + query)
        response = conn.getresponse()
        assert response.readline() == b"\r\n" and response.readline().startswith(b'data: {"id":1,"connect"')
        hold()
    finally:
        conn.close()


def admin_socket(port: int, n: int, hold: Hold = nothing) -> None:
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket", timeout=10,
                                     origin=f"http://127.0.0.1:{port}")
    try:
        ws.send(json.dumps({"uid": str(n), "method": "info"}))
        assert str(n) in ws.recv()
        hold()
    finally:
        ws.close(timeout=2)


def api_and_plain_http(port: int, n: int, hold: Hold = nothing) -> None:
    """Keep-alive requests: a 1.x and a current-style API publish, /connection/info, a 404."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps({"method": "publish", "params": {"channel": f"c{n % 5}", "data": {"n": n}}})
        conn.request("POST", "/api/", body=body, headers={"Content-Type": "application/json"})
        assert conn.getresponse().read().startswith(b"[")
        body = json.dumps({"channel": f"c{n % 5}", "data": {"n": n}})  # the current-style API
        conn.request("POST", "/api/publish", body=body, headers={"X-API-Key": "unused: insecure_api"})
        assert conn.getresponse().read() == b'{"result":{}}'
        conn.request("GET", "/connection/info")
        assert b"websocket" in conn.getresponse().read()
        conn.request("GET", "/no/such/page")
        response = conn.getresponse()
        response.read()
        assert response.status == 404
        hold()
    finally:
        conn.close()


def v1_json_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v1, JSON (centrifuge-js 2.x's frames): connect, subscribe, ping."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket", timeout=10)
    try:
        ws.send(json.dumps({"id": 1, "params": {"token": _v2_token(f"v1j{n}"), "name": "js"}}))
        assert json.loads(ws.recv())["result"]["client"]
        ws.send(json.dumps({"id": 2, "method": 1, "params": {"channel": f"c{n % 5}"}}) + "\n"
                + json.dumps({"id": 3, "method": 7}))
        replies: list[dict[str, object]] = []
        while len(replies) < 2:
            replies += [json.loads(line) for line in ws.recv().split("\n")]
        assert replies == [{"id": 2, "result": {}}, {"id": 3}], replies
        hold()
    finally:
        ws.close(timeout=2)


def v1_protobuf_websocket(port: int, n: int, hold: Hold = nothing) -> None:
    """Protocol v1, protobuf (``?format=protobuf`` and the subprotocol, as JS 2.8.5 asks)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket?format=protobuf", timeout=10,
                                     subprotocols=["centrifuge-protobuf"])
    try:
        connect = v1pb.ConnectRequest(token=_v2_token(f"v1p{n}")).SerializeToString()
        ws.send_binary(_delimited(v1pb.Command(id=1, params=connect)))
        assert ws.recv()[1:4] == b"\x08\x01\x1a"  # Reply id=1 with its result (3, length-delimited)
        subscribe = v1pb.SubscribeRequest(channel=f"c{n % 5}").SerializeToString()
        ws.send_binary(_delimited(v1pb.Command(id=2, method=v1pb.SUBSCRIBE, params=subscribe)))
        assert ws.recv() == b"\x02\x08\x02"  # Reply id=2, an empty result
        hold()
    finally:
        ws.close(timeout=2)


KINDS: dict[str, Callable[[int, int, Hold], None]] = {
    "raw_websocket": raw_websocket, "sockjs_websocket": sockjs_websocket, "xhr_polling": xhr_polling,
    "xhr_streaming": xhr_streaming, "eventsource": eventsource, "jsonp_polling": jsonp_polling,
    "htmlfile": htmlfile, "admin_socket": admin_socket,
    "api_and_http": api_and_plain_http, "v2_json_websocket": v2_json_websocket,
    "v2_protobuf_websocket": v2_protobuf_websocket, "v2_http_stream": v2_http_stream, "v2_sse": v2_sse,
    "v2_sockjs_websocket": v2_sockjs_websocket, "v2_sockjs_xhr_streaming": v2_sockjs_xhr_streaming,
    "v1_json_websocket": v1_json_websocket, "v1_protobuf_websocket": v1_protobuf_websocket,
    "v2_proxy_websocket": v2_proxy_websocket, "v2_proxy_gone": v2_proxy_gone,
}


def api_port_requests(port: int, n: int, hold: Hold = nothing) -> None:
    """On the API's own port: keep-alive 1.x and current-style publishes,
    /health, and /connection/info, which is not served there."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps({"method": "publish", "params": {"channel": f"c{n % 5}", "data": {"n": n}}})
        conn.request("POST", "/api/", body=body, headers={"Content-Type": "application/json"})
        assert conn.getresponse().read().startswith(b"[")
        body = json.dumps({"channel": f"c{n % 5}", "data": {"n": n}})
        conn.request("POST", "/api/publish", body=body, headers={"X-API-Key": "unused: insecure_api"})
        assert conn.getresponse().read() == b'{"result":{}}'
        for path, status in (("/health", 200), ("/connection/info", 404)):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == status, (path, response.status)
        hold()
    finally:
        conn.close()


def metrics_scrape(port: int, n: int, hold: Hold = nothing) -> None:
    """A Prometheus scrape of the admin port (kept alive: /metrics twice)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(2):
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            assert response.status == 200 and b"sockhub_node_clients" in response.read()
        hold()
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def running(**extra: int) -> AsyncIterator[tuple[Server, int]]:
    port = free_port()
    with ProxyBackend() as backend:
        backend.answer("/connect", {"user": "proxied"})
        options = Options(port=port, address="127.0.0.1", secret=SECRET, insecure_api=True,
                          insecure_admin=True, admin=True, sockjs_disconnect_delay=0.5,
                          sockjs_heartbeat_delay=1, status_channel="status-events", status_grace=0.2,
                          proxy_connect_endpoint=backend.url("/connect"),
                          proxy_subscribe_endpoint=backend.url("/subscribe"),
                          namespaces=[Namespace("px", ChannelOptions(proxy_subscribe=True))], **extra)
        server = make_app(options)
        await server.start()
        try:
            yield server, port
        finally:
            await server.shutdown()


async def back_to(baseline: dict[str, int], timeout: float) -> dict[str, int]:
    """The counts once none is above the baseline (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = live()
        if all(counts[k] <= baseline[k] for k in counts) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.25)


async def churn(kinds: dict[str, tuple[int, Callable[[int, int, Hold], None]]]) -> None:
    """Each kind (on its port): one round first, then one connection held
    open while the loop counts (the kind must be among the counted), then
    PER_KIND of them; after each kind the counts are back to the baseline."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(WORKERS) as pool:
        # One round first: lazily built singletons are not leaks.
        await asyncio.gather(*(loop.run_in_executor(pool, kind, port, -1) for port, kind in kinds.values()))
        baseline = await back_to(dict.fromkeys(COUNTED, 0), 5)
        for name, (port, kind) in kinds.items():
            seen: list[dict[str, int]] = []

            def count_while_open() -> None:
                # in the worker thread: the loop counts while this connection is open
                seen.append(asyncio.run_coroutine_threadsafe(counted(), loop).result(10))

            await loop.run_in_executor(pool, kind, port, -2, count_while_open)
            assert seen and seen[0] != baseline, (name, seen)  # the kind is among the counted
            await asyncio.gather(*(loop.run_in_executor(pool, kind, port, n, nothing)
                                   for n in range(PER_KIND)))
            after = await back_to(baseline, 15)
            assert after == baseline, (name, seen[0], after)


@pytest.mark.async_timeout(240)
async def test_every_kind_of_connection_returns_to_baseline() -> None:
    async with running() as (server, port):
        await churn({name: (port, kind) for name, kind in KINDS.items()})
        assert len(server.routers) == 0 and server.routers.scheduled() == 0
        assert len(server.emulated) == 0  # the emulation sessions' directory let go of every one
        assert server.node.hub.num_clients == 0
        # online status (on: a status channel) forgot every client, and its events drained
        store = server.node.status.store
        assert isinstance(store, MemoryStatusStore)
        deadline = time.monotonic() + 10
        while not (server.node.status.idle and store.empty) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert server.node.status.idle and store.empty


async def counted() -> dict[str, int]:
    return live()


@pytest.mark.async_timeout(120)
async def test_the_api_and_admin_ports_return_to_baseline() -> None:
    """With ``api_port`` and ``admin_port`` set, each port has its own front
    door: its connections leave nothing behind either."""
    api_port, admin_port = free_port(), free_port()
    async with running(api_port=api_port, admin_port=admin_port) as (server, _):
        await churn({"api_port": (api_port, api_port_requests), "admin_socket": (admin_port, admin_socket),
                     "metrics_on_admin_port": (admin_port, metrics_scrape)})
        assert server.node.hub.num_clients == 0
