"""The raw websocket as the protobuf dialects need it: the subprotocol the
client offers and the server accepts, the opening request handed to the
application, binary messages both ways, and several queued messages merged
into one frame (JSON lines, concatenated binary)."""
from __future__ import annotations

import asyncio

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Request,
    TextMessage,
)

from tests.transports.conftest import serve
from tests.transports.test_inframes import frame
from transports.frames import CONCAT, LINES
from transports.interfaces import OpenRequest


class WsClient:
    """A wsproto client on an asyncio stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.events: list[Event] = []

    @classmethod
    async def open(cls, port: int, target: str, subprotocols: list[str]) -> "WsClient":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        writer.write(client.ws.send(Request(host="x", target=target, subprotocols=subprotocols)))
        await client.until(lambda e: isinstance(e, AcceptConnection))
        return client

    def send(self, data: str | bytes, finished: bool = True) -> None:
        event = TextMessage(data=data, message_finished=finished) if isinstance(data, str) \
            else BytesMessage(data=data, message_finished=finished)
        self.writer.write(self.ws.send(event))

    async def until(self, done: object) -> Event:
        while True:
            for event in self.ws.events():
                self.events.append(event)
                if done(event):  # type: ignore[operator]
                    return event
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            assert data, f"connection closed; events so far: {self.events}"
            self.ws.receive_data(data)

    async def messages(self, count: int) -> list[Message[object]]:
        """The next ``count`` data frames."""
        got: list[Message[object]] = []
        while len(got) < count:
            got.append(await self.until(lambda e: isinstance(e, Message)))  # type: ignore[arg-type]
        return got

    def close(self) -> None:
        self.writer.close()


async def test_the_first_offered_subprotocol_the_server_accepts_is_chosen() -> None:
    async with serve(subprotocols=("centrifuge-json", "centrifuge-protobuf"), binary_messages=True) as srv:
        client = await WsClient.open(srv.port, "/echo/websocket?format=protobuf&cf_x=1",
                                     ["foo", "centrifuge-protobuf", "centrifuge-json"])
        accept = next(e for e in client.events if isinstance(e, AcceptConnection))
        assert accept.subprotocol == "centrifuge-protobuf"
        client.send("hello")
        assert [m.data for m in await client.messages(1)] == ["hello"]
        session = srv.only().session
        assert session.request == OpenRequest("/echo/websocket", "format=protobuf&cf_x=1", "centrifuge-protobuf")
        client.close()


async def test_no_subprotocol_header_when_none_offered_is_accepted() -> None:
    async with serve(subprotocols=("centrifuge-protobuf",)) as srv:
        client = await WsClient.open(srv.port, "/echo/websocket", ["graphql-ws"])
        accept = next(e for e in client.events if isinstance(e, AcceptConnection))
        assert accept.subprotocol is None
        client.send("x")
        await client.messages(1)
        assert srv.only().session.request.subprotocol == ""
        client.close()


async def test_sockjs_sessions_get_their_request_too() -> None:
    async with serve() as srv:
        client = await WsClient.open(srv.port, "/echo/000/abcd/websocket?cf_protocol_version=v2", [])
        await client.until(lambda e: isinstance(e, TextMessage) and e.data == "o")
        assert srv.only().session.request == OpenRequest("/echo/000/abcd/websocket", "cf_protocol_version=v2")
        client.close()


async def test_binary_messages_reach_the_application_as_bytes_and_go_back_binary() -> None:
    async with serve(binary_messages=True) as srv:
        client = await WsClient.open(srv.port, "/echo/websocket", [])
        client.send(b"\x00\xff\x80")  # not UTF-8: fine for a binary dialect
        client.send(b"\x01\x02", finished=False)  # fragments are joined
        client.send(b"\x03", finished=True)
        client.send("text stays text")
        got = await client.messages(3)
        assert [(type(m), m.data) for m in got] == [(BytesMessage, b"\x00\xff\x80"), (BytesMessage, b"\x01\x02\x03"),
                                                   (TextMessage, "text stays text")]
        assert srv.only().received_binary == [b"\x00\xff\x80", b"\x01\x02\x03"]
        assert srv.only().received == ["text stays text"]
        client.close()


async def test_without_binary_messages_a_binary_frame_is_read_as_text() -> None:
    async with serve() as srv:
        client = await WsClient.open(srv.port, "/echo/websocket", [])
        client.send("ok".encode())
        assert [m.data for m in await client.messages(1)] == ["ok"]
        assert srv.only().received == ["ok"] and srv.only().received_binary == []
        client.close()


async def test_the_simple_frame_reader_passes_binary_frames_as_bytes() -> None:
    async with serve(binary_messages=True) as srv:
        client = await WsClient.open(srv.port, "/echo/websocket", [])
        client.writer.write(frame(b"\xfe\x00", 0x82) + frame(b"tx"))  # masked, whole: the fast path
        got = await client.messages(2)
        assert [m.data for m in got] == [b"\xfe\x00", "tx"]
        client.close()


async def test_queued_messages_merge_into_one_frame_as_the_session_batches() -> None:
    async with serve(binary_messages=True) as srv:
        client = await WsClient.open(srv.port, "/echo/websocket", [])
        client.send(b"batching:" + LINES.encode())
        client.send("burst:40")
        lines: list[str] = []
        frames = 0
        while len(lines) < 40:
            (message,) = await client.messages(1)
            assert isinstance(message, TextMessage)
            lines += message.data.split("\n")
            frames += 1
        assert lines == [str(i) for i in range(40)] and frames < 40
        client.send(b"batching:" + CONCAT.encode())
        client.send(b"bburst:30")  # sent in one go: one frame of 30 bytes
        (message,) = await client.messages(1)
        assert isinstance(message, BytesMessage) and message.data == bytes(range(30))
        client.close()
        await asyncio.sleep(0)


async def test_a_close_still_works_after_binary_traffic() -> None:
    async with serve(binary_messages=True) as srv:
        client = await WsClient.open(srv.port, "/echo/websocket", [])
        client.send(b"\x00")
        await client.messages(1)
        client.send("close")
        close = await client.until(lambda e: isinstance(e, CloseConnection))
        assert isinstance(close, CloseConnection) and close.code == 3000
        client.close()
