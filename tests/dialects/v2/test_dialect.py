"""The protocol v2 dialect in-process (app/dialects/v2/dialect.py and its
command modules): a real node on a fake clock, sessions recorded at the
transports seam, the raw websocket endpoint's FirstFrame choosing 1.x or v2
(JSON or protobuf).  End to end with the real SDK:
tests/integration/test_v2_python_client.py."""
from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

import jwt

import app
from app.core import errors as core
from app.dialects.v2 import codes
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import ErrorCode
from app.dialects.v2.commands import Method
from app.dialects.v2.errors import CLOSES, REPLY_ERRORS, V2Disconnect, close_of
from app.dialects.v2.framing import ProtobufFrames, uvarint
from app.dialects.v2.table import COMMANDS
from app.engines.memory import MemoryEngine
from app.node import Node
from app.options import ChannelOptions, Namespace
from tests.app.conftest import SECRET, FakeClock, RecordingSession, make_options, token as token_1x
from transports.frames import CONCAT, LINES
from transports.interfaces import OpenRequest

# -- the tables ---------------------------------------------------------------------


def test_every_method_but_the_pong_has_a_handler() -> None:
    assert set(COMMANDS) == set(Method) - {Method.PONG}
    assert [m for m, spec in COMMANDS.items() if not spec.needs_auth] == [Method.CONNECT]


def test_every_core_error_and_reason_has_a_v2_code() -> None:
    names = {v for k, v in vars(core).items() if k.isupper() and isinstance(v, str) and not k.startswith("ADVICE")}
    errors = {core.INVALID_MESSAGE, core.METHOD_NOT_FOUND, core.NAMESPACE_NOT_FOUND, core.INTERNAL_SERVER_ERROR,
              core.NOT_AVAILABLE, core.UNAUTHORIZED, core.CLIENT_CLOSED, core.INVALID_TOKEN,
              core.PERMISSION_DENIED, core.ALREADY_SUBSCRIBED, core.LIMIT_EXCEEDED, core.UNRECOVERABLE_POSITION}
    assert set(REPLY_ERRORS) == errors
    assert set(CLOSES) | {core.DISCONNECT} == names
    assert REPLY_ERRORS[core.NAMESPACE_NOT_FOUND] is ErrorCode.UNKNOWN_CHANNEL
    assert (CLOSES[core.STALE].code, CLOSES[core.EXPIRED].code, CLOSES[core.SLOW].code) == (3502, 3005, 3008)
    assert CLOSES[core.SHUTTING_DOWN].reconnect and not CLOSES[core.INVALID_TOKEN].reconnect


def test_a_disconnect_maps_by_reason_and_advice() -> None:
    assert close_of(core.Disconnect(core.DISCONNECT, reconnect=True)) == codes.FORCE_RECONNECT
    assert close_of(core.Disconnect(core.DISCONNECT)) == codes.FORCE_DISCONNECT
    assert close_of(core.Disconnect("something new", reconnect=True)) == codes.INTERNAL_SERVER_ERROR
    assert close_of(V2Disconnect(codes.NO_PONG)) == codes.NO_PONG


# -- a node ---------------------------------------------------------------------------


def jwt_token(claims: dict[str, Any], clock: FakeClock) -> str:
    return jwt.encode({"exp": int(clock() + 3600), **claims}, SECRET, algorithm="HS256")


class V2Harness:
    def __init__(self, node: Node, clock: FakeClock) -> None:
        self.node = node
        self.clock = clock

    def open(self, subprotocol: str = "", query: str = "") -> RecordingSession:
        session = RecordingSession("raw_websocket")
        session.request = OpenRequest("/connection/websocket", query, subprotocol)
        session.connection = self.node.connection_factory(session)
        session.connection.on_open()
        return session

    async def send(self, session: RecordingSession, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        """JSON commands in one frame; the replies of the message it sent."""
        before = len(session.sent)
        await session.connection.on_message("\n".join(json.dumps(c) for c in commands))
        return [json.loads(line) for text in session.sent[before:] for line in text.split("\n")]

    async def connect(self, user: str = "42", **claims: Any) -> RecordingSession:
        session = self.open()
        [reply] = await self.send(session, {"id": 1, "connect": {"token": jwt_token({"sub": user, **claims},
                                                                                      self.clock)}})
        assert reply["connect"]["client"] and reply["connect"]["version"] == app.__version__, reply
        return session

    async def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.node.tick()


@asynccontextmanager
async def running() -> AsyncIterator[V2Harness]:
    clock = FakeClock(float(int(time.time())))  # PyJWT checks nothing of time: we do, on this clock
    options = make_options(ping_interval=10, pong_timeout=5, expired_connection_close_delay=2,
                           expired_subscription_close_delay=2)
    options.channel = ChannelOptions(publish=True, presence=True, join_leave=True, history_size=5,
                                     history_lifetime=60)
    options.namespaces.append(Namespace("open", ChannelOptions(anonymous=True)))
    node = Node(options, MemoryEngine(options, clock=clock), clock=clock, tick_interval=3600)
    await node.start()
    try:
        yield V2Harness(node, clock)
    finally:
        await node.shutdown()


def with_node(test: Callable[[V2Harness], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """The test, run on a fresh node (the suite's runner has no async fixtures)."""
    async def run() -> None:
        async with running() as v2:
            await test(v2)
    run.__name__, run.__doc__ = test.__name__, test.__doc__
    return run


@with_node
async def test_a_json_frame_of_several_commands_is_answered_in_order(v2: V2Harness) -> None:
    session = await v2.connect()
    assert session.batching == LINES
    before = len(session.sent)
    replies = await v2.send(session, {"id": 2, "subscribe": {"channel": "news"}},
                            {"id": 3, "publish": {"channel": "news", "data": {"x": 1}}},
                            {"id": 4, "presence_stats": {"channel": "news"}},
                            {"id": 5, "rpc": {"method": "m"}})
    order = [json.loads(text).get("id", "push") for text in session.sent[before:]]
    assert order == [2, 3, 4, 5, "push"]  # the new subscription's pushes wait for the frame's replies
    by_id = {r["id"]: r for r in replies if "id" in r}
    assert by_id[2] == {"id": 2, "subscribe": {}} and by_id[3] == {"id": 3, "publish": {}}
    assert by_id[4]["presence_stats"] == {"num_clients": 1, "num_users": 1}
    assert by_id[5]["error"] == {"code": 108, "message": "not available"}
    [push] = [r for r in replies if "push" in r]
    assert push["push"]["channel"] == "news" and push["push"]["pub"]["data"] == {"x": 1}
    assert push["push"]["pub"]["info"]["user"] == "42"


@with_node
async def test_commands_before_connect_and_bad_frames_close_with_3501(v2: V2Harness) -> None:
    early = v2.open()
    await v2.send(early, {"id": 1, "connect": {"token": jwt_token({"sub": "1"}, v2.clock)}})
    late = v2.open()
    await late.connection.on_message('{"id":1,"connect":{}}\n{"id":2,"subscribe":{}}')
    assert late.close_args == (3501, "bad request")  # no token, not insecure: no credentials
    session = await v2.connect()
    replies = await v2.send(session, {"id": 2, "subscribe": {"channel": "news"}})
    await session.connection.on_message('{"id":3,"unsubscribe":{"channel":"news"}}\n{"id":')
    assert session.close_args == (3501, "bad request") and json.loads(session.sent[-1]) == {"id": 3, "unsubscribe": {}}
    assert replies == [{"id": 2, "subscribe": {}}]


@with_node
async def test_tokens_invalid_expired_and_for_another_channel(v2: V2Harness) -> None:
    forged = v2.open()
    await v2.send(forged, {"id": 1, "connect": {"token": jwt.encode({"sub": "1"}, "not the secret")}})
    assert forged.close_args == (3500, "invalid token")
    old = v2.open()
    [reply] = await v2.send(old, {"id": 1, "connect": {"token": jwt_token({"sub": "1", "exp": 1}, v2.clock)}})
    assert reply["error"]["code"] == 109 and old.close_args is None
    session = await v2.connect()
    [denied] = await v2.send(session, {"id": 2, "subscribe": {"channel": "$private"}})
    assert denied["error"]["code"] == 103
    wrong = jwt_token({"sub": "42", "channel": "$other"}, v2.clock)
    await v2.send(session, {"id": 3, "subscribe": {"channel": "$private", "token": wrong}})
    assert session.close_args == (3500, "invalid token")


@with_node
async def test_server_pings_and_the_pong_timeout(v2: V2Harness) -> None:
    answering, silent = await v2.connect("1"), await v2.connect("2")
    assert json.loads(answering.sent[0])["connect"]["ping"] == 10
    await v2.tick(10)  # the first ping comes between 5 and 10 s
    assert answering.sent[-1] == "{}" and silent.sent[-1] == "{}"
    await answering.connection.on_message("{}")
    await v2.tick(5)
    assert silent.close_args == (3012, "no pong") and answering.close_args is None
    await v2.tick(10)
    assert answering.sent[-1] == "{}" and answering.close_args is None


@with_node
async def test_a_connection_token_expires_unless_refreshed(v2: V2Harness) -> None:
    lasting = await v2.connect("1", exp=int(v2.clock() + 30))
    lapsing = await v2.connect("1", exp=int(v2.clock() + 30))
    assert json.loads(lasting.sent[0])["connect"]["ttl"] == 30
    await v2.tick(25)
    for session in (lasting, lapsing):  # a ping came meanwhile: answered
        assert session.sent[-1] == "{}"
        await session.connection.on_message("{}")
    fresh = jwt_token({"sub": "1", "exp": int(v2.clock() + 30)}, v2.clock)
    [reply] = await v2.send(lasting, {"id": 2, "refresh": {"token": fresh}})
    assert reply["refresh"]["expires"] is True and reply["refresh"]["ttl"] == 30
    await v2.tick(8)  # past the first token's expiry and the 2 s delay
    assert lapsing.close_args == (3005, "connection expired") and lasting.close_args is None
    other = jwt_token({"sub": "2"}, v2.clock)
    await v2.send(lasting, {"id": 3, "refresh": {"token": other}})
    assert lasting.close_args == (3500, "invalid token")


@with_node
async def test_history_limit_order_and_positions(v2: V2Harness) -> None:
    session = await v2.connect()
    await v2.send(session, {"id": 2, "subscribe": {"channel": "news"}})
    for n in range(4):
        await v2.send(session, {"id": 10 + n, "publish": {"channel": "news", "data": {"n": n}}})
    [forward] = await v2.send(session, {"id": 20, "history": {"channel": "news", "limit": 2}})
    assert [(p["data"]["n"], p["offset"]) for p in forward["history"]["publications"]] == [(0, 1), (1, 2)]
    epoch = forward["history"]["epoch"]
    assert epoch and forward["history"]["offset"] == 4
    [backward] = await v2.send(session, {"id": 21, "history": {"channel": "news", "limit": 3, "reverse": True}})
    assert [p["data"]["n"] for p in backward["history"]["publications"]] == [3, 2, 1]
    [top] = await v2.send(session, {"id": 22, "history": {"channel": "news"}})
    assert top == {"id": 22, "history": {"epoch": epoch, "offset": 4}}  # limit 0: the stream top only
    [after] = await v2.send(session, {"id": 23, "history": {"channel": "news", "limit": -1,
                                                              "since": {"offset": 2, "epoch": epoch}}})
    assert [p["offset"] for p in after["history"]["publications"]] == [3, 4]
    [other] = await v2.send(session, {"id": 24, "history": {"channel": "news", "since": {"offset": 1, "epoch": "e"}}})
    assert other["error"]["code"] == 112


@with_node
async def test_subscribe_recovers_from_a_position_once_in_order(v2: V2Harness) -> None:
    session = await v2.connect()
    [reply] = await v2.send(session, {"id": 2, "subscribe": {"channel": "hist:news"}})
    position = reply["subscribe"]
    assert position["recoverable"] and position["positioned"] and position["epoch"]
    await v2.send(session, {"id": 3, "unsubscribe": {"channel": "hist:news"}})
    for n in range(3):
        await v2.node.api.execute(b'{"method":"publish","params":{"channel":"hist:news","data":{"n":%d}}}' % n)
    [again] = await v2.send(session, {"id": 4, "subscribe": {"channel": "hist:news", "recover": True,
                                                             "epoch": position["epoch"], "offset": position.get("offset", 0)}})
    result = again["subscribe"]
    assert result["recovered"] and result["was_recovering"]
    assert [(p["data"]["n"], p["offset"]) for p in result["publications"]] == [(0, 1), (1, 2), (2, 3)]
    [lost] = await v2.send(session, {"id": 5, "subscribe": {"channel": "hist:other", "recover": True,
                                                            "epoch": "gone", "offset": 7}})
    assert not lost["subscribe"].get("recovered") and lost["subscribe"]["was_recovering"]


@with_node
async def test_protobuf_by_subprotocol_with_binary_replies(v2: V2Harness) -> None:
    session = v2.open(subprotocol="centrifuge-protobuf")
    frames = ProtobufFrames()
    command = pb.Command(id=1, connect=pb.ConnectRequest(token=jwt_token({"sub": "42"}, v2.clock)))
    body = command.SerializeToString()
    await session.connection.on_message(uvarint(len(body)) + body)
    assert session.batching == CONCAT and session.sent == []
    reply = pb.Reply()
    data = session.binary[0]
    reply.ParseFromString(data[1:] if data[0] < 0x80 else data[2:])
    assert reply.id == 1 and reply.connect.client and reply.connect.pong
    await v2.tick(10)
    assert session.binary[-1] == frames.ping == b"\x00"


@with_node
async def test_a_1x_client_on_the_same_endpoint_is_answered_in_1x(v2: V2Harness) -> None:
    session = v2.open()
    await session.connection.on_message(json.dumps({"uid": "1", "method": "connect",
                                                    "params": token_1x("7", v2.clock())}))
    reply = session.last()
    assert reply["uid"] == "1" and reply["body"]["client"] and session.batching == "separate"


@with_node
async def test_a_subscription_token_expires_unless_refreshed(v2: V2Harness) -> None:
    session = await v2.connect("42")
    def sub_token(channel: str) -> str:
        return jwt_token({"sub": "42", "channel": channel, "exp": int(v2.clock() + 30)}, v2.clock)
    [kept] = await v2.send(session, {"id": 2, "subscribe": {"channel": "$kept", "token": sub_token("$kept")}})
    [lapsed] = await v2.send(session, {"id": 3, "subscribe": {"channel": "$lapsed", "token": sub_token("$lapsed")}})
    assert kept["subscribe"] == {"expires": True, "ttl": 30} and lapsed["subscribe"]["ttl"] == 30
    await v2.tick(25)
    await session.connection.on_message("{}")  # the ping meanwhile
    [refreshed] = await v2.send(session, {"id": 4, "sub_refresh": {"channel": "$kept", "token": sub_token("$kept")}})
    assert refreshed == {"id": 4, "sub_refresh": {"expires": True, "ttl": 30}}
    await v2.tick(8)  # past the first tokens' expiry and the 2 s delay
    pushes = [json.loads(line) for text in session.sent for line in text.split("\n") if '"unsubscribe"' in line]
    assert pushes == [{"push": {"channel": "$lapsed", "unsubscribe": {"code": 2501, "reason": "subscription expired"}}}]
    assert set(session.connection.channels) == {"$kept"} and session.close_args is None


@with_node
async def test_connection_claims_info_b64info_and_channels(v2: V2Harness) -> None:
    import base64
    b64 = base64.b64encode(b'{"from":"b64"}').decode()
    session = await v2.connect("42", info={"from": "info"}, b64info=b64, channels=["news", "open:lobby"])
    reply = json.loads(session.sent[0])["connect"]
    assert reply["subs"] == {"news": {}, "open:lobby": {}}
    assert set(session.connection.channels) == {"news", "open:lobby"}
    [presence] = await v2.send(session, {"id": 2, "presence": {"channel": "news"}})
    [info] = presence["presence"]["presence"].values()
    assert info["conn_info"] == {"from": "b64"}  # b64info wins over info
    unknown = v2.open()
    [refused] = await v2.send(unknown, {"id": 1, "connect": {"token": jwt_token({"sub": "1", "channels": ["nope:x"]},
                                                                                 v2.clock)}})
    assert refused["error"]["code"] == 102 and not unknown.connection.authenticated
    for claims in ({"sub": 5}, {"sub": "1", "channel": "news"}, {"sub": "1", "b64info": "%%%"},
                   {"sub": "1", "exp": "soon"}, {"sub": "1", "channels": "news"}):
        broken = v2.open()
        await v2.send(broken, {"id": 1, "connect": {"token": jwt_token(claims, v2.clock)}})
        assert broken.close_args == (3500, "invalid token"), claims


@with_node
async def test_the_request_and_the_frame_pick_the_format(v2: V2Harness) -> None:
    by_query = v2.open(query="format=protobuf")
    await by_query.connection.on_message('{"id":1,"connect":{}}')
    assert by_query.batching == CONCAT and by_query.close_args == (3501, "bad request")  # text on protobuf
    body = pb.Command(id=1, connect=pb.ConnectRequest(token=jwt_token({"sub": "1"}, v2.clock))).SerializeToString()
    by_frame = v2.open()
    await by_frame.connection.on_message(uvarint(len(body)) + body)
    assert by_frame.batching == CONCAT and by_frame.binary and by_frame.close_args is None
    explicit = v2.open(query="cf_protocol_version=v2")
    await explicit.connection.on_message('{"uid":"1","method":"connect","params":{}}')  # 1.x, on a v2 connection
    assert explicit.close_args == (3501, "bad request")
    old_binary = v2.open()  # a 1.x client writing its JSON in a binary frame
    await old_binary.connection.on_message(json.dumps({"uid": "1", "method": "connect",
                                                       "params": token_1x("7", v2.clock())}).encode())
    assert old_binary.last()["body"]["client"] and old_binary.close_args is None


@with_node
async def test_insecure_connects_without_a_token(v2: V2Harness) -> None:
    v2.node.options.insecure = True
    session = v2.open()
    [reply] = await v2.send(session, {"id": 1, "connect": {}})
    assert reply["connect"]["client"] and session.connection.user == ""


def test_json_in_a_binary_frame_is_read_as_json_though_it_looks_like_protobuf() -> None:
    from app.dialects.choose import V1X, generation_of_binary, generation_of_json_bytes
    looks_v2 = json.dumps({"uid": "1", "method": "connect", "params": {  # '{' a length of 123, '"' field 4
        "user": "7", "timestamp": "1765000000", "info": "", "token": "a" * 64}}).encode()
    assert generation_of_binary(looks_v2) == "v2"  # the trap
    assert generation_of_json_bytes(looks_v2) == V1X
    body = pb.Command(id=1, connect=pb.ConnectRequest(token="t")).SerializeToString()
    assert generation_of_json_bytes(uvarint(len(body)) + body) is None
    assert generation_of_binary(uvarint(len(body)) + body) == "v2"


@with_node
async def test_the_1x_api_acts_on_v2_clients_in_v2_terms(v2: V2Harness) -> None:
    """The API's server-side subscribe and unsubscribe become v2 pushes, its
    disconnect the v2 close 3503."""
    session = await v2.connect("42")
    await v2.node.api.execute(b'{"method":"subscribe","params":{"user":"42","channel":"news"}}')
    await v2.node.api.execute(b'{"method":"publish","params":{"channel":"news","data":{"n":1}}}')
    await v2.node.api.execute(b'{"method":"unsubscribe","params":{"user":"42","channel":"news"}}')
    pushes = [json.loads(text)["push"] for text in session.sent[1:]]
    assert pushes == [{"channel": "news", "subscribe": {}}, {"channel": "news", "pub": {"data": {"n": 1}, "offset": 1}},
                      {"channel": "news", "unsubscribe": {"code": 2000, "reason": "server unsubscribe"}}]
    await v2.node.api.execute(b'{"method":"disconnect","params":{"user":"42"}}')
    assert session.close_args == (3503, "force disconnect")


@with_node
async def test_audience_and_issuer_when_configured(v2: V2Harness) -> None:
    v2.node.options.token_audience, v2.node.options.token_issuer = "app", "backend"
    for claims, ok in (({"aud": "app", "iss": "backend"}, True), ({"aud": ["web", "app"], "iss": "backend"}, True),
                       ({"iss": "backend"}, False), ({"aud": "web", "iss": "backend"}, False),
                       ({"aud": "app"}, False), ({"aud": "app", "iss": "other"}, False)):
        session = v2.open()
        [reply] = await v2.send(session, {"id": 1, "connect": {"token": jwt_token({"sub": "1", **claims}, v2.clock)}}) \
            or [{}]
        assert (session.close_args is None and "connect" in reply) is ok, claims
        if not ok:
            assert session.close_args == (3500, "invalid token")


@with_node
async def test_expiring_subscriptions_are_forgotten_when_left(v2: V2Harness) -> None:
    session = await v2.connect("42")
    for n in range(20):
        channel = f"$r{n}"
        sub = jwt_token({"sub": "42", "channel": channel, "exp": int(v2.clock() + 3600)}, v2.clock)
        await v2.send(session, {"id": 2 * n + 2, "subscribe": {"channel": channel, "token": sub}})
        if n % 2:
            await v2.send(session, {"id": 2 * n + 3, "unsubscribe": {"channel": channel}})
    state = session.connection.state
    assert set(state.subscriptions_expire) == set(session.connection.channels) and len(state.subscriptions_expire) == 10


async def test_a_publication_during_a_subscribe_waits_for_its_reply() -> None:
    """The engine delivers a publication of the channel while the subscribe
    is adding presence (another node published meanwhile): the client gets
    the subscribe reply first, then the publication (§1.3)."""
    from app.core.values import Message
    from tests.app.conftest import WrappedEngine

    class Busy(WrappedEngine):
        handler: Any = None

        async def run(self, handler: Any) -> None:
            self.handler = handler
            await super().run(handler)

        async def add_presence(self, channel: str, uid: str, info: Any, expire: int) -> None:
            self.handler.handle_message(Message("u1", channel, '{"meanwhile":true}'))
            await super().add_presence(channel, uid, info, expire)

    clock = FakeClock(float(int(time.time())))
    options = make_options()
    options.channel = ChannelOptions(presence=True)
    node = Node(options, Busy(MemoryEngine(options, clock=clock)), clock=clock, tick_interval=3600)
    await node.start()
    try:
        v2 = V2Harness(node, clock)
        session = await v2.connect("42")
        replies = await v2.send(session, {"id": 2, "subscribe": {"channel": "news"}})
        assert replies == [{"id": 2, "subscribe": {}}, {"push": {"channel": "news", "pub": {"data": {"meanwhile": True}}}}]
    finally:
        await node.shutdown()
