"""The fuzz driver of protocol v2's emulation transports: ``POST
/connection/http_stream`` (JSON, protobuf), ``/connection/sse`` (GET
``cf_connect``, POST) and ``POST /emulation`` (tests/fuzz/drive.py's Tally
and verdicts; the frames and bodies of tests/fuzz/v2frames.py).

A case opens a stream with a valid connect (most of the time) or a fuzz
frame; when connected, it sends the fuzz frame through ``/emulation`` (as
the SDK wraps it, or a mutated body, or for another session), then an
``rpc`` whose id is the sentinel.  Verdict: the sentinel's reply comes down
the stream (``alive``) or the stream ends with a disconnect push of the
v2 table (``closed <code>``).  Violations: a 5xx, no answer, a stream that
ends without a disconnect push, the internal-error close, a code outside
the table.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.parse
from typing import Any

import jwt

from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.framing import uvarint
from tests.fuzz import generators as gen
from tests.fuzz import v2frames
from tests.fuzz.drive import SENTINEL, V2_CLOSES, V2_INTERNAL, V2_SENTINEL_ID, Tally, run_cases
from tests.support.emulation import Stream, post
from transports.httpstream import MAX_BODY

JSON = {"Content-Type": "application/json"}
BINARY = {"Content-Type": "application/octet-stream"}


def _command(command: dict[str, Any], protobuf: bool) -> bytes:
    if not protobuf:
        return json.dumps(command).encode()
    message = pb.Command()
    jsoncodec.fill(message, command)
    body = message.SerializeToString()
    return uvarint(len(body)) + body


def _wrap(session: str, node: str, frame: bytes, protobuf: bool) -> bytes:
    """An emulation body as centrifuge-js writes it."""
    if protobuf:
        return pb.EmulationRequest(session=session, node=node, data=frame).SerializeToString()
    return json.dumps({"session": session, "node": node, "data": frame.decode("utf-8", "replace")}).encode()


def _disconnect_of(item: Any) -> int | None:
    """The code of a disconnect push, or None."""
    if isinstance(item, pb.Reply):
        return item.push.disconnect.code if item.push.HasField("disconnect") else None
    if isinstance(item, dict) and isinstance(item.get("push"), dict) and "disconnect" in item["push"]:
        code = item["push"]["disconnect"].get("code")
        return code if isinstance(code, int) else -1
    return None


def _is_sentinel(item: Any) -> bool:
    if isinstance(item, pb.Reply):
        return item.id == V2_SENTINEL_ID
    return isinstance(item, dict) and item.get("id") == V2_SENTINEL_ID


async def _ending(stream: Stream, timeout: float) -> tuple[str, str]:
    """Read until the sentinel's reply or the end: (outcome, violation)."""
    last: Any = None
    try:
        while True:
            item = await stream.read_item(timeout)
            if item is None:
                code = _disconnect_of(last)
                if code is None:
                    return "ended", "stream ended without a disconnect push"
                if code == V2_INTERNAL:
                    return f"closed {code}", "internal server error"
                if code not in V2_CLOSES:
                    return f"closed {code}", f"close code {code} outside the table"
                return f"closed {code}", ""
            if _is_sentinel(item):
                return "alive", ""
            last = item
    except asyncio.TimeoutError:
        return "hang", "no answer"
    except (ConnectionError, asyncio.IncompleteReadError):
        return "reset", "connection reset"


async def _case(port: int, rng: random.Random, tally: Tally, timeout: float) -> None:
    transport = rng.choice(["http_stream", "http_stream", "sse-get", "sse-post"])
    protobuf = transport == "http_stream" and rng.random() < 0.5
    claims: dict[str, Any] = {"sub": rng.choice(["42", "", "7"]), "exp": int(time.time()) + 3600}
    token = jwt.encode(claims, gen.SECRET, algorithm="HS256")
    connect = rng.random() < 0.75
    fuzz = v2frames.protobuf_frame(rng) if protobuf else v2frames.json_frame(rng)
    first = _command({"id": 1, "connect": {"token": token}}, protobuf) if connect else fuzz
    kind = "protobuf" if protobuf else ("sse" if transport.startswith("sse") else "json")
    query = urllib.parse.urlencode({"cf_connect": first.decode("utf-8", "replace")})
    # what the bound applies to: the body, or the request head (Tornado's
    # 64 KiB header limit drops a longer one without an answer)
    size = len(query) if transport == "sse-get" else len(first)
    try:
        if transport == "sse-get":
            stream = await Stream.open(port, "GET", "/connection/sse?" + query, kind=kind)
        else:
            path = "/connection/" + ("sse" if transport == "sse-post" else "http_stream")
            stream = await Stream.open(port, "POST", path, first, kind, BINARY if protobuf else JSON)
    except asyncio.TimeoutError:
        tally.note("hang", "no answer", first)
        return
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
        # a first frame past the bound is answered 413 and the connection
        # closed while the body is still being written
        tally.note("reset", "" if size > MAX_BODY else "no status", first)
        return
    try:
        if stream.status != 200:
            tally.note(f"status {stream.status}", "status 5xx" if stream.status >= 500 else "", first)
            return
        try:
            reply = await stream.read_item(timeout)
        except asyncio.TimeoutError:
            tally.note("hang", "no answer", first)
            return
        session, node = _session_of(reply)
        if not session:  # refused at the first frame: the stream must end with a push
            outcome, violation = await _ending_after(stream, reply, timeout)
            tally.note(outcome, violation, first)
            return
        roll = rng.random()
        if roll < 0.6:
            body = _wrap(session, node, fuzz, protobuf)
        elif roll < 0.85:
            body, protobuf_body = v2frames.emulation_body(rng)
            protobuf = protobuf and protobuf_body
        else:
            body = _wrap("not-" + session, node, fuzz, protobuf)
        status, _, _ = await post(port, "/emulation", body, BINARY if protobuf else JSON)
        if status == 0 and len(body) <= MAX_BODY:
            tally.note("reset", "connection reset", body)
            return
        if status >= 500:
            tally.note(f"status {status}", "status 5xx", body)
            return
        sentinel = _command({"id": V2_SENTINEL_ID, "rpc": {"method": SENTINEL}}, protobuf)
        await post(port, "/emulation", _wrap(session, node, sentinel, protobuf), BINARY if protobuf else JSON)
        outcome, violation = await _ending(stream, timeout)
        tally.note(outcome, violation, body)
    finally:
        stream.close()


def _session_of(reply: Any) -> tuple[str, str]:
    if isinstance(reply, pb.Reply) and reply.HasField("connect"):
        return reply.connect.session, reply.connect.node
    if isinstance(reply, dict) and isinstance(reply.get("connect"), dict):
        return reply["connect"].get("session", ""), reply["connect"].get("node", "")
    return "", ""


async def _ending_after(stream: Stream, first: Any, timeout: float) -> tuple[str, str]:
    """The verdict of a stream refused at its first frame (``first``: the
    item read already, None when the response had ended)."""
    if first is None:
        return "ended", "stream ended without a disconnect push"
    code = _disconnect_of(first)
    if code is not None and await _ended(stream, timeout):
        if code == V2_INTERNAL:
            return f"closed {code}", "internal server error"
        return f"closed {code}", "" if code in V2_CLOSES else f"close code {code} outside the table"
    return await _ending(stream, timeout)


async def _ended(stream: Stream, timeout: float) -> bool:
    try:
        return await stream.read_item(timeout) is None
    except (asyncio.TimeoutError, ConnectionError):
        return False


async def fuzz_v2_emulation(port: int, rng: random.Random, n: int, concurrency: int = 4,
                            timeout: float = 10.0) -> Tally:
    tally = Tally("v2 emulation")
    started = time.monotonic()

    async def one(_: int) -> None:
        await _case(port, rng, tally, timeout)

    await run_cases(iter(range(n)), concurrency, one)
    tally.seconds = time.monotonic() - started
    return tally
