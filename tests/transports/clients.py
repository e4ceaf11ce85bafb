"""Small asyncio clients for every SockJS transport (tests only).

Each client speaks one transport the way sockjs-client does (including the
reconnect after a streaming response ends) and hands back raw SockJS frames
("o", "h", 'a[...]', 'c[...]'), so one test suite can run over all of them.
"""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Ping, Request,
                            TextMessage)


# -- raw HTTP/1.x -------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    version: str
    _remaining: int | None = None
    _chunked: bool = False
    _done: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    async def read_some(self) -> bytes:
        """Next piece of the body; b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            line = await self.reader.readline()
            if not line:  # cut mid-stream (no last chunk)
                self._done = True
                return b""
            size = int(line.strip().split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                self._done = True
                return b""
            data = await self.reader.readexactly(size)
            await self.reader.readline()
            return data
        if self._remaining is not None:
            if self._remaining == 0:
                self._done = True
                return b""
            data = await self.reader.read(self._remaining)
            self._remaining -= len(data)
            if not data:
                self._done = True
            return data
        data = await self.reader.read(65536)
        if not data:
            self._done = True
        return data

    async def body(self) -> bytes:
        parts = []
        while chunk := await self.read_some():
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


async def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
    version: str = "HTTP/1.1", conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None,
) -> Response:
    """Send one request (on ``conn`` if given) and read the response head."""
    reader, writer = conn if conn is not None else await asyncio.open_connection("127.0.0.1", port)
    try:
        return await _exchange(reader, writer, port, method, path, body, headers, version)
    except BaseException:
        writer.close()
        raise


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int,
                    method: str, path: str, body: bytes, headers: dict[str, str] | None,
                    version: str) -> Response:
    head = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    if body or method == "POST":
        head["Content-Length"] = str(len(body))
    lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in head.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    status_line = (await reader.readline()).decode()
    proto, status = status_line.split()[:2]
    headers_out: dict[str, str] = {}
    while (line := (await reader.readline()).decode().rstrip("\r\n")):
        name, _, value = line.partition(":")
        key = name.strip().lower()
        value = value.strip()
        headers_out[key] = headers_out[key] + ", " + value if key in headers_out else value
    resp = Response(int(status), headers_out, reader, writer, proto)
    if headers_out.get("transfer-encoding", "").lower() == "chunked":
        resp._chunked = True
    elif "content-length" in headers_out:
        resp._remaining = int(headers_out["content-length"])
    elif int(status) in (101, 204, 304) or method == "HEAD":
        resp._remaining = 0
    return resp


async def fetch(port: int, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[Response, bytes]:
    resp = await request(port, method, path, body, headers)
    data = await resp.body()
    resp.close()
    return resp, data


# -- frame extraction per HTTP transport ----------------------------------------

HTMLFILE_FRAME = re.compile(r'<script>\np\((".*?")\);\n</script>\r\n', re.S)
JSONP_FRAME = re.compile(r'^/\*\*/[\w.]+\((".*")\);\r\n$', re.S)


class FrameParser:
    """Turns the bytes of one HTTP receiving response into SockJS frames."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.buf = ""
        self.prelude_done = transport in ("xhr", "jsonp")

    def feed(self, data: bytes) -> list[str]:
        self.buf += data.decode()
        if not self.prelude_done:
            end = {"xhr_streaming": "\n", "eventsource": "\r\n", "htmlfile": "\r\n\r\n"}[self.transport]
            if end not in self.buf:
                return []
            self.buf = self.buf[self.buf.index(end) + len(end):]
            self.prelude_done = True
        frames: list[str] = []
        if self.transport in ("xhr", "xhr_streaming"):
            while "\n" in self.buf:
                line, self.buf = self.buf.split("\n", 1)
                frames.append(line)
        elif self.transport == "eventsource":
            while "\r\n\r\n" in self.buf:
                event, self.buf = self.buf.split("\r\n\r\n", 1)
                assert event.startswith("data: "), event
                frames.append(event[6:])
        elif self.transport == "htmlfile":
            while (m := HTMLFILE_FRAME.search(self.buf)):
                frames.append(json.loads(m.group(1)))
                self.buf = self.buf[m.end():]
        elif self.transport == "jsonp":
            if (m := JSONP_FRAME.match(self.buf)):
                frames.append(json.loads(m.group(1)))
                self.buf = ""
        return frames


# -- clients ------------------------------------------------------------------------


class HttpClient:
    """A SockJS session over one HTTP receiving transport.

    Receiving requests are issued one after another like sockjs-client does:
    a new one as soon as the previous response ended."""

    def __init__(self, port: int, transport: str, prefix: str = "/echo",
                 session_id: str | None = None, version: str = "HTTP/1.1") -> None:
        self.port = port
        self.transport = transport
        self.session_id = session_id or uuid.uuid4().hex
        self.base = f"{prefix}/000/{self.session_id}"
        self.version = version
        self.frames: asyncio.Queue[str] = asyncio.Queue()
        self.requests = 0
        self._task: asyncio.Task[None] | None = None
        self._resp: Response | None = None

    def receive_path(self) -> str:
        if self.transport in ("htmlfile", "jsonp"):
            return f"{self.base}/{self.transport}?c=cb"
        return f"{self.base}/{self.transport}"

    def receive_method(self) -> str:
        return "POST" if self.transport.startswith("xhr") else "GET"

    async def open_receiver(self) -> Response:
        self.requests += 1
        return await request(self.port, self.receive_method(), self.receive_path(), version=self.version)

    async def _run(self) -> None:
        try:
            await self._receive_loop()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # server went away (end of test)

    async def _receive_loop(self) -> None:
        while True:
            resp = self._resp = await self.open_receiver()
            parser = FrameParser(self.transport)
            closed = False
            while chunk := await resp.read_some():
                for frame in parser.feed(chunk):
                    closed = closed or frame.startswith("c")
                    await self.frames.put(frame)
            resp.close()
            if closed:
                return

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def connect(self) -> str:
        self.start()
        return await self.next_frame()

    async def next_frame(self, timeout: float = 5.0) -> str:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def send(self, *messages: str) -> int:
        payload = json.dumps(list(messages))
        if self.transport == "jsonp":
            body = ("d=" + quote(payload)).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            resp, _ = await fetch(self.port, "POST", self.base + "/jsonp_send", body, headers)
        else:
            resp, _ = await fetch(self.port, "POST", self.base + "/xhr_send", payload.encode())
        return resp.status

    async def close(self) -> None:
        """Stop receiving and drop the connection (like a closed tab)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, ConnectionError):
                pass
        if self._resp is not None:
            self._resp.close()


class WsClient:
    """A websocket client on wsproto; SockJS framing or raw messages."""

    def __init__(self, port: int, path: str, ssl: Any = None) -> None:
        self.port = port
        self.path = path
        self.ssl = ssl
        self.frames: asyncio.Queue[str] = asyncio.Queue()
        self.close_event: CloseConnection | None = None
        self.closed = asyncio.Event()
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._parts: list[str] = []
        self.requests = 1

    async def start(self) -> None:
        if self.ssl is not None:
            self._reader, self._writer = await asyncio.open_connection(
                "127.0.0.1", self.port, ssl=self.ssl, server_hostname="localhost")
        else:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer.write(self._ws.send(Request(host=f"127.0.0.1:{self.port}", target=self.path)))
        accepted = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(accepted))
        await asyncio.wait_for(accepted, 5)

    async def _run(self, accepted: asyncio.Future[None]) -> None:
        try:
            await self._receive_loop(accepted)
        except ConnectionError:
            pass
        finally:
            if self._writer is not None:
                self._writer.close()
            if not accepted.done():
                accepted.set_exception(ConnectionError("upgrade refused"))
            self.closed.set()

    async def _receive_loop(self, accepted: asyncio.Future[None]) -> None:
        assert self._reader is not None and self._writer is not None
        while data := await self._reader.read(65536):
            self._ws.receive_data(data)
            for event in self._ws.events():
                if isinstance(event, AcceptConnection):
                    accepted.set_result(None)
                elif isinstance(event, (TextMessage, BytesMessage)):
                    self._parts.append(event.data if isinstance(event.data, str) else event.data.decode())
                    if event.message_finished:
                        await self.frames.put("".join(self._parts))
                        self._parts = []
                elif isinstance(event, Ping):
                    self._writer.write(self._ws.send(event.response()))
                    await self.frames.put("<ping>")
                elif isinstance(event, CloseConnection):
                    self.close_event = event
                    try:
                        self._writer.write(self._ws.send(event.response()))
                    except Exception:  # already closed by us
                        pass

    async def connect(self) -> str:
        await self.start()
        return await self.next_frame()

    async def next_frame(self, timeout: float = 5.0) -> str:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def send_text(self, text: str) -> None:
        assert self._writer is not None
        self._writer.write(self._ws.send(TextMessage(data=text)))
        await self._writer.drain()

    async def send_frames(self, texts: list[str]) -> None:
        """Several text frames in one write."""
        assert self._writer is not None
        self._writer.write(b"".join(self._ws.send(TextMessage(data=t)) for t in texts))
        await self._writer.drain()

    async def send(self, *messages: str) -> int:
        await self.send_text(json.dumps(list(messages)))
        return 204

    def drop(self) -> None:
        """Close TCP without a closing handshake."""
        if self._writer is not None:
            self._writer.transport.abort()

    async def close(self) -> None:
        self.drop()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, ConnectionError):
                pass


def sockjs_client(port: int, transport: str, prefix: str = "/echo",
                  session_id: str | None = None) -> HttpClient | WsClient:
    """A client for ``transport`` ("websocket" or an HTTP receiving one)."""
    if transport == "websocket":
        return WsClient(port, f"{prefix}/000/{session_id or uuid.uuid4().hex}/websocket")
    return HttpClient(port, transport, prefix, session_id)


def messages(frame: str) -> list[str]:
    """The messages of an ``a[...]`` frame."""
    assert frame.startswith("a"), frame
    items: list[str] = json.loads(frame[1:])
    return items


async def collect(client: "HttpClient | WsClient", count: int, timeout: float = 5.0) -> list[str]:
    """At least ``count`` messages from the next ``a[...]`` frames (heartbeats
    skipped; any other frame fails :func:`messages`)."""
    got: list[str] = []
    while len(got) < count:
        frame = await client.next_frame(timeout)
        if frame != "h":
            got += messages(frame)
    return got
