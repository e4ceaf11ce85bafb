"""The soak of issue 11: one memory-engine node under steady churn, for minutes.

    .venv/bin/python bench/soak.py [--duration 600] [--subscribers 500] [--churn 20]
        [--rate 200] [--channels 50] [--per-client 2] [--churn-reads 3] [--seed 1]
        [--mark 60] [--no-pin]          (or: make soak SOAK_ARGS="--duration 60")

It starts one sockhub (memory engine, a secret, so every client connects with
a token and every API request is signed; ``prometheus`` on for the session
counts) through tests/support/server.py, pins it to CPU 1 and itself to CPU 0
(``--no-pin`` to leave both alone), and from one asyncio process drives:

- ``--subscribers`` long-lived clients, rotating over raw websocket, SockJS
  websocket, xhr-streaming, xhr-polling (the 1.x protocol), protocol
  v2's HTTP streaming and SSE (a JWT; commands and pongs through
  ``/emulation``), protocol v1 on the raw websocket (centrifuge-js 2.x's
  frames, a JWT) and protocol v2 over ``/connection/sockjs`` by websocket
  and by xhr-streaming (JSON lines, pings answered), each subscribed to
  ``--per-client`` of the ``--channels`` channels;
- churn: clients that connect (the same nine transports in turn), subscribe to
  ``--per-client`` channels, read ``--churn-reads`` messages and leave,
  ``--churn`` of them in flight at any time.  How they leave alternates: a
  websocket closes with a closing handshake or drops TCP without one; an
  xhr-streaming or a pending xhr poll is cut (the session ends "interrupted"),
  and so is an HTTP-streaming or SSE stream (its session ends with it);
  every other xhr-polling client just stops polling and its session expires
  after ``sockjs_disconnect_delay``;
- ``--rate`` publishes per second through the HTTP API (one signed batch every
  50 ms), each message carrying ``{"c": channel, "s": sequence, "t": time}``
  so that every long-lived subscriber checks its channels for lost and
  duplicated deliveries.

Every 10 s one line: elapsed, server RSS (MiB, VmRSS), server open fds, node
clients (API ``node``) and open sessions (/metrics), churned connections so
far, deliveries so far, and how the two processes keep up (publish rate
achieved, server and client CPU, the client's event-loop lag, the longest
publish-to-delivery latency).  At the end: churned connections, deliveries,
lost (a sequence a long-lived subscriber never got in its channel, counted
after a drain), duplicated, and KiB of server RSS per churned connection
between the ``--mark`` (60 s) and the end, with the targets (<= 0.5 KiB,
0 lost, 0 duplicated) and PASS/FAIL; then every client leaves, the soak waits
``sockjs_disconnect_delay`` + 5 s and prints RSS, fds, clients and sessions
against the start (clients or sessions still there are followed for another
60 s: late, or never gone), and the server log's tracebacks and ERROR lines.

Exit status 1 when a target is missed, a long-lived subscriber was closed
(which makes its lost count meaningless), clients or sessions never went back
to the start, or the server logged a traceback or an ERROR.  A run shorter
than twice the mark (``--duration 60``) measures RSS between its half and its
end and prints that figure without judging it: memory per connection needs
minutes of churn.
When the client cannot keep up (publishing behind its rate, client CPU near a
whole core, event-loop lag over a second), it says so.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt  # noqa: E402

from app.dialects.v1x.auth import api_sign, connection_token  # noqa: E402
from tests.support.server import SockhubProcess  # noqa: E402

SECRET = "soak-secret-long-enough-for-hs256"  # 32 bytes: RFC 7518 for the v2 JWTs
DISCONNECT_DELAY = 5.0
SERVER_CONFIG: dict[str, Any] = {
    "secret": SECRET, "prometheus": True, "sockjs_disconnect_delay": DISCONNECT_DELAY,
    "shutdown_timeout": 10,
}
TRANSPORTS = ("websocket", "sockjs-websocket", "xhr-streaming", "xhr-polling", "http-stream", "sse", "v1-websocket",
              "v2-sockjs-websocket", "v2-sockjs-xhr-streaming")
#: the SockJS prefix of each dialect (protocol v2's SockJS kinds start with "v2-sockjs-")
PREFIXES = {False: "/connection", True: "/connection/sockjs"}
INTERVAL = 10.0  # seconds between status lines
PUBLISH_TICK = 0.05  # one API request per tick
MAX_BATCH = 500  # publish commands per API request at most (catching up)
TARGET_KIB = 0.5
TICK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"

Json = Any


class SoakError(Exception):
    """A client saw something it should not (a refused request, a close)."""


def quiet_future() -> "asyncio.Future[None]":
    """A future whose exception nobody may await (a client that gave up
    waiting) without asyncio logging "exception was never retrieved"."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


# -- /proc ----------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def pin(pid: int, cpu: int) -> None:
    """Every thread of ``pid`` (0: this process) onto ``cpu``."""
    tasks = os.listdir(f"/proc/{pid}/task") if pid else [str(os.getpid())]
    for task in tasks:
        try:
            os.sched_setaffinity(int(task), {cpu})
        except OSError:
            pass


# -- HTTP/1.1 keep-alive client (one request at a time) ----------------------------------

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _UNTIL_CLOSE, _IDLE = range(8)


class HttpConn(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection; :meth:`request` sends a request and
    resolves to ``(status, body)`` when its response has ended.  With
    ``on_data`` the body is handed over piece by piece as it arrives (a
    streaming response) instead of being collected."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._state = _IDLE
        self._remaining = 0
        self._status = 0
        self._keep_alive = True
        self._body = bytearray()
        self._on_data: Callable[[bytes], None] | None = None
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None

    @classmethod
    async def open(cls, port: int) -> "HttpConn":
        _, proto = await asyncio.get_running_loop().create_connection(lambda: cls(port), HOST, port)
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._state == _UNTIL_CLOSE:
                self._finish()
            else:
                waiter.set_exception(ConnectionError("connection closed mid-response"))
        self._waiter = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def request(self, method: str, path: str, body: bytes = b"", headers: str = "",
                on_data: Callable[[bytes], None] | None = None) -> "asyncio.Future[tuple[int, bytes]]":
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionError("connection closed")
        assert self._waiter is None, "one request at a time"
        head = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                f"Content-Length: {len(body)}\r\n{headers}\r\n")
        self.transport.write(head.encode() + body)
        self._state = _HEAD
        self._on_data = on_data
        self._body = bytearray()
        self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buf += data
        buf = self._buf
        while buf:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._head(bytes(buf[:end]).decode("latin-1"))
                del buf[:end + 4]
            elif state in (_LENGTH, _CHUNK_DATA, _UNTIL_CLOSE):
                take = len(buf) if state == _UNTIL_CLOSE else min(self._remaining, len(buf))
                self._emit(bytes(buf[:take]))
                del buf[:take]
                self._remaining -= take
                if state == _LENGTH and self._remaining == 0:
                    self._finish()
                elif state == _CHUNK_DATA and self._remaining == 0:
                    self._state = _CHUNK_CRLF
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[:end + 2]
                self._remaining = size
                self._state = _CHUNK_DATA if size else _TRAILER
            elif state == _CHUNK_CRLF:
                if len(buf) < 2:
                    return
                del buf[:2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILER:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                del buf[:end + 2]
                if end == 0:
                    self._finish()
            else:  # _IDLE: nothing is expected
                del buf[:]

    def _head(self, head: str) -> None:
        lines = head.split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        self._status = int(status)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        self._keep_alive = headers.get("connection") != "close" and version == "HTTP/1.1"
        if headers.get("transfer-encoding") == "chunked":
            self._state = _CHUNK_SIZE
        elif "content-length" in headers:
            self._remaining = int(headers["content-length"])
            self._state = _LENGTH
            if self._remaining == 0:
                self._finish()
        elif self._status in (101, 204, 304):
            self._finish()
        else:
            self._keep_alive = False
            self._state = _UNTIL_CLOSE

    def _emit(self, data: bytes) -> None:
        if self._on_data is not None:
            self._on_data(data)
        else:
            self._body += data

    def _finish(self) -> None:
        self._state = _IDLE
        waiter, self._waiter = self._waiter, None
        if not self._keep_alive:
            self.close()
            self.closed = True
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, bytes(self._body)))


# -- websocket client ----------------------------------------------------------------------


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client-to-server frame (FIN set, masked with a random key)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 0x10000:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if n == 0:
        return head + key
    mask = (key * (n // 4 + 1))[:n]
    return head + key + (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")


class WsConn(asyncio.Protocol):
    """A websocket client connection: text messages to ``on_text``, pings
    answered, the server's close frame kept in ``close_code``/``close_reason``."""

    def __init__(self, port: int, path: str, on_text: Callable[[str], None],
                 on_lost: Callable[[], None]) -> None:
        self.port = port
        self.path = path
        self.on_text = on_text
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.upgraded = quiet_future()
        self.lost = quiet_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_sent = False
        self._buf = bytearray()
        self._parts: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                         f"Sec-WebSocket-Version: 13\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before the upgrade"))
        if not self.lost.done():
            self.lost.set_result(None)
        self.on_lost()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            del buf[:end + 4]
            if b" 101 " not in status + b" ":
                self.upgraded.set_exception(SoakError(f"upgrade refused: {status.decode('latin-1')}"))
                self.abort()
                return
            self.upgraded.set_result(None)
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if n - pos < head + length:
                break
            payload = bytes(buf[pos + head:pos + head + length])
            pos += head + length
            self._frame(b0, payload)
        del buf[:pos]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode in (0x0, 0x1, 0x2):
            if b0 & 0x80 and not self._parts:
                self.on_text(payload.decode())
            else:
                self._parts.append(payload)
                if b0 & 0x80:
                    text = b"".join(self._parts).decode()
                    self._parts = []
                    self.on_text(text)
        elif opcode == 0x9:  # ping
            self._write(_masked(0xA, payload))
        elif opcode == 0x8:
            if len(payload) >= 2:
                self.close_code = int.from_bytes(payload[:2], "big")
                self.close_reason = payload[2:].decode("utf-8", "replace")
            if not self.close_sent:
                self.close_sent = True
                self._write(_masked(0x8, payload[:2]))
            if self.transport is not None:
                self.transport.close()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_text(self, text: str) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("websocket closed")
        self.transport.write(_masked(0x1, text.encode()))

    async def close(self, code: int = 1000) -> None:
        """The closing handshake: our close frame, the server's, TCP closed."""
        if not self.close_sent:
            self.close_sent = True
            self._write(_masked(0x8, code.to_bytes(2, "big")))
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), 5)
        except asyncio.TimeoutError:
            self.abort()

    def abort(self) -> None:
        """Close TCP without a closing handshake (a dropped connection)."""
        if self.transport is not None:
            self.transport.close()


# -- transports: one Centrifugo connection each ---------------------------------------------


class Transport:
    """Where a client's protocol messages go and come from.  ``on_message``
    gets every Centrifugo message (a JSON text); ``on_close`` is called once
    when the transport ends, with why."""

    def __init__(self, port: int, on_message: Callable[[str], None],
                 on_close: Callable[[str], None]) -> None:
        self.port = port
        self.on_message = on_message
        self._on_close = on_close
        self.leaving = False
        self._ended = False

    def _ended_because(self, why: str) -> None:
        if not self._ended:
            self._ended = True
            self._on_close(why)

    async def open(self) -> None:
        raise NotImplementedError

    async def send(self, text: str) -> None:
        raise NotImplementedError

    async def leave(self, graceful: bool) -> None:
        raise NotImplementedError


class RawWebsocket(Transport):
    path = "/connection/websocket"

    def __init__(self, port: int, on_message: Callable[[str], None], on_close: Callable[[str], None]) -> None:
        super().__init__(port, on_message, on_close)
        self.ws: WsConn | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        _, self.ws = await loop.create_connection(
            lambda: WsConn(self.port, self.path, self._on_text, self._lost), HOST, self.port)
        await asyncio.wait_for(asyncio.shield(self.ws.upgraded), 10)

    def _on_text(self, text: str) -> None:
        self.on_message(text)

    def _lost(self) -> None:
        ws = self.ws
        code = ws.close_code if ws is not None else None
        reason = ws.close_reason if ws is not None else ""
        self._ended_because(f"websocket closed ({code} {reason!r})" if code else "websocket dropped")

    async def send(self, text: str) -> None:
        assert self.ws is not None
        self.ws.send_text(text)

    async def leave(self, graceful: bool) -> None:
        self.leaving = True
        if self.ws is None:
            return
        if graceful:
            await self.ws.close()
        else:
            self.ws.abort()
            await asyncio.wait_for(asyncio.shield(self.ws.lost), 5)


class SockJSWebsocket(RawWebsocket):
    """SockJS framing over a websocket: ``o``, ``h``, ``a[...]``, ``c[...]``."""

    def __init__(self, port: int, on_message: Callable[[str], None], on_close: Callable[[str], None],
                 session: str, prefix: str = "/connection") -> None:
        super().__init__(port, on_message, on_close)
        self.path = f"{prefix}/{session[:3]}/{session}/websocket"
        self.opened = quiet_future()

    async def open(self) -> None:
        await super().open()
        await asyncio.wait_for(asyncio.shield(self.opened), 10)

    def _on_text(self, frame: str) -> None:
        kind = frame[:1]
        if kind == "a":
            for text in json.loads(frame[1:]):
                self.on_message(text)
        elif kind == "o":
            if not self.opened.done():
                self.opened.set_result(None)
        elif kind == "c":
            self._ended_because(f"sockjs close frame {frame}")

    def _lost(self) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before the open frame"))
        super()._lost()

    async def send(self, text: str) -> None:
        assert self.ws is not None
        self.ws.send_text(json.dumps([text]))


class SockJSHttp(Transport):
    """A SockJS session over xhr-streaming or xhr-polling: one kept-alive
    connection receives (a new POST as soon as the previous response ends,
    like sockjs-client), another sends (``xhr_send``, one at a time)."""

    def __init__(self, port: int, on_message: Callable[[str], None], on_close: Callable[[str], None],
                 session: str, receiver: str, prefix: str = "/connection") -> None:
        super().__init__(port, on_message, on_close)
        self.base = f"{prefix}/{session[:3]}/{session}"
        self.receiver = receiver  # "xhr_streaming" or "xhr"
        self.opened = quiet_future()
        self.closed_by_server = False
        self.requests = 0  # receiving requests sent
        self._recv: HttpConn | None = None
        self._send: HttpConn | None = None
        self._send_lock = asyncio.Lock()
        self._lines = bytearray()
        self._stop_after_response = False
        self._close_frame = ""
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._recv = await HttpConn.open(self.port)
        self._task = asyncio.get_running_loop().create_task(self._receive_loop())
        try:
            await asyncio.wait_for(asyncio.shield(self.opened), 10)
        except BaseException:
            await self._stop()
            raise

    async def _receive_loop(self) -> None:
        why = "receiving ended"
        try:
            while not self.closed_by_server:
                if self._recv is None or self._recv.closed:
                    self._recv = await HttpConn.open(self.port)
                self._lines.clear()
                self.requests += 1
                status, body = await self._recv.request("POST", f"{self.base}/{self.receiver}", on_data=self._feed)
                if status != 200:
                    raise SoakError(f"{self.receiver} answered {status} {body[:100]!r}")
                if self._stop_after_response or self.leaving:
                    why = "left"
                    return
            why = self._close_frame
        except (ConnectionError, OSError) as exc:
            why = f"{self.receiver} connection lost: {exc}"
        except SoakError as exc:
            why = str(exc)
        finally:
            if not self.opened.done():
                self.opened.set_exception(ConnectionError(why))
            self._ended_because(why)

    def _feed(self, data: bytes) -> None:
        lines = self._lines
        lines += data
        start = 0
        while (end := lines.find(b"\n", start)) >= 0:
            self._frame(lines[start:end])
            start = end + 1
        del lines[:start]

    def _frame(self, frame: bytearray) -> None:
        kind = frame[:1]
        if kind == b"a":
            for text in json.loads(frame[1:]):
                self.on_message(text)
        elif kind == b"o":
            if not self.opened.done():
                self.opened.set_result(None)
        elif kind == b"c":
            self.closed_by_server = True
            self._close_frame = f"sockjs close frame {frame.decode()}"
        # b"h": the xhr-streaming prelude (2048 h) or a heartbeat

    async def send(self, text: str) -> None:
        async with self._send_lock:
            for attempt in (1, 2):
                if self._send is None or self._send.closed:
                    self._send = await HttpConn.open(self.port)
                try:
                    status, body = await self._send.request(
                        "POST", f"{self.base}/xhr_send", json.dumps([text]).encode(),
                        "Content-Type: text/plain;charset=UTF-8\r\n")
                except ConnectionError:
                    if attempt == 2:  # the kept-alive connection was closed under us: once more
                        raise
                    self._send = None
                    continue
                if status != 204:
                    raise SoakError(f"xhr_send answered {status} {body[:100]!r}")
                return

    async def leave(self, graceful: bool) -> None:
        """``graceful`` on xhr-polling: stop polling after the pending poll
        answers, so the session expires; otherwise cut the receiving request."""
        self.leaving = True
        if graceful and self.receiver == "xhr" and self._task is not None and not self._task.done():
            self._stop_after_response = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except asyncio.TimeoutError:
                pass
        await self._stop()

    def idle(self) -> None:
        """Nothing more to send: close the sending connection now rather
        than when the server's keep-alive timeout does."""
        if self._send is not None:
            self._send.close()
            self._send = None

    async def _stop(self) -> None:
        self.leaving = True
        for conn in (self._recv, self._send):
            if conn is not None:
                conn.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except (asyncio.TimeoutError, Exception):
                self._task.cancel()


class Emulation(Transport):
    """Protocol v2 over HTTP streaming or SSE: the first send opens the
    stream with the connect as its body (SSE: the ``cf_connect`` query);
    every later send is a ``POST /emulation`` with the session and node of
    the connect reply, on a kept-alive connection of its own.  Server pings
    ``{}`` are answered here with a pong through ``/emulation``."""

    def __init__(self, port: int, on_message: Callable[[str], None], on_close: Callable[[str], None],
                 sse: bool) -> None:
        super().__init__(port, on_message, on_close)
        self.sse = sse
        self.session = ""
        self.node = ""
        self._stream: HttpConn | None = None
        self._send: HttpConn | None = None
        self._send_lock = asyncio.Lock()
        self._buf = bytearray()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._stream = await HttpConn.open(self.port)

    async def send(self, text: str) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._receive(text))
            return
        async with self._send_lock:
            body = json.dumps({"session": self.session, "node": self.node, "data": text}).encode()
            for attempt in (1, 2):
                if self._send is None or self._send.closed:
                    self._send = await HttpConn.open(self.port)
                try:
                    status, answer = await self._send.request("POST", "/emulation", body,
                                                              "Content-Type: application/json\r\n")
                except ConnectionError:
                    if attempt == 2:
                        raise
                    self._send = None
                    continue
                if status != 204:
                    raise SoakError(f"/emulation answered {status} {answer[:100]!r}")
                return

    async def _receive(self, connect: str) -> None:
        assert self._stream is not None
        why = "stream ended"
        try:
            if self.sse:
                request = self._stream.request("GET", "/connection/sse?" + urllib.parse.urlencode(
                    {"cf_connect": connect}), on_data=self._feed)
            else:
                request = self._stream.request("POST", "/connection/http_stream", connect.encode(),
                                               "Content-Type: application/json\r\n", on_data=self._feed)
            status, body = await request
            if status != 200:
                why = f"stream answered {status} {body[:100]!r}"
        except (ConnectionError, OSError) as exc:
            why = f"stream connection lost: {exc}"
        finally:
            self._ended_because(why)

    def _feed(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        separator = b"\n\n" if self.sse else b"\n"
        start = 0
        while (end := buf.find(separator, start)) >= 0:
            item = bytes(buf[start:end]).strip(b"\r\n")
            start = end + len(separator)
            if item.startswith(b"data: "):
                item = item[6:]
            if item:
                self._item(item.decode())
        del buf[:start]

    def _item(self, text: str) -> None:
        if text == "{}":  # the server's ping: the pong goes through /emulation
            if not self.leaving:
                asyncio.get_running_loop().create_task(self._pong())
            return
        if not self.session and '"connect"' in text:
            connect = json.loads(text).get("connect", {})
            self.session, self.node = connect.get("session", ""), connect.get("node", "")
        self.on_message(text)

    async def _pong(self) -> None:
        try:
            await self.send("{}")
        except (ConnectionError, OSError, SoakError):
            pass  # the stream's end reports what happened

    async def leave(self, graceful: bool) -> None:
        self.leaving = True
        for conn in (self._stream, self._send):
            if conn is not None:
                conn.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except (asyncio.TimeoutError, Exception):
                self._task.cancel()

    def idle(self) -> None:
        """Nothing more to send but pongs: they open a connection again."""
        if self._send is not None:
            self._send.close()
            self._send = None


#: the emulation transports, whose clients speak protocol v2 (JWT, ``{"id":..}`` commands)
V2_KINDS = ("http-stream", "sse")
#: protocol v2 over SockJS: several replies per SockJS message (lines)
V2_SOCKJS = "v2-sockjs-"
#: the transports whose clients speak protocol v1 (JWT, ``{"id","method","params"}`` commands)
V1_KINDS = ("v1-websocket",)


def make_transport(kind: str, port: int, on_message: Callable[[str], None], on_close: Callable[[str], None],
                   rng: random.Random) -> Transport:
    session = f"{rng.randrange(1000):03d}" + "%029x" % rng.getrandbits(116)
    if kind in V2_KINDS:
        return Emulation(port, on_message, on_close, sse=kind == "sse")
    prefix = PREFIXES[kind.startswith(V2_SOCKJS)]
    kind = "sockjs-" + kind.removeprefix(V2_SOCKJS) if kind.startswith(V2_SOCKJS) else kind
    if kind in ("websocket", "v1-websocket"):
        return RawWebsocket(port, on_message, on_close)
    if kind == "sockjs-websocket":
        return SockJSWebsocket(port, on_message, on_close, session, prefix)
    return SockJSHttp(port, on_message, on_close, session, "xhr_streaming" if kind.endswith("xhr-streaming") else "xhr",
                      prefix)


# -- the Centrifugo protocol on top ---------------------------------------------------------------


@dataclass
class Totals:
    """What every client adds to, printed every 10 s and at the end."""

    deliveries: int = 0  # messages received, long-lived and churn clients
    long_lived_deliveries: int = 0
    distinct: int = 0  # distinct (subscriber, channel, sequence) received by long-lived subscribers
    duplicated: int = 0
    reordered: int = 0
    churned: int = 0
    churn_failed: int = 0
    churn_errors: Counter[str] = field(default_factory=Counter)
    subscriber_failures: list[str] = field(default_factory=list)
    published: int = 0
    api_requests: int = 0
    api_failed: int = 0
    api_errors: Counter[str] = field(default_factory=Counter)
    max_latency: float = 0.0  # since the last status line
    max_lag: float = 0.0  # since the last status line


class Client:
    """One Centrifugo client over one transport.  Replies are matched by uid;
    ``message`` pushes go to :meth:`on_publication`."""

    def __init__(self, kind: str, port: int, totals: Totals, rng: random.Random) -> None:
        self.kind = kind
        #: protocol v2 (ids, pushes) or the 1.x protocol; over SockJS, v2
        #: replies come as lines and pings are answered here
        self.v2 = kind in V2_KINDS or kind.startswith(V2_SOCKJS)
        self.totals = totals
        self.transport = make_transport(kind, port, self._on_message, self._on_close, rng)
        self.closed_why = ""
        self._uid = 0
        self._pending: dict[str, asyncio.Future[dict[str, Json]]] = {}

    def _on_message(self, text: str) -> None:
        if self.kind.startswith(V2_SOCKJS):
            for line in text.split("\n"):
                item = json.loads(line)
                if item:
                    self._on_v2(item, text)
                elif not self.transport.leaving:  # the server's ping
                    asyncio.get_running_loop().create_task(self._pong())
            return
        if self.kind in V1_KINDS:  # replies and pushes one per line
            for line in text.split("\n"):
                self._on_v1(json.loads(line), line)
            return
        data = json.loads(text)
        if self.kind in V2_KINDS:
            self._on_v2(data, text)
            return
        for item in data if isinstance(data, list) else (data,):
            uid = item.get("uid")
            if uid:
                future = self._pending.pop(uid, None)
                if future is not None and not future.done():
                    future.set_result(item)
            elif item.get("method") == "message":
                self.on_publication(item["body"]["data"])
            elif item.get("method") in ("disconnect", "unsubscribe"):
                self.on_unexpected(f"{item.get('method')} push {text[:200]}")

    def _on_v1(self, item: dict[str, Json], text: str) -> None:
        """A protocol v1 reply (by id) or push (a reply without id)."""
        if "id" not in item:
            push = item.get("result")
            if isinstance(push, dict) and push.get("type", 0) == 0:
                self.on_publication(push["data"]["data"])  # type: ignore[index,call-overload]
            elif isinstance(push, dict) and push.get("type") == 3:
                self.on_unexpected(f"unsub push {text[:200]}")
            return
        future = self._pending.pop(str(item.get("id")), None)
        if future is not None and not future.done():
            future.set_result(item)

    def _on_v2(self, item: dict[str, Json], text: str) -> None:
        """A protocol v2 reply (by id) or push."""
        push = item.get("push")
        if isinstance(push, dict):
            if "pub" in push:
                self.on_publication(push["pub"]["data"])
            elif "disconnect" in push or "unsubscribe" in push:
                self.on_unexpected(f"push {text[:200]}")
            return
        future = self._pending.pop(str(item.get("id")), None)
        if future is not None and not future.done():
            future.set_result(item)

    async def _pong(self) -> None:
        try:
            await self.transport.send("{}")
        except (ConnectionError, OSError, SoakError):
            pass  # the transport's close is reported on its own

    def _on_close(self, why: str) -> None:
        self.closed_why = why
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SoakError(f"closed while waiting for a reply: {why}"))
        self._pending.clear()
        if not self.transport.leaving:
            self.on_unexpected(why)

    def on_publication(self, data: Json) -> None:
        raise NotImplementedError

    def on_unexpected(self, why: str) -> None:
        """The server closed or unsubscribed this client on its own."""

    async def call(self, commands: list[dict[str, Json]], timeout: float = 10.0) -> list[dict[str, Json]]:
        futures = []
        loop = asyncio.get_running_loop()
        v2 = self.v2 or self.kind in V1_KINDS  # both: numeric ids, one command a line
        for command in commands:
            self._uid += 1
            uid = str(self._uid)
            if v2:
                command["id"] = self._uid
            else:
                command["uid"] = uid
            self._pending[uid] = future = loop.create_future()
            futures.append(future)
        if v2:  # newline-delimited commands in one frame
            await self.transport.send("\n".join(json.dumps(command) for command in commands))
        else:
            await self.transport.send(json.dumps(commands[0] if len(commands) == 1 else commands))
        replies = await asyncio.wait_for(asyncio.gather(*futures), timeout)
        for reply in replies:
            if reply.get("error"):
                raise SoakError(f"{reply.get('method')}: {reply['error']}")
        return replies

    async def start(self, user: str, channels: list[str]) -> None:
        """Open, connect with a token, subscribe (like centrifuge-js: connect,
        then one batch of subscribes)."""
        await self.transport.open()
        if self.kind in V1_KINDS:  # centrifuge-js 2.x's commands: connect has no method, subscribe is 1
            claims = {"sub": user, "exp": int(time.time()) + 24 * 3600}
            await self.call([{"params": {"token": jwt.encode(claims, SECRET, algorithm="HS256"), "name": "js"}}])
            await self.call([{"method": 1, "params": {"channel": channel}} for channel in channels])
            return
        if self.v2:  # a JWT of the secret (token_hmac_secret_key defaults to it)
            claims = {"sub": user, "exp": int(time.time()) + 24 * 3600}
            await self.call([{"connect": {"token": jwt.encode(claims, SECRET, algorithm="HS256")}}])
            await self.call([{"subscribe": {"channel": channel}} for channel in channels])
            return
        timestamp = str(int(time.time()))
        await self.call([{"method": "connect", "params": {
            "user": user, "timestamp": timestamp, "info": "",
            "token": connection_token(SECRET, user, timestamp, "")}}])
        await self.call([{"method": "subscribe", "params": {"channel": channel}} for channel in channels])


class Subscriber(Client):
    """A long-lived subscriber: every sequence of each of its channels is
    marked in a bytearray; a second mark is a duplicate."""

    def __init__(self, index: int, kind: str, port: int, totals: Totals, rng: random.Random,
                 channels: list[int]) -> None:
        super().__init__(kind, port, totals, rng)
        self.index = index
        self.channels = channels
        self.seen: dict[int, bytearray] = {c: bytearray(4096) for c in channels}
        self.last: dict[int, int] = {c: 0 for c in channels}
        self.failed = ""

    def on_publication(self, data: Json) -> None:
        totals = self.totals
        channel, seq = data["c"], data["s"]
        totals.deliveries += 1
        totals.long_lived_deliveries += 1
        latency = time.time() - data["t"]
        if latency > totals.max_latency:
            totals.max_latency = latency
        seen = self.seen.get(channel)
        if seen is None:
            self.on_unexpected(f"a message of channel {channel}, not subscribed")
            return
        if seq >= len(seen):
            seen.extend(bytes(max(seq + 1 - len(seen), len(seen))))
        if seen[seq]:
            totals.duplicated += 1
            return
        seen[seq] = 1
        totals.distinct += 1
        if seq < self.last[channel]:
            totals.reordered += 1
        else:
            self.last[channel] = seq

    def on_unexpected(self, why: str) -> None:
        if not self.failed:
            self.failed = why
            self.totals.subscriber_failures.append(f"subscriber {self.index} ({self.kind}): {why}")

    def missing(self, published: list[int], uncertain: list[set[int]]) -> int:
        """Sequences 1..published[c] of its channels never received (the
        ones whose API request failed are not counted)."""
        lost = 0
        for channel in self.channels:
            last = published[channel]
            seen = self.seen[channel]
            if len(seen) <= last:
                seen.extend(bytes(last + 1 - len(seen)))
            lost += last - seen.count(1, 1, last + 1)
            lost -= sum(1 for seq in uncertain[channel] if not seen[seq])
        return lost


class ChurnClient(Client):
    """Connects, subscribes, waits for ``reads`` messages, leaves."""

    def __init__(self, kind: str, port: int, totals: Totals, rng: random.Random, reads: int) -> None:
        super().__init__(kind, port, totals, rng)
        self.reads = reads
        self.got = 0
        self.done = quiet_future()

    def on_publication(self, data: Json) -> None:
        self.totals.deliveries += 1
        self.got += 1
        if self.got >= self.reads and not self.done.done():
            self.done.set_result(None)

    def on_unexpected(self, why: str) -> None:
        if not self.done.done():
            self.done.set_exception(SoakError(why))


# -- the soak ---------------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    rss_kib: int
    fds: int
    clients: int
    sessions: int
    churned: int
    by_transport: dict[str, int] = field(default_factory=dict)  # open sessions


class Soak:
    def __init__(self, args: argparse.Namespace, hub: SockhubProcess) -> None:
        self.args = args
        self.hub = hub
        self.port = hub.port
        self.pid = hub.pid
        self.rng = random.Random(args.seed)
        self.totals = Totals()
        self.channels = args.channels
        self.sequences = [0] * args.channels  # last sequence handed out per channel
        self.published = [0] * args.channels  # highest sequence the API acknowledged per channel
        self.uncertain: list[set[int]] = [set() for _ in range(args.channels)]
        self.subscribers: list[Subscriber] = []
        self.stopping = False
        self.publishing = True
        self.started = 0.0
        self.stats_conn: HttpConn | None = None
        self.stats_lock = asyncio.Lock()

    # -- server figures --
    async def api(self, conn: HttpConn, body: bytes) -> Json:
        headers = f"Content-Type: application/json\r\nX-API-Sign: {api_sign(SECRET, body)}\r\n"
        status, answer = await conn.request("POST", "/api/", body, headers)
        if status != 200:
            raise SoakError(f"API answered {status}: {answer[:200]!r}")
        return json.loads(answer)

    async def sample(self) -> Sample:
        """The server's RSS and fds (/proc), clients (API ``node``) and
        sessions (/metrics), on one kept-alive connection."""
        async with self.stats_lock:
            if self.stats_conn is None or self.stats_conn.closed:
                self.stats_conn = await HttpConn.open(self.port)
            node = await self.api(self.stats_conn, b'{"method":"node"}')
            status, text = await self.stats_conn.request("GET", "/metrics")
        clients = int(node[0]["body"]["data"]["metrics"]["node_num_clients"])
        if status == 200 and b"# TYPE sockhub_node_connections gauge" not in text:
            raise RuntimeError("/metrics has no sockhub_node_connections: sessions cannot be counted")
        by_transport = {m.group(1).decode(): int(float(m.group(2))) for m in re.finditer(
            rb'sockhub_node_connections\{transport="(\w+)"\} (\S+)', text)} if status == 200 else {}
        return Sample(time.monotonic(), rss_kib(self.pid), open_fds(self.pid), clients,
                      sum(by_transport.values()) if status == 200 else -1, self.totals.churned, by_transport)

    # -- clients --
    async def start_subscribers(self) -> None:
        args = self.args
        window = asyncio.Semaphore(50)

        async def one(index: int) -> None:
            others = [c for c in range(self.channels) if c != index % self.channels]
            channels = [index % self.channels] + self.rng.sample(others, min(args.per_client, self.channels) - 1)
            sub = Subscriber(index, TRANSPORTS[index % len(TRANSPORTS)], self.port, self.totals, self.rng, channels)
            async with window:
                try:
                    await sub.start(f"sub{index}", [f"soak{c}" for c in channels])
                except (SoakError, ConnectionError, OSError, asyncio.TimeoutError) as exc:
                    sub.on_unexpected(f"could not start: {type(exc).__name__}: {exc}")
                    await sub.transport.leave(False)
            if isinstance(sub.transport, (SockJSHttp, Emulation)):
                sub.transport.idle()
            self.subscribers.append(sub)

        await asyncio.gather(*(one(i) for i in range(args.subscribers)))

    async def churn_one(self, index: int) -> None:
        kind = TRANSPORTS[index % len(TRANSPORTS)]
        graceful = (index // len(TRANSPORTS)) % 2 == 0
        client = ChurnClient(kind, self.port, self.totals, self.rng, self.args.churn_reads)
        channels = self.rng.sample(range(self.channels), min(self.args.per_client, self.channels))
        try:
            await client.start(f"churn{index}", [f"soak{c}" for c in channels])
            await asyncio.wait_for(client.done, 15)
            await client.transport.leave(graceful)
            self.totals.churned += 1
        except (SoakError, ConnectionError, OSError, asyncio.TimeoutError) as exc:
            self.totals.churn_failed += 1
            self.totals.churn_errors[f"{kind}: {type(exc).__name__}: {str(exc)[:120]}"] += 1
            try:
                await client.transport.leave(False)
            except Exception:
                pass

    async def churn(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        index = 0
        while not self.stopping:
            while len(in_flight) < self.args.churn and not self.stopping:
                task = asyncio.get_running_loop().create_task(self.churn_one(index))
                index += 1
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)

    # -- publishing --
    async def publish(self) -> None:
        conn = await HttpConn.open(self.port)
        loop = asyncio.get_running_loop()
        rate = self.args.rate
        start = loop.time()
        sent = 0
        try:
            while self.publishing:
                due = int((loop.time() - start) * rate) - sent
                if due <= 0:
                    await asyncio.sleep(PUBLISH_TICK)
                    continue
                count = min(due, MAX_BATCH)
                batch: list[tuple[int, int]] = []
                commands = []
                now = round(time.time(), 4)
                for _ in range(count):
                    channel = self.rng.randrange(self.channels)
                    self.sequences[channel] += 1
                    seq = self.sequences[channel]
                    batch.append((channel, seq))
                    commands.append({"method": "publish", "params": {
                        "channel": f"soak{channel}", "data": {"c": channel, "s": seq, "t": now}}})
                sent += count
                conn = await self._publish_batch(conn, commands, batch)
                await asyncio.sleep(PUBLISH_TICK)
        finally:
            conn.close()

    async def _publish_batch(self, conn: HttpConn, commands: list[dict[str, Json]],
                             batch: list[tuple[int, int]]) -> HttpConn:
        totals = self.totals
        totals.api_requests += 1
        try:
            if conn.closed:
                conn = await HttpConn.open(self.port)
            replies = await asyncio.wait_for(self.api(conn, json.dumps(commands).encode()), 30)
            errors = [r.get("error") for r in replies]
        except (SoakError, ConnectionError, OSError, asyncio.TimeoutError, ValueError) as exc:
            errors = [f"{type(exc).__name__}: {exc}"[:120]] * len(batch)
            conn.close()
        if any(errors):
            totals.api_failed += 1
        for (channel, seq), error in zip(batch, errors):
            if error:
                self.uncertain[channel].add(seq)
                totals.api_errors[str(error)] += 1
            else:
                totals.published += 1
            self.published[channel] = max(self.published[channel], seq)
        return conn

    # -- keeping up --
    async def watch_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.1)
            lag = loop.time() - before - 0.1
            self.totals.max_lag = max(self.totals.max_lag, lag)

    # -- the run --
    async def run(self) -> int:
        args = self.args
        totals = self.totals
        start = await self.sample()
        print(f"sockhub pid {self.pid} on port {self.port}: RSS {start.rss_kib / 1024:.1f} MiB, "
              f"{start.fds} fds, {start.clients} clients at the start", flush=True)
        lag_task = asyncio.get_running_loop().create_task(self.watch_lag())
        t0 = time.monotonic()
        await self.start_subscribers()
        print(f"{len(self.subscribers)} long-lived subscribers up in {time.monotonic() - t0:.1f} s "
              f"({', '.join(f'{sum(s.kind == k for s in self.subscribers)} {k}' for k in TRANSPORTS)}; "
              f"{args.per_client} of {args.channels} channels each)", flush=True)
        totals.max_lag = 0.0

        mark_at = args.mark if args.duration >= 2 * args.mark else args.duration / 2
        self.started = time.monotonic()
        publisher = asyncio.get_running_loop().create_task(self.publish())
        churner = asyncio.get_running_loop().create_task(self.churn())
        mark_task = asyncio.get_running_loop().create_task(self.sample_at(self.started + mark_at))
        prev_cpu = (cpu_seconds(self.pid), own_cpu_seconds())
        prev_published, prev_t = 0, time.monotonic()
        keep_up: list[str] = []
        next_line = self.started + INTERVAL
        end = self.started + args.duration
        while next_line < end + 0.5:
            await asyncio.sleep(max(0.0, next_line - time.monotonic()))
            next_line += INTERVAL
            prev_cpu, prev_published, prev_t = await self.status_line(prev_cpu, prev_published, prev_t, keep_up)
        await asyncio.sleep(max(0.0, end - time.monotonic()))
        final = await self.sample()
        mark = await mark_task
        # no new churn clients; those in flight get their messages and leave, then publishing stops
        self.stopping = True
        print(f"stopped at {final.at - self.started:.0f} s; waiting for the churn clients in flight, then the drain",
              flush=True)
        await churner
        self.publishing = False
        await publisher
        drained = await self.drain()
        lost = sum(s.missing(self.published, self.uncertain) for s in self.subscribers if not s.failed)
        failed = [s for s in self.subscribers if s.failed]
        status = self.summary(final, mark, mark_at, lost, failed, drained, keep_up)
        if not await self.everyone_leaves(start):
            status = 1
        lag_task.cancel()
        if self.stats_conn is not None:
            self.stats_conn.close()
        return status

    async def sample_at(self, when: float) -> Sample:
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        return await self.sample()

    async def status_line(self, prev_cpu: tuple[float, float], prev_published: int, prev_t: float,
                          keep_up: list[str]) -> tuple[tuple[float, float], int, float]:
        totals = self.totals
        s = await self.sample()
        cpu = (cpu_seconds(self.pid), own_cpu_seconds())
        span = max(s.at - prev_t, 1e-6)
        server_cpu = (cpu[0] - prev_cpu[0]) / span * 100
        client_cpu = (cpu[1] - prev_cpu[1]) / span * 100
        rate = (totals.published + totals.api_failed - prev_published) / span
        elapsed = s.at - self.started
        print(f"[{elapsed:5.0f} s] RSS {s.rss_kib / 1024:6.1f} MiB  fds {s.fds:5d}  clients {s.clients:4d}"
              f" (sessions {s.sessions:4d})  churned {totals.churned:7d}  deliveries {totals.deliveries:9d}"
              f" | publish {rate:4.0f}/s  cpu server {server_cpu:3.0f}% client {client_cpu:3.0f}%"
              f"  lag {totals.max_lag * 1000:4.0f} ms  latency max {totals.max_latency * 1000:5.0f} ms",
              flush=True)
        problems = []
        if rate < 0.9 * self.args.rate:
            problems.append(f"publishing at {rate:.0f}/s of {self.args.rate}/s")
        if client_cpu > 90:
            problems.append(f"client CPU {client_cpu:.0f}%")
        if totals.max_lag > 1.0:
            problems.append(f"client event-loop lag {totals.max_lag:.1f} s")
        if problems:
            line = f"at {elapsed:.0f} s: " + ", ".join(problems)
            keep_up.append(line)
            print(f"  WARNING: the client is not keeping up: {line}", flush=True)
        totals.max_latency = totals.max_lag = 0.0
        return cpu, totals.published + totals.api_failed, s.at

    async def drain(self) -> float:
        """Until every long-lived subscriber has every published sequence of
        its channels, or nothing arrived for 5 s (60 s at most)."""
        expected = sum(self.published[c] - len(self.uncertain[c])
                       for s in self.subscribers if not s.failed for c in s.channels)
        t0 = time.monotonic()
        last_progress, last_count = t0, -1
        while time.monotonic() - t0 < 60:
            count = sum(s.seen[c].count(1, 1, self.published[c] + 1) for s in self.subscribers
                        if not s.failed for c in s.channels)
            if count >= expected:
                break
            if count != last_count:
                last_count, last_progress = count, time.monotonic()
            elif time.monotonic() - last_progress > 5:
                break
            await asyncio.sleep(0.25)
        return time.monotonic() - t0

    def summary(self, final: Sample, mark: Sample, mark_at: float, lost: int, failed: list[Subscriber],
                drained: float, keep_up: list[str]) -> int:
        totals = self.totals
        args = self.args
        elapsed = final.at - self.started
        churned_since = final.churned - mark.churned
        kib = (final.rss_kib - mark.rss_kib) / churned_since if churned_since else float("nan")
        judged = args.duration >= 2 * args.mark

        def verdict(ok: bool) -> str:
            return "PASS" if ok else "FAIL"

        print(f"\nsummary of {elapsed:.0f} s ({args.subscribers} long-lived subscribers, churn {args.churn} "
              f"in flight, {args.rate} publishes/s over {args.channels} channels, seed {args.seed}):")
        print(f"  churned connections     {totals.churned} ({totals.churned / max(elapsed, 1e-6):.1f}/s; "
              f"{totals.churn_failed} failed)")
        print(f"  deliveries              {totals.deliveries} ({totals.long_lived_deliveries} to long-lived "
              f"subscribers, {totals.deliveries - totals.long_lived_deliveries} to churn clients)")
        print(f"  published               {totals.published} in {totals.api_requests} API requests "
              f"({totals.api_failed} failed); drain {drained:.1f} s")
        for kind in ("xhr-streaming", "xhr-polling"):
            sessions = [s.transport for s in self.subscribers if s.kind == kind]
            requests = sum(t.requests for t in sessions if isinstance(t, SockJSHttp))
            if sessions:
                print(f"  long-lived {kind + ':':<14} {requests} receiving requests ({requests / len(sessions):.0f} "
                      "a session)")
        print(f"  lost                    {lost:<10d} target 0          {verdict(lost == 0)}")
        print(f"  duplicated              {totals.duplicated:<10d} target 0          {verdict(totals.duplicated == 0)}")
        if totals.reordered:
            print(f"  reordered               {totals.reordered} (a sequence after a later one of its channel)")
        note = "" if judged else f"  not judged: needs --duration >= {2 * args.mark:.0f}"
        print(f"  KiB RSS per churned     {kib:<10.3f} target <= {TARGET_KIB}   "
              f"{verdict(kib <= TARGET_KIB) if judged else '-'}{note}")
        print(f"    (RSS {mark.rss_kib / 1024:.1f} MiB at {mark.at - self.started:.0f} s -> "
              f"{final.rss_kib / 1024:.1f} MiB at {elapsed:.0f} s, {churned_since} connections churned between)")
        ok = lost == 0 and totals.duplicated == 0 and not failed and (not judged or kib <= TARGET_KIB)
        if failed:
            print(f"  long-lived subscribers that failed (closed or refused): {len(failed)} "
                  "(their lost counts are left out)")
            for line in totals.subscriber_failures[:10]:
                print(f"    {line}")
        for error, count in totals.churn_errors.most_common(10):
            print(f"  churn failure x{count}: {error}")
        for error, count in totals.api_errors.most_common(5):
            print(f"  API failure x{count}: {error}")
        if keep_up:
            print(f"  the client did not keep up {len(keep_up)} time(s) (figures above may be the client's, "
                  f"not the server's): {keep_up[0]}")
        print(f"  verdict: {verdict(ok)}", flush=True)
        return 0 if ok else 1

    async def everyone_leaves(self, start: Sample) -> bool:
        """Every long-lived subscriber leaves; after ``sockjs_disconnect_delay``
        + 5 s the server's figures against the start.  Clients or sessions
        still there are followed for up to 60 s more: late, or never gone.
        True when clients and sessions are back to the start."""
        # websockets with a closing handshake; HTTP sessions cut (no poll would be answered now)
        results = await asyncio.gather(*(s.transport.leave(s.kind.endswith("websocket"))
                                         for s in self.subscribers), return_exceptions=True)
        errors = Counter(f"{s.kind}: {type(r).__name__}" for s, r in zip(self.subscribers, results)
                         if isinstance(r, BaseException))
        if errors:
            print(f"  leaving failed for: {dict(errors)}")
        left_at = time.monotonic()
        wait = DISCONNECT_DELAY + 5
        await asyncio.sleep(wait)
        after = await self.sample()
        print(f"\nafter every client left (waited {wait:.0f} s): RSS {after.rss_kib / 1024:.1f} MiB "
              f"(start {start.rss_kib / 1024:.1f}), fds {after.fds} (start {start.fds}), clients {after.clients} "
              f"(start {start.clients}), sessions {after.sessions} (start {start.sessions})", flush=True)
        if after.clients <= start.clients and after.sessions <= start.sessions:
            return True
        print(f"  still open by transport: {({k: n for k, n in after.by_transport.items() if n})}; following them",
              flush=True)
        while time.monotonic() - left_at < wait + 60:
            await asyncio.sleep(1)
            after = await self.sample()
            if after.clients <= start.clients and after.sessions <= start.sessions:
                print(f"  back to the start {time.monotonic() - left_at:.0f} s after everyone left", flush=True)
                return True
        print(f"  NOT back to the start {time.monotonic() - left_at:.0f} s after everyone left: clients "
              f"{after.clients}, sessions {({k: n for k, n in after.by_transport.items() if n})}, "
              f"fds {after.fds}", flush=True)
        return False


def log_problems(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of churn and publishing (600)")
    parser.add_argument("--subscribers", type=int, default=500, help="long-lived subscribers (500)")
    parser.add_argument("--churn", type=int, default=20, help="churn clients in flight (20)")
    parser.add_argument("--rate", type=float, default=200, help="API publishes per second (200)")
    parser.add_argument("--channels", type=int, default=50, help="channels (50)")
    parser.add_argument("--per-client", type=int, default=2, help="channels each client subscribes to (2)")
    parser.add_argument("--churn-reads", type=int, default=3, help="messages a churn client reads (3)")
    parser.add_argument("--mark", type=float, default=60, help="RSS per churned connection from here (60 s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client to CPUs 1 and 0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hub = SockhubProcess(Path(tmp), SERVER_CONFIG, name="soak", stop_timeout=20)
        with hub:
            if not args.no_pin and (os.cpu_count() or 1) >= 2:
                pin(hub.pid, 1)
                pin(0, 0)
            status = asyncio.run(Soak(args, hub).run())
        problems = log_problems(hub.logs())
        print(f"server exited with {hub.returncode}; log: {sum('Traceback' in p for p in problems)} tracebacks, "
              f"{len(problems)} ERROR/traceback lines", flush=True)
        for line in problems[:10]:
            print("  log:", line[:300])
    sys.exit(1 if status or problems else 0)


if __name__ == "__main__":
    main()
