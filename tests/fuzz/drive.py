"""Sends the generated cases (tests/fuzz/generators.py) to a real sockhub and
judges every answer; shared by tests/fuzz and bench/fuzz.py.

Each entry point has one ``fuzz_*`` coroutine: ``n`` cases drawn in order
from one ``random.Random`` (the same seed gives the same cases, whatever the
concurrency), sent by ``concurrency`` workers, tallied in a :class:`Tally`.
What counts as a violation:

* websockets: the connection ends without a close frame (a bare EOF), except
  for cases that break the websocket framing itself (RFC 6455 lets a server
  drop those); no answer within ``timeout``; a close reason that is not ours
  (Python's exception text) or that is ``internal server error``; a SockJS
  close frame 1000 without a ``c[...]`` frame before it;
* HTTP: a 5xx status, or no status at all;
* config files: anything but a one-line ConfigError from the loader.

:func:`log_problems` reads the server's log for tracebacks, and
:func:`Counts` the node's clients, subscriptions and sessions (the API's
``node`` method and ``/metrics``), which must come back to their baseline.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import struct
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator
from urllib.parse import quote_from_bytes

import jwt

from app.config import ConfigError, ConfigSource
from app.dialects.v1 import codes as v1codes
from app.dialects.v2 import codes, jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.framing import uvarint
from tests.fuzz import generators as gen
from tests.fuzz import v1frames, v2frames

SENTINEL = "fuzz-sentinel"
SENTINEL_COMMAND = json.dumps({"uid": SENTINEL, "method": "ping"})
#: Close reasons of the websocket layer (ours, transports.wsbase / websocket).
WS_REASONS = frozenset({"Invalid UTF-8", "Protocol error", "Message too big", "Normal closure",
                        "Broken framing.", ""})
#: Reasons a client may be closed with for bad input (app.core.errors, §2), and
#: ``stale``: a case that never connects is closed after the stale delay
#: when the machine is slow enough for its frames to take that long.
ADVICE_REASONS = frozenset({"invalid message", "method not found", "unauthorized", "invalid token",
                            "limit exceeded", "permission denied", "namespace not found",
                            "already subscribed", "not available", "stale"})
MAX_EXAMPLES = 5
#: The protocol v2 closes (code -> reason) a v2 case may end with; 3004 is
#: the internal error, a violation as on 1.x.
V2_CLOSES = {close.code: close.reason for close in vars(codes).values() if isinstance(close, codes.Close)}
V2_INTERNAL = codes.INTERNAL_SERVER_ERROR.code
#: The protocol v1 close reasons (app.dialects.v1.codes) but the internal error.
V1_REASONS = frozenset(close.reason for close in vars(v1codes).values()
                       if isinstance(close, v1codes.V1Close) and close.code != 3004)
V2_SENTINEL_ID = 4_242_424_242


@dataclass
class Tally:
    """What one entry point's cases gave."""

    name: str
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def note(self, outcome: str, violation: str = "", case: bytes = b"") -> None:
        self.cases += 1
        self.outcomes[outcome] += 1
        if violation:
            self.violations[violation] += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(f"{violation}: {case[:200]!r}")

    @property
    def status_5xx(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome.startswith("status 5"))

    def summary(self) -> str:
        top = ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common(6))
        return (f"{self.name}: {self.cases} cases in {self.seconds:.1f} s, "
                f"{sum(self.violations.values())} violations, {self.status_5xx} 5xx ({top})")


async def run_cases(cases: Iterator[Any], concurrency: int,
                    one: Callable[[Any], Awaitable[None]]) -> None:
    """``one(case)`` for every case, ``concurrency`` at a time, in order."""
    async def worker() -> None:
        for case in cases:  # a shared iterator: each case is taken once
            await one(case)
    await asyncio.gather(*(worker() for _ in range(concurrency)))


# -- websocket wire --------------------------------------------------------------------------


def ws_frame(payload: bytes, opcode: int = 1, fin: bool = True, rsv: int = 0) -> bytes:
    """One masked client frame (RFC 6455 5.2)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    key = os.urandom(4)
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes((key * (n // 4 + 1))[:n], "little")
              ).to_bytes(n, "little") if n else b""
    return head + key + masked


async def read_ws_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """The next server frame (unmasked), or None at EOF."""
    try:
        first, second = await reader.readexactly(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await reader.readexactly(8))[0]
        return first & 0x0F, await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def upgrade(path: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode()


def _close_violation(payload: bytes, sockjs_close: str | None, v2: bool = False) -> str:
    """Why a close frame's code and reason are wrong, or "" (``v2``: the
    protocol v2 table's closes are ours too, but 3004)."""
    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return "close reason not UTF-8"
    if code == 1000 and sockjs_close is not None:
        return "" if sockjs_close in ("", "ok") else sockjs_close
    if code == 3000 or (3001 <= code <= 3013 or code == 1013) and reason.startswith("{"):
        return _advice_violation(reason)  # 1.x and protocol v1 (whose table is 3000-3013, JSON advice)
    if v2 and code in V2_CLOSES:
        if code == V2_INTERNAL:
            return "internal server error"
        return "" if V2_CLOSES[code] == reason else f"v2 close reason not ours ({code} {reason!r})"
    return "" if reason in WS_REASONS else f"close reason not ours ({code})"


def _advice_violation(reason: str) -> str:
    try:
        advice = json.loads(reason)
    except ValueError:
        return "close 3000 without JSON advice"
    if advice.get("reason") == "internal server error":
        return "internal server error"
    known = ADVICE_REASONS | V1_REASONS
    return "" if advice.get("reason") in known else f"unexpected advice {advice.get('reason')!r}"


@dataclass
class WsCase:
    frames: list[bytes]
    framing: bool  # breaks the websocket framing itself: a drop is allowed
    sentinel: bytes = SENTINEL.encode()  # in the answer to the last frame of a live connection
    v2: bool = False  # protocol v2 closes are expected too


async def ws_exchange(port: int, path: str, case: WsCase, sockjs: bool, timeout: float) -> tuple[str, str]:
    """``(outcome, violation)`` of one websocket case."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "connect failed", "connect failed"
    try:
        return await asyncio.wait_for(_ws_talk(reader, writer, path, case, sockjs), timeout)
    except asyncio.TimeoutError:
        return "hang", "no answer"
    finally:
        writer.transport.abort()


async def _ws_talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                   case: WsCase, sockjs: bool) -> tuple[str, str]:
    writer.write(upgrade(path))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        return "status " + head[9:12].decode(), "upgrade refused"
    writer.write(b"".join(case.frames))
    if case.framing:
        # Broken framing may announce more bytes than follow (random bytes
        # read as a frame header): the end of our side makes that visible
        # to the server, which must then end the connection too.
        writer.write_eof()
    sockjs_close: str | None = None if not sockjs else "close frame 1000 without c[...]"
    while True:
        frame = await read_ws_frame(reader)
        if frame is None:
            return "eof", "" if case.framing else "EOF without close frame"
        opcode, payload = frame
        if opcode == 8:
            return "closed", _close_violation(payload, sockjs_close, case.v2)
        if case.sentinel in payload:
            if not case.framing:  # else our side is closed already
                writer.write(ws_frame(b"\x03\xe8", opcode=8))
            return "alive", ""
        if sockjs and payload.startswith(b"c["):
            sockjs_close = _sockjs_close_violation(payload, case.v2)


def _sockjs_close_violation(payload: bytes, v2: bool = False) -> str:
    code, reason = json.loads(payload[1:])
    if (code == 3000 or 3001 <= code <= 3013 and v2) and reason.startswith("{"):
        # 1.x, and protocol v1 beside v2 on /connection/sockjs (its table, JSON advice)
        return _advice_violation(reason) or "ok"
    if v2 and code in V2_CLOSES:  # protocol v2 over SockJS: a plain reason of its table
        if code == V2_INTERNAL:
            return "internal server error"
        return "ok" if V2_CLOSES[code] == reason else f"v2 c[] reason not ours ({code} {reason!r})"
    return "" if reason in WS_REASONS else f"c[] reason not ours ({code})"


def raw_ws_case(rng: random.Random) -> WsCase:
    """Upgrade, maybe a valid connect, the fuzz frame, the sentinel ping."""
    frames = [ws_frame(json.dumps(gen.connect_command(rng)).encode())] if rng.random() < 0.6 else []
    framing = rng.random() < 0.08
    if framing:
        frames.append(_broken_framing(rng))
    else:
        frames.append(ws_frame(gen.client_frame(rng), opcode=2 if rng.random() < 0.1 else 1))
    frames.append(ws_frame(SENTINEL_COMMAND.encode()))
    # without a 1.x connect first, the fuzz frame picks the dialect (a v2
    # connect among the mutations makes it protocol v2, which closes its way)
    return WsCase(frames, framing, v2=len(frames) == 2)


def sockjs_ws_case(rng: random.Random) -> WsCase:
    frames = [ws_frame(json.dumps([json.dumps(gen.connect_command(rng))]).encode())] if rng.random() < 0.6 else []
    framing = rng.random() < 0.05
    frames.append(_broken_framing(rng) if framing else ws_frame(gen.sockjs_frame(rng)))
    frames.append(ws_frame(json.dumps([SENTINEL_COMMAND]).encode()))
    return WsCase(frames, framing)


def _broken_framing(rng: random.Random) -> bytes:
    """Bytes that break RFC 6455 framing (or fragment odd ways)."""
    payload = gen.client_frame(rng)[:100]
    return rng.choice([
        ws_frame(payload, rsv=rng.randint(1, 7)),
        ws_frame(payload, opcode=rng.choice([3, 7, 11, 15])),
        ws_frame(payload, opcode=0),
        ws_frame(payload[:50], fin=False) + ws_frame(payload[50:], opcode=1),
        ws_frame(b"x" * 200, opcode=9),
        ws_frame(b"\x03", opcode=8),
        ws_frame(b"\x03\xe8\xc0", opcode=8),
        bytes([0x81, len(payload) & 0x7F]) + payload[:0x7F],  # unmasked
        gen.random_bytes(rng, b""),
        ws_frame(payload[:10], fin=False) + ws_frame(gen.INVALID_UTF8[0], opcode=0),
    ])


async def fuzz_raw_ws(port: int, rng: random.Random, n: int, concurrency: int = 4,
                      timeout: float = 10.0) -> Tally:
    return await _fuzz_ws("raw websocket", port, lambda: "/connection/websocket", raw_ws_case,
                          False, rng, n, concurrency, timeout)


def v2_ws_case(rng: random.Random) -> tuple[str, WsCase]:
    """Protocol v2 on the raw websocket, JSON or protobuf (by the query or
    by a binary first frame): maybe a valid connect (a JWT of the fuzz
    secret), the fuzz frame (tests/fuzz/v2frames.py), then an ``rpc`` whose
    id is the sentinel (answered 108 by a live connection)."""
    protobuf = rng.random() < 0.5
    path = "/connection/websocket" + ("?format=protobuf" if protobuf and rng.random() < 0.5 else "")
    frames: list[bytes] = []
    claims: dict[str, Any] = {"sub": rng.choice(["42", "", "7"]), "exp": int(time.time()) + 3600}
    channel = rng.choice(gen.CHANNELS[:5])
    if rng.random() < 0.3:
        claims["channels"] = [channel]
    if rng.random() < 0.3:  # the subs claim, well formed or not
        claims["subs"] = rng.choice([{channel: {"info": {"a": 1}, "data": [1]}}, {channel: {"b64data": "!"}},
                                     {channel: 1}, [channel], {"": {}}, {channel: {"override": 1}},
                                     {channel: {"override": {"presence": {"value": True}}}}, {channel: {"x": 1}},
                                     {channel: {"override": {"force_push_join_leave": {"value": "yes"}}}},
                                     {channel: {"override": {"join_leave": {"value": False},
                                                             "force_positioning": {}}}}])
    token = jwt.encode(claims, gen.SECRET, algorithm="HS256")
    connect: dict[str, Any] = {"token": token}
    if rng.random() < 0.3:  # what the SDK last saw of its server-side subscriptions
        connect["subs"] = {channel: {"recover": rng.random() < 0.8, "offset": rng.choice([0, 1, 2 ** 64 - 1]),
                                     "epoch": rng.choice(["", "x", "\u2028"])}}
    if rng.random() < 0.7:
        frames.append(_v2_frame({"id": 1, "connect": connect}, protobuf))
    framing = rng.random() < 0.05
    if framing:
        frames.append(_broken_framing(rng))
    elif protobuf:
        frames.append(ws_frame(v2frames.protobuf_frame(rng), opcode=2))
    else:
        frames.append(ws_frame(v2frames.json_frame(rng), opcode=2 if rng.random() < 0.1 else 1))
    frames.append(_v2_frame({"id": V2_SENTINEL_ID, "rpc": {"method": SENTINEL}}, protobuf))
    sentinel = b"\x08" + uvarint(V2_SENTINEL_ID) if protobuf else f'"id":{V2_SENTINEL_ID}'.encode()
    return path, WsCase(frames, framing, sentinel, v2=True)


def _v2_token(rng: random.Random) -> str:
    """A connection JWT of the fuzz secret (sometimes with ``channels``)."""
    claims: dict[str, Any] = {"sub": rng.choice(["42", "", "7"]), "exp": int(time.time()) + 3600}
    if rng.random() < 0.3:
        claims["channels"] = [rng.choice(gen.CHANNELS[:5])]
    return jwt.encode(claims, gen.SECRET, algorithm="HS256")


#: the v2 sentinel command (an rpc answered 108 by a live connection), and
#: its reply's id as it reads inside a SockJS frame (JSON-quoted)
V2_SENTINEL = json.dumps({"id": V2_SENTINEL_ID, "rpc": {"method": SENTINEL}})
V2_SOCKJS_SENTINEL = f'\\"id\\":{V2_SENTINEL_ID}'.encode()


def _v2_sockjs_message(rng: random.Random) -> str:
    """A SockJS message for protocol v2: a fuzzed v2 JSON frame (several
    commands, one per line; bytes that are not UTF-8 as lone surrogates)."""
    return v2frames.json_frame(rng).decode("utf-8", "surrogateescape")


def v2_sockjs_ws_case(rng: random.Random) -> WsCase:
    """Protocol v2 on /connection/sockjs's websocket: maybe a connect, a
    fuzzed v2 frame in a SockJS array (or a fuzzed SockJS envelope, or
    broken websocket framing), then the v2 sentinel."""
    frames = [ws_frame(json.dumps([json.dumps({"id": 1, "connect": {"token": _v2_token(rng)}})]).encode())
              ] if rng.random() < 0.7 else []
    framing = rng.random() < 0.05
    if framing:
        frames.append(_broken_framing(rng))
    elif rng.random() < 0.25:
        frames.append(ws_frame(gen.sockjs_frame(rng)))
    else:
        frames.append(ws_frame(json.dumps([_v2_sockjs_message(rng)]).encode()))
    frames.append(ws_frame(json.dumps([V2_SENTINEL]).encode()))
    return WsCase(frames, framing, V2_SOCKJS_SENTINEL, v2=True)


async def fuzz_v2_sockjs_ws(port: int, rng: random.Random, n: int, concurrency: int = 4,
                            timeout: float = 10.0) -> Tally:
    return await _fuzz_ws("v2 SockJS websocket", port,
                          lambda: f"/connection/sockjs/000/{gen.session_id(rng)}/websocket",
                          v2_sockjs_ws_case, True, rng, n, concurrency, timeout)


def _v2_frame(command: dict[str, Any], protobuf: bool) -> bytes:
    if not protobuf:
        return ws_frame(json.dumps(command).encode())
    message = pb.Command()
    jsoncodec.fill(message, command)
    body = message.SerializeToString()
    return ws_frame(uvarint(len(body)) + body, opcode=2)


V1_SENTINEL_ID = 4_242_424_243


def v1_ws_case(rng: random.Random) -> tuple[str, WsCase]:
    """Protocol v1 on the raw websocket, JSON or protobuf (``?format=protobuf``
    or a binary first frame): maybe a valid connect (a JWT of the fuzz
    secret), the fuzz frame (tests/fuzz/v1frames.py), then a ``ping`` whose
    id is the sentinel (answered by a live connection)."""
    protobuf = rng.random() < 0.5
    path = "/connection/websocket" + ("?format=protobuf" if protobuf and rng.random() < 0.5 else "")
    claims: dict[str, Any] = {"sub": rng.choice(["42", "", "7"]), "exp": int(time.time()) + 3600}
    if rng.random() < 0.3:
        claims["channels"] = [rng.choice(gen.CHANNELS[:5])]
    connect = {"id": 1, "params": {"token": jwt.encode(claims, gen.SECRET, algorithm="HS256"), "name": "js"}}
    ping = {"id": V1_SENTINEL_ID, "method": 7}
    frames = [_v1_frame(connect, protobuf)] if rng.random() < 0.7 else []
    framing = rng.random() < 0.05
    if framing:
        frames.append(_broken_framing(rng))
    elif protobuf:
        frames.append(ws_frame(v1frames.protobuf_frame(rng), opcode=2))
    else:
        frames.append(ws_frame(v1frames.json_frame(rng), opcode=2 if rng.random() < 0.1 else 1))
    frames.append(_v1_frame(ping, protobuf))
    sentinel = b"\x08" + uvarint(V1_SENTINEL_ID) if protobuf else f'"id":{V1_SENTINEL_ID}'.encode()
    return path, WsCase(frames, framing, sentinel, v2=True)


def _v1_frame(command: dict[str, Any], protobuf: bool) -> bytes:
    if not protobuf:
        return ws_frame(json.dumps(command).encode())
    return ws_frame(v1frames.protobuf_command(command), opcode=2)


async def fuzz_v1_ws(port: int, rng: random.Random, n: int, concurrency: int = 4,
                     timeout: float = 10.0) -> Tally:
    tally = Tally("v1 websocket")
    started = time.monotonic()
    cases = (v1_ws_case(rng) for _ in range(n))

    async def one(item: tuple[str, WsCase]) -> None:
        outcome, violation = await ws_exchange(port, item[0], item[1], False, timeout)
        tally.note(outcome, violation, b"".join(item[1].frames))

    await run_cases(cases, concurrency, one)
    tally.seconds = time.monotonic() - started
    return tally


async def fuzz_v2_ws(port: int, rng: random.Random, n: int, concurrency: int = 4,
                     timeout: float = 10.0) -> Tally:
    tally = Tally("v2 websocket")
    started = time.monotonic()
    cases = (v2_ws_case(rng) for _ in range(n))

    async def one(item: tuple[str, WsCase]) -> None:
        outcome, violation = await ws_exchange(port, item[0], item[1], False, timeout)
        tally.note(outcome, violation, b"".join(item[1].frames))

    await run_cases(cases, concurrency, one)
    tally.seconds = time.monotonic() - started
    return tally


async def fuzz_sockjs_ws(port: int, rng: random.Random, n: int, concurrency: int = 4,
                         timeout: float = 10.0) -> Tally:
    return await _fuzz_ws("SockJS websocket", port,
                          lambda: f"/connection/000/{gen.session_id(rng)}/websocket",
                          sockjs_ws_case, True, rng, n, concurrency, timeout)


async def _fuzz_ws(name: str, port: int, path: Callable[[], str], make: Callable[[random.Random], WsCase],
                   sockjs: bool, rng: random.Random, n: int, concurrency: int, timeout: float) -> Tally:
    tally = Tally(name)
    started = time.monotonic()
    cases = ((path(), make(rng)) for _ in range(n))

    async def one(item: tuple[str, WsCase]) -> None:
        outcome, violation = await ws_exchange(port, item[0], item[1], sockjs, timeout)
        tally.note(outcome, violation, b"".join(item[1].frames))

    await run_cases(cases, concurrency, one)
    tally.seconds = time.monotonic() - started
    return tally


# -- HTTP wire -------------------------------------------------------------------------------


async def http_head(port: int, request: bytes, timeout: float) -> str:
    """The status of the response to ``request`` ("" when none came): only
    the head is read (a streaming transport never ends its body)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "connect failed"
    try:
        writer.write(request)
        return await asyncio.wait_for(_status(reader), timeout)
    except asyncio.TimeoutError:
        return "hang"
    finally:
        writer.transport.abort()


async def _status(reader: asyncio.StreamReader) -> str:
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return ""
        status = head[9:12].decode("latin-1")
        if status != "100":  # Expect: 100-continue
            return status


async def http_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: bytes) -> tuple[str, bytes]:
    """One request on a kept-alive connection: ``(status, body)``; bodies are
    read by Content-Length (the answers of xhr, xhr_send and the API)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return head[9:12].decode("latin-1"), body


def post(path: str, body: bytes, content_type: str = "text/plain") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _status_violation(status: str) -> str:
    if not status:
        return "no status"
    if status == "hang":
        return "no answer"
    return f"status {status}" if status.startswith("5") else ""


async def fuzz_http(port: int, rng: random.Random, n: int, concurrency: int = 4,
                    timeout: float = 10.0) -> Tally:
    """Random requests under /connection, one connection each."""
    tally = Tally("HTTP transports")
    started = time.monotonic()

    async def one(request: bytes) -> None:
        status = await http_head(port, request, timeout)
        tally.note(f"status {status}" if status.isdigit() else status or "no status",
                   _status_violation(status), request)

    await run_cases((gen.http_request(rng) for _ in range(n)), concurrency, one)
    tally.seconds = time.monotonic() - started
    return tally


class KeptAlive:
    """One kept-alive HTTP connection, made again when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: bytes, timeout: float) -> tuple[str, bytes]:
        for _ in range(2):
            if self._conn is None:
                self._conn = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                return await asyncio.wait_for(http_exchange(*self._conn, request), timeout)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()  # closed after its last answer: once more on a new one
            except asyncio.TimeoutError:
                self.close()
                return "hang", b""
        return "", b""

    def close(self) -> None:
        if self._conn is not None:
            self._conn[1].transport.abort()
            self._conn = None


async def fuzz_xhr_send(port: int, rng: random.Random, n: int, concurrency: int = 4,
                        timeout: float = 10.0) -> Tally:
    """Open an xhr session, maybe connect, then xhr_send (or jsonp_send) a fuzz frame."""
    return await _fuzz_xhr("xhr_send", port, (_xhr_case(rng) for _ in range(n)), concurrency, timeout)


async def _fuzz_xhr(name: str, port: int, cases: Iterator[tuple[str, list[bytes]]], concurrency: int,
                    timeout: float) -> Tally:
    tally = Tally(name)
    started = time.monotonic()
    conns = [KeptAlive(port) for _ in range(concurrency)]

    async def one(case: tuple[str, list[bytes]]) -> None:
        conn = conns.pop()
        try:
            await _xhr_talk(conn, case, tally, timeout)
        finally:
            conns.append(conn)

    await run_cases(cases, concurrency, one)
    for conn in conns:
        conn.close()
    tally.seconds = time.monotonic() - started
    return tally


async def fuzz_v2_sockjs_xhr(port: int, rng: random.Random, n: int, concurrency: int = 4,
                             timeout: float = 10.0) -> Tally:
    """The same through /connection/sockjs (protocol v2): open an xhr session,
    maybe connect, then xhr_send (or jsonp_send) a fuzzed v2 frame."""
    return await _fuzz_xhr("v2 xhr_send", port, (_v2_xhr_case(rng) for _ in range(n)), concurrency, timeout)


def _v2_xhr_case(rng: random.Random) -> tuple[str, list[bytes]]:
    base = f"/connection/sockjs/000/{gen.session_id(rng)}"
    connect = json.dumps({"id": 1, "connect": {"token": _v2_token(rng)}})
    bodies = [json.dumps([connect]).encode()] if rng.random() < 0.7 else []
    frame = gen.sockjs_frame(rng) if rng.random() < 0.25 else json.dumps([_v2_sockjs_message(rng)]).encode()
    if rng.random() < 0.15:
        bodies.append(post(base + "/jsonp_send", b"d=" + quote_from_bytes(frame).encode(),
                           "application/x-www-form-urlencoded"))
    else:
        bodies.append(post(base + "/xhr_send", frame))
    bodies[:-1] = [post(base + "/xhr_send", body) for body in bodies[:-1]]
    return base, bodies


def _xhr_case(rng: random.Random) -> tuple[str, list[bytes]]:
    base = f"/connection/000/{gen.session_id(rng)}"
    bodies = [json.dumps([json.dumps(gen.connect_command(rng))]).encode()] if rng.random() < 0.5 else []
    frame = gen.sockjs_frame(rng)
    if rng.random() < 0.15:
        bodies.append(post(base + "/jsonp_send", b"d=" + quote_from_bytes(frame).encode(),
                           "application/x-www-form-urlencoded"))
    else:
        bodies.append(post(base + "/xhr_send", frame))
    bodies[:-1] = [post(base + "/xhr_send", body) for body in bodies[:-1]]
    return base, bodies


async def _xhr_talk(conn: KeptAlive, case: tuple[str, list[bytes]], tally: Tally, timeout: float) -> None:
    base, requests = case
    status, body = await conn.send(post(base + "/xhr", b""), timeout)
    if status != "200" or body != b"o\n":
        tally.note(f"open {status}", _status_violation(status) or "xhr did not open", body)
        return
    for request in requests:
        status, _ = await conn.send(request, timeout)
    tally.note(f"status {status}" if status.isdigit() else status or "no status",
               _status_violation(status), requests[-1])


async def _fuzz_posts(name: str, port: int, requests: Iterator[bytes], concurrency: int,
                      timeout: float) -> Tally:
    """Send ``requests`` over ``concurrency`` kept-alive connections; each
    status is judged by _status_violation."""
    tally = Tally(name)
    started = time.monotonic()
    conns = [KeptAlive(port) for _ in range(concurrency)]

    async def one(request: bytes) -> None:
        conn = conns.pop()
        try:
            status, _ = await conn.send(request, timeout)
        finally:
            conns.append(conn)
        tally.note(f"status {status}" if status.isdigit() else status or "no status",
                   _status_violation(status), request)

    await run_cases(requests, concurrency, one)
    for conn in conns:
        conn.close()
    tally.seconds = time.monotonic() - started
    return tally


async def fuzz_api(port: int, rng: random.Random, n: int, concurrency: int = 4,
                   timeout: float = 10.0) -> Tally:
    """POST /api/ bodies (the server runs with insecure_api)."""
    requests = (post("/api/", *gen.api_body(rng)) for _ in range(n))
    return await _fuzz_posts("API", port, requests, concurrency, timeout)


async def fuzz_centrifugo2_api(port: int, rng: random.Random, n: int, concurrency: int = 4,
                               timeout: float = 10.0) -> Tally:
    """POST /api bodies of the Centrifugo 2 API (insecure_api: no key):
    newline-delimited commands, each a current-style body under a method
    name or number, some lines mutated."""

    def cases() -> Iterator[bytes]:
        for _ in range(n):
            lines = []
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                route, body = gen.current_style_body(rng)
                method: Any = route if route != "batch" else rng.choice(["rpc", 10, 11, "nope"])
                if rng.random() < 0.2 and route in v1api_methods():
                    method = v1api_methods().index(route)
                try:
                    params = json.loads(body)
                except (ValueError, RecursionError):  # a deep or broken body: sent as a string
                    params = body.decode("utf-8", "replace")
                value = {"method": method, "params": params}
                if rng.random() < 0.3:
                    value["id"] = rng.randrange(0, 2 ** 32)
                lines.append(gen.mutate(rng, value) if rng.random() < 0.1 else gen.encode(rng, value))
            kind = "application/octet-stream" if rng.random() < 0.05 else rng.choice(["application/json", ""])
            yield post("/api", b"\n".join(lines), kind)

    return await _fuzz_posts("Centrifugo 2 API", port, cases(), concurrency, timeout)


def v1api_methods() -> tuple[str, ...]:
    from app.dialects.v1api.lines import METHODS
    return METHODS


async def fuzz_current_api(port: int, rng: random.Random, n: int, concurrency: int = 4,
                           timeout: float = 10.0) -> Tally:
    """POST /api/<method> bodies of the current-style API (insecure_api: no key)."""

    def cases() -> Iterator[bytes]:
        for _ in range(n):
            route, body = gen.current_style_body(rng)
            yield post("/api/" + route, body, rng.choice(["application/json", "text/plain", ""]))

    return await _fuzz_posts("current-style API", port, cases(), concurrency, timeout)


# -- config files ----------------------------------------------------------------------------


def fuzz_configs(rng: random.Random, n: int, directory: Path | None = None) -> Tally:
    """Config files through the loader (what ``sockhub checkconfig`` and the
    server run): anything but a one-line ConfigError is a violation."""
    tally = Tally("config files")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        for index in range(n):
            suffix, data = gen.config_file(rng)
            path = Path(tmp) / f"c{index % 50}{suffix}"
            path.write_bytes(data)
            outcome, violation = load_config(str(path))
            tally.note(outcome, violation, data)
    tally.seconds = time.monotonic() - started
    return tally


def load_config(path: str) -> tuple[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SOCKHUB_")}
    try:
        ConfigSource(path, environ).load()
    except ConfigError as exc:
        return "ConfigError", "" if "\n" not in str(exc) and len(str(exc)) < 400 else "error not one line"
    except Exception as exc:  # noqa: BLE001 - what the fuzz is looking for
        return "traceback", f"{type(exc).__name__}"
    return "ok", ""


def checkconfig_violation(returncode: int, stdout: str, stderr: str) -> str:
    """What is wrong with a ``sockhub checkconfig`` run ('' if nothing):
    exit 0 or 2, no traceback, and on stderr but warnings only one line per
    unknown key (``error: ...: unknown key ...``) and, when the check fails,
    one ``sockhub: error: ...`` line."""
    lines = stderr.splitlines()
    unknown = [line for line in lines if line.startswith("error: ") and ": unknown key " in line]
    errors = [line for line in lines if not line.startswith("warning: ") and line not in unknown]
    if returncode not in (0, 2) or len(errors) != returncode // 2 or (unknown and returncode != 2):
        return "not one line and exit 0/2"
    return "traceback" if "Traceback" in stderr + stdout else ""


# -- the server ------------------------------------------------------------------------------


def log_problems(text: str) -> list[str]:
    """Lines of a server log that show a traceback or an error."""
    return [line for line in text.splitlines()
            if "Traceback" in line or "Logging error" in line or " ERROR " in line]


def api_call(url: str, method: str) -> Any:
    request = urllib.request.Request(url + "/api/", data=json.dumps({"method": method}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())[0]["body"]["data"]


def counts(url: str) -> dict[str, int]:
    """Clients, subscriptions and channels (the API's ``node``) and open
    sessions by transport (``sockhub_node_connections`` of /metrics)."""
    metrics = api_call(url, "node")["metrics"]
    found = {k: metrics[k] for k in ("node_num_clients", "node_num_subscriptions", "node_num_channels")}
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return found
    assert "# TYPE sockhub_node_connections gauge" in text, "sessions by transport missing from /metrics"
    for match in re.finditer(r'^sockhub_node_connections\{transport="(\w+)"\} (\S+)$', text, re.M):
        found["sessions " + match.group(1)] = int(float(match.group(2)))
    return found


def wait_for_counts(url: str, baseline: dict[str, int], timeout: float = 15.0) -> dict[str, int]:
    """The counts once they are back to ``baseline`` (or at ``timeout``)."""
    deadline = time.monotonic() + timeout
    now = counts(url)
    while _above(now, baseline) and time.monotonic() < deadline:
        time.sleep(0.2)
        now = counts(url)
    return now


def _above(now: dict[str, int], baseline: dict[str, int]) -> bool:
    return any(value > baseline.get(key, 0) for key, value in now.items())
