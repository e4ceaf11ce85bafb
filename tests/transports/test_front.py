"""transports.front: a claimed request is answered by its route, every other
one by the application, over a real socket with keep-alive in between."""
from __future__ import annotations

from tornado import httputil
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from tests.support.net import free_port
from transports.front import FrontDoor


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
