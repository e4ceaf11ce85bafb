"""transports.front: a claimed request is answered by its route, every other
one by the application, over a real socket with keep-alive in between."""
from __future__ import annotations

import asyncio

from tornado import httputil
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from tests.support.net import free_port
from transports.front import FrontDoor, front_server


class AppHandler(RequestHandler):
    def post(self) -> None:
        self.finish(b"app:" + self.request.body)


class Echo(httputil.HTTPMessageDelegate):
    def __init__(self, conn: httputil.HTTPConnection) -> None:
        self._conn = conn
        self._body = b""

    def headers_received(self, start_line: object, headers: httputil.HTTPHeaders) -> None:
        return None

    def data_received(self, chunk: bytes) -> None:
        self._body += chunk

    def finish(self) -> None:
        body = b"fast:" + self._body
        headers = httputil.HTTPHeaders({"Content-Length": str(len(body))})
        self._conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", 200, "OK"), headers, body)
        self._conn.finish()


def fast(start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders,
         conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate | None:
    return Echo(conn) if start_line.path == "/fast" and start_line.method == "POST" else None


async def test_claimed_requests_skip_the_application_and_others_reach_it() -> None:
    app = Application([(r"/.*", AppHandler)])
    server = HTTPServer(FrontDoor(app, [fast]), xheaders=True)
    port = free_port()
    server.listen(port, "127.0.0.1")
    client = AsyncHTTPClient(force_instance=True)
    try:
        answers = []
        for path in ("/fast", "/slow", "/fast?x=1", "/fast"):
            response = await client.fetch(f"http://127.0.0.1:{port}{path}", method="POST", body=b"hi",
                                           raise_error=False)
            answers.append((response.code, response.body))
        assert answers == [(200, b"fast:hi"), (200, b"app:hi"), (200, b"app:hi"), (200, b"fast:hi")]
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()


class WhoHandler(RequestHandler):
    def get(self) -> None:
        self.finish(f"{self.request.remote_ip} {self.request.protocol}")


def who_fast(start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders,
             conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate | None:
    """A route that answers what the connection's context says at claim time."""
    if start_line.path != "/fast-who":
        return None
    context = conn.context
    return Answer(conn, f"{context.remote_ip} {context.protocol}".encode())


class Answer(Echo):
    def __init__(self, conn: httputil.HTTPConnection, body: bytes) -> None:
        super().__init__(conn)
        self._answer = body

    def finish(self) -> None:
        headers = httputil.HTTPHeaders({"Content-Length": str(len(self._answer))})
        self._conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", 200, "OK"), headers, self._answer)
        self._conn.finish()


PROXIED = [  # headers -> what the application and the fast route see
    ({}, "127.0.0.1 http"),
    ({"X-Real-Ip": "203.0.113.7"}, "203.0.113.7 http"),
    ({"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}, "203.0.113.9 http"),
    ({"X-Forwarded-For": "198.51.100.1", "X-Real-Ip": "2001:db8::5"}, "2001:db8::5 http"),
    ({"X-Real-Ip": "not-an-ip"}, "127.0.0.1 http"),
    ({"X-Scheme": "https"}, "127.0.0.1 https"),
    ({"X-Forwarded-Proto": "http, https"}, "127.0.0.1 https"),
    ({"X-Scheme": "gopher"}, "127.0.0.1 http"),
]


async def test_proxy_headers_are_honoured_per_request_on_one_connection() -> None:
    """With xheaders, each request sees its own proxy headers (Tornado's
    rules), and a request without them the socket's address again."""
    server = front_server(Application([(r"/who", WhoHandler)]), [who_fast])
    port = free_port()
    server.listen(port, "127.0.0.1")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in ("/who", "/fast-who"):
            for headers, expected in PROXIED + PROXIED[:1]:
                lines = [f"GET {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items())]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                assert (path, (await reader.readexactly(length)).decode()) == (path, expected)
    finally:
        writer.close()
        server.stop()
        await server.close_all_connections()


async def test_without_xheaders_proxy_headers_are_ignored() -> None:
    server = HTTPServer(FrontDoor(Application([(r"/who", WhoHandler)]), [who_fast]))
    port = free_port()
    server.listen(port, "127.0.0.1")
    client = AsyncHTTPClient(force_instance=True)
    try:
        for path in ("/who", "/fast-who"):
            response = await client.fetch(f"http://127.0.0.1:{port}{path}",
                                          headers={"X-Real-Ip": "203.0.113.7", "X-Scheme": "https"})
            assert response.body == b"127.0.0.1 http"
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()


class SlowHandler(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(0.6)
        self.finish(b"late")


async def test_idle_connections_are_closed_but_slow_answers_are_not() -> None:
    """front_server closes a connection that waits for a request's headers
    longer than idle_timeout (a silent one, one sent half its headers, one
    idle after a request), never one whose answer takes longer."""
    server = front_server(Application([(r"/slow", SlowHandler), (r"/who", WhoHandler)]), [who_fast],
                          idle_timeout=0.3)
    port = free_port()
    server.listen(port, "127.0.0.1")
    opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
    try:
        (silent, _), (half, half_w), (after, after_w), (slow, slow_w) = opened
        half_w.write(b"GET /who HTTP/1.1\r\nHost: x\r\n")
        after_w.write(b"GET /fast-who HTTP/1.1\r\nHost: x\r\n\r\n")
        slow_w.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        for reader in (silent, half):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        answered = await asyncio.wait_for(after.read(), 5)  # answer, then closed
        assert answered.startswith(b"HTTP/1.1 200") and answered.endswith(b"127.0.0.1 http")
        late = await asyncio.wait_for(slow.read(), 5)
        assert late.startswith(b"HTTP/1.1 200") and late.endswith(b"late")
    finally:
        for _, writer in opened:
            writer.close()
        server.stop()
        await server.close_all_connections()
