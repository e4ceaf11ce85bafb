"""Seeded generators of hostile input, shared by tests/fuzz and bench/fuzz.py.

Every generator takes a ``random.Random`` and returns the bytes (or config
file) of one case; the same seed gives the same cases.  They start from valid
input (client commands, SockJS envelopes, API commands, config files) and
mutate it the ways issue 11 saw break things, plus the usual ones:

* lone UTF-16 surrogates in strings, escaped (valid JSON text) or raw
  (encoded with ``surrogatepass``: invalid UTF-8);
* deep nesting (around the decoder's limit of 100 and far past it);
* numbers that overflow (``1e400``, 5,000 digits), ``NaN``, ``Infinity``;
* values of the wrong type, missing or unknown keys, huge strings;
* invalid UTF-8 bytes, truncation, stray bytes, random bytes.
"""
from __future__ import annotations

import json
import random
import string
from typing import Any, Callable
from urllib.parse import quote_from_bytes

from app.dialects.v1x.auth import channel_sign, connection_token

SECRET = "fuzz-secret"
#: What the fuzz server is started with (tests/fuzz/drive.py).
SERVER_CONFIG: dict[str, Any] = {
    "secret": SECRET, "insecure_api": True, "prometheus": True,
    "presence": True, "join_leave": True, "history_size": 5, "history_lifetime": 60,
    "recover": True, "publish": True, "anonymous": True,
    "namespaces": [{"name": "public", "publish": True, "anonymous": True, "presence": True}],
    "sockjs_disconnect_delay": 0.5, "stale_connection_close_delay": 3,
    "client_channel_limit": 16,
    # thousands of cases a second: the connection rate limit would answer most of them
    "client_connection_rate_limit": 0,
}

Json = Any
Mutation = Callable[[random.Random, Json], Json]

CHANNELS = ("news", "public:chat", "$private", "user#42", "user#42,7", "chat&client", "nope:x", "", "a" * 300)
#: Nesting as values (json.dumps itself stops near 1,000) and as text.
DEEP_VALUES = (5, 97, 98, 99, 100, 150, 300)
DEEP = (5, 99, 100, 101, 150, 999, 1000, 5000, 20000)
SURROGATES = ("\ud800", "\udfff", "\udbff", "\udc00", "a\ud83d", "\ude00z")
ODD_NUMBERS = ("1e400", "-1e400", "1e308", "-0.0", "18446744073709551616", "1" * 5000, "NaN",
               "Infinity", "-Infinity", "1.5e-400", "0x10", "01", "1.", ".5", "+1")
INVALID_UTF8 = (b"\xc0", b"\xc0\xaf", b"\xff", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\x80")


# -- valid input -------------------------------------------------------------------


def credentials(rng: random.Random, user: str = "") -> dict[str, str]:
    """Connect/refresh params with a valid token for the fuzz secret."""
    user = user or rng.choice(["42", "7", "", "user-" + str(rng.randrange(100))])
    timestamp = str(rng.choice([1500000000, 4000000000]))
    info = rng.choice(["", '{"name":"Alex"}', "[1,2]", '"x"'])
    return {"user": user, "timestamp": timestamp, "info": info,
            "token": connection_token(SECRET, user, timestamp, info)}


def connect_command(rng: random.Random) -> dict[str, Any]:
    return {"uid": "c", "method": "connect", "params": credentials(rng)}


def client_command(rng: random.Random) -> dict[str, Any]:
    """One valid-looking client command (§4) with plausible params."""
    method = rng.choice(["connect", "refresh", "subscribe", "unsubscribe", "publish",
                         "presence", "history", "ping"])
    channel = rng.choice(CHANNELS)
    params: dict[str, Any] = {"channel": channel}
    if method in ("connect", "refresh"):
        params = credentials(rng)
    elif method == "publish":
        params["data"] = rng.choice([{"text": "hi"}, [1, 2], "s", 1, None, {"a": {"b": [True]}}])
    elif method == "subscribe":
        params.update(recover=rng.random() < 0.3, last="", client="x",
                      info="", sign=channel_sign(SECRET, "x", channel))
    elif method == "ping":
        params = {"data": "p"}
    return {"uid": str(rng.randrange(1000)), "method": method, "params": params}


def client_frame_value(rng: random.Random) -> Json:
    """A frame's value: one command, or an array of them."""
    if rng.random() < 0.25:
        return [client_command(rng) for _ in range(rng.randint(1, 4))]
    return client_command(rng)


def api_command(rng: random.Random) -> dict[str, Any]:
    method = rng.choice(["publish", "broadcast", "unsubscribe", "disconnect", "subscribe",
                         "presence", "history", "history_remove", "channels", "stats", "node"])
    params: dict[str, Any] = {"channel": rng.choice(CHANNELS), "data": {"text": "x"},
                              "user": rng.choice(["42", "nobody"])}
    if method == "broadcast":
        params = {"channels": [rng.choice(CHANNELS) for _ in range(3)], "data": [1]}
    if method in ("publish", "broadcast") and rng.random() < 0.3:
        params["idempotency_key"] = _idempotency_key(rng)
    return {"method": method, "params": params}


def _idempotency_key(rng: random.Random) -> Any:
    """Short keys that repeat (so some publishes are duplicates), empty, too long, not a string."""
    return rng.choice(["k1", "k2", "", "k" * 257, "{tag}", 5, None, "é\u2028"])


#: The current-style API's routes (app.dialects.v2api.runner.ROUTES), a few
#: names it does not have, and suffixes that stay the 1.x API.
API_ROUTES = ("publish", "broadcast", "subscribe", "unsubscribe", "disconnect", "refresh", "presence",
              "presence_stats", "history", "history_remove", "channels", "info", "rpc", "batch",
              "Publish", "publish/", "nope")


def current_style_command(rng: random.Random, method: str) -> dict[str, Any]:
    """A plausible body of ``method`` (app.dialects.v2api.params), before mutation."""
    channel = rng.choice(CHANNELS)
    bodies: dict[str, dict[str, Any]] = {
        "publish": {"channel": channel, "data": {"text": "x"}, "skip_history": rng.random() < 0.2,
                    "tags": {"k": "v"}, "b64data": rng.choice(["", "eyJuIjoxfQ==", "AAEC", "!!"]),
                    "idempotency_key": _idempotency_key(rng)},
        "broadcast": {"channels": [rng.choice(CHANNELS) for _ in range(3)], "data": [1],
                      "idempotency_key": _idempotency_key(rng)},
        "subscribe": {"user": rng.choice(["42", "nobody", ""]), "channel": channel, "info": {"r": 1}},
        "unsubscribe": {"user": "42", "channel": channel, "client": rng.choice(["", "c"])},
        "disconnect": {"user": rng.choice(["nobody", "7"]), "whitelist": ["x"],
                       "disconnect": {"code": rng.choice([0, 3000, 4500, 2 ** 32]), "reason": "r"}},
        "refresh": {"user": "nobody", "expired": rng.random() < 0.5, "expire_at": 1},
        "history": {"channel": channel, "limit": rng.choice([-1, 0, 3, 2 ** 63]), "reverse": True,
                    "since": {"offset": rng.choice([0, 5, -1]), "epoch": rng.choice(["", "e"])}},
        "channels": {"pattern": rng.choice(["", "*", "public:*", "[a", "{a,b}*", "*a*a*a*a*b"])},
        "rpc": {"method": rng.choice(["", "m"]), "params": {}},
    }
    return bodies.get(method, {"channel": channel})


def current_style_body(rng: random.Random) -> tuple[str, bytes]:
    """A route under /api/ and its mutated JSON body (``batch``: a list of commands)."""
    route = rng.choice(API_ROUTES)
    if route == "batch":
        methods = [rng.choice(API_ROUTES[:13]) for _ in range(rng.randint(0, 12))]
        value: Json = {"commands": [{m: current_style_command(rng, m)} for m in methods],
                       "parallel": rng.random() < 0.5}
    else:
        value = current_style_command(rng, route)
    return route, mutate(rng, value)


def api_value(rng: random.Random) -> Json:
    if rng.random() < 0.3:
        return [api_command(rng) for _ in range(rng.randint(1, 20))]
    return api_command(rng)


# -- value mutations ------------------------------------------------------------------


def _paths(value: Json, limit: int = 30) -> list[tuple[Any, ...]]:
    """Paths to the nodes of a JSON value, the root included, down to
    ``limit`` levels (an earlier mutation may have nested it deeply)."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Json]] = [((), value)]
    while stack:
        path, node = stack.pop()
        found.append(path)
        if len(path) >= limit:
            continue
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((path + (key,), child) for key, child in items)
    return found


def _replace(value: Json, path: tuple[Any, ...], new: Json) -> Json:
    if not path:
        return new
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return value


def _node(value: Json, path: tuple[Any, ...]) -> Json:
    for key in path:
        value = value[key]
    return value


def _at_random_node(rng: random.Random, value: Json, make: Callable[[Json], Json],
                    strings: bool = False) -> Json:
    """``value`` with ``make(node)`` in place of a random node; ``strings``:
    a string node when there is one (user, token, channel: what gets hashed)."""
    paths = _paths(value)
    if strings:
        paths = [p for p in paths if isinstance(_node(value, p), str)] or paths
    path = rng.choice(paths)
    return _replace(value, path, make(_node(value, path)))


def with_surrogate(rng: random.Random, value: Json) -> Json:
    """A lone surrogate inside a string (or a key) somewhere."""
    bad = rng.choice(SURROGATES)

    def make(node: Json) -> Json:
        if isinstance(node, dict) and rng.random() < 0.3:
            return {**node, bad: 1}
        return (node + bad) if isinstance(node, str) else bad
    return _at_random_node(rng, value, make, strings=rng.random() < 0.8)


def nested(rng: random.Random, value: Json) -> Json:
    """A node wrapped in lists or objects, ``depth`` levels."""
    depth = rng.choice(DEEP_VALUES)

    def make(node: Json) -> Json:
        for _ in range(depth):
            node = [node] if rng.random() < 0.7 else {"k": node}
        return node
    return _at_random_node(rng, value, make)


def wrong_type(rng: random.Random, value: Json) -> Json:
    other = rng.choice([None, True, 0, -1, 2**63, 1.5, "", "x", [], {}, ["a"], {"a": 1}])
    return _at_random_node(rng, value, lambda node: other)


def huge_string(rng: random.Random, value: Json) -> Json:
    text = rng.choice(["a", "é", "\u2028", "\x00", "😀"]) * rng.choice([1000, 70000])
    return _at_random_node(rng, value, lambda node: text)


def drop_or_add_key(rng: random.Random, value: Json) -> Json:
    def make(node: Json) -> Json:
        if isinstance(node, dict) and node and rng.random() < 0.5:
            node = dict(node)
            del node[rng.choice(list(node))]
            return node
        if isinstance(node, dict):
            return {**node, rng.choice(["METHOD", "Params", "uid", "x", ""]): rng.choice([1, "y", None])}
        return node
    return _at_random_node(rng, value, make)


VALUE_MUTATIONS: tuple[Mutation, ...] = (with_surrogate, nested, wrong_type, huge_string, drop_or_add_key)

# -- text and byte mutations ---------------------------------------------------------------


def encode(rng: random.Random, value: Json) -> bytes:
    """JSON bytes of a (possibly mutated) value: escaped, or raw UTF-8, where a
    lone surrogate becomes invalid UTF-8 (``surrogatepass``)."""
    if rng.random() < 0.7:
        return json.dumps(value).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def odd_number(rng: random.Random, data: bytes) -> bytes:
    """A number no decoder should take, in place of a value (text level)."""
    number = rng.choice(ODD_NUMBERS).encode()
    for token in (b'"hi"', b"true", b"null", b"1", b'"p"', b'""'):
        if token in data:
            return data.replace(token, number, 1)
    return b"[" + number + b"]"


def truncated(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def invalid_utf8(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(INVALID_UTF8) + data[at:]


def stray_bytes(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + data[at:]


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))


def deep_text(rng: random.Random, data: bytes) -> bytes:
    """Deep nesting as text, closed or not (5,000+ ``[`` was a RecursionError)."""
    depth = rng.choice(DEEP)
    opener = rng.choice([b"[", b"{\"a\":", b"[{\"a\":"])
    closer = {b"[": b"]", b"{\"a\":": b"}", b"[{\"a\":": b"}]"}[opener]
    tail = closer * depth if rng.random() < 0.7 else b""
    return opener * depth + (data or b"1") + tail


BYTE_MUTATIONS = (odd_number, truncated, invalid_utf8, stray_bytes, random_bytes, deep_text)


def mutate(rng: random.Random, value: Json) -> bytes:
    """Valid ``value`` with 0-2 value mutations, encoded, then 0-1 byte
    mutations; about one case in eight stays valid."""
    for _ in range(rng.choice([0, 1, 1, 1, 2])):
        value = rng.choice(VALUE_MUTATIONS)(rng, value)
    data = encode(rng, value)
    if rng.random() < 0.45:
        data = rng.choice(BYTE_MUTATIONS)(rng, data)
    return data


# -- the entry points ----------------------------------------------------------------------


def client_frame(rng: random.Random) -> bytes:
    """The payload of one client text frame (raw websocket)."""
    return mutate(rng, client_frame_value(rng))


def sockjs_frame(rng: random.Random) -> bytes:
    """A SockJS frame: a JSON array of message strings.  Either the envelope
    of a mutated command (its text decoded with ``surrogateescape``, so
    invalid bytes travel as lone surrogates) or a mutated envelope."""
    inner = client_frame(rng).decode("utf-8", "surrogateescape")
    if rng.random() < 0.5:
        return json.dumps([inner]).encode()
    return mutate(rng, [inner, json.dumps(client_command(rng))])


def api_body(rng: random.Random) -> tuple[bytes, str]:
    """An API request body and its content type (JSON, or cent 1.x's form)."""
    data = mutate(rng, api_value(rng))
    form = rng.random()
    if form < 0.7:
        return data, "application/json"
    if form < 0.9:
        return b"data=" + quote_from_bytes(data).encode() + b"&sign=", "application/x-www-form-urlencoded"
    return data, rng.choice(["", "text/plain", "multipart/form-data; boundary=x", "application/json; charset=latin1"])


def session_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(12))


# -- HTTP requests under the SockJS prefix ---------------------------------------------------

METHODS = ("GET", "GET", "POST", "POST", "OPTIONS", "PUT", "DELETE", "HEAD", "PATCH", "FOO", "get")
TRANSPORTS = ("websocket", "xhr", "xhr_send", "xhr_streaming", "eventsource", "htmlfile", "jsonp",
              "jsonp_send", "nope")
CALLBACKS = ("cb", "_jp.a1", "", "alert(1)//", "%ff", "%C0%AF", "a" * 300, "%00", "x%E2%80%A8")


def _path(rng: random.Random) -> str:
    # the 1.x SockJS endpoint, or protocol v2's under it
    base = "/connection/sockjs" if rng.random() < 0.3 else "/connection"
    choice = rng.random()
    if choice < 0.15:
        return base + rng.choice(["", "/", "/info", "/iframe.html", "/iframe-1.6.1.html",
                                  "/static/sockjs.min.js", "/websocket", "/info/x", "/%ff", "/../app"])
    if choice < 0.25:
        return base + "/" + "/".join(rng.choice(["a", "%ff", ".", "..", "x" * 200, "%00", "é"])
                                     for _ in range(rng.randint(1, 4)))
    server = rng.choice(["000", "a", "", "x.y", "%ff"])
    return f"{base}/{server}/{session_id(rng)}/{rng.choice(TRANSPORTS)}"


def _query(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return ""
    return "?" + rng.choice(["c=" + rng.choice(CALLBACKS), "t=1", "%ff=%fe", "c", "c=cb&c=x", "a=" + "b" * 3000])


def _headers(rng: random.Random, body: bytes) -> list[tuple[bytes, bytes]]:
    headers = [(b"Host", b"127.0.0.1")]
    pool: list[tuple[bytes, bytes]] = [
        (b"Origin", rng.choice([b"http://a.example", b"null", b"\xff\xfe", b""])),
        (b"Cookie", rng.choice([b"JSESSIONID=abc", b"JSESSIONID=\xff", b"a"])),
        (b"Content-Type", rng.choice([b"application/json", b"application/x-www-form-urlencoded",
                                      b"text/plain", b"multipart/form-data; boundary=x", b"\xc0"])),
        (b"Upgrade", rng.choice([b"websocket", b"WebSocket", b"h2c", b""])),
        (b"Connection", rng.choice([b"Upgrade", b"keep-alive, Upgrade", b"close"])),
        (b"Sec-WebSocket-Version", rng.choice([b"13", b"7", b"x"])),
        (b"Sec-WebSocket-Key", rng.choice([b"dGhlIHNhbXBsZSBub25jZQ==", b"", b"\xff"])),
        (b"Access-Control-Request-Headers", b"x-a, x-b"),
        (b"X-Forwarded-For", rng.choice([b"1.2.3.4", b"\xff", b"::1, 10.0.0.1"])),
        (b"If-None-Match", b'"x"'), (b"Range", b"bytes=0-1"), (b"X-" + b"a" * 50, b"\x80\x81"),
        (b"Expect", b"100-continue"), (b"Accept-Encoding", b"gzip"),
    ]
    headers.extend(rng.sample(pool, rng.randint(0, 6)))
    if body or rng.random() < 0.5:
        length = len(body) if rng.random() < 0.8 else rng.choice([0, len(body) // 2, 10**12])
        headers.append((b"Content-Length", str(length).encode()))
    return headers


def _body(rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.4:
        return b""
    if choice < 0.8:
        return sockjs_frame(rng)
    if choice < 0.9:
        return b"d=" + quote_from_bytes(sockjs_frame(rng)).encode()
    return random_bytes(rng, b"")


def http_request(rng: random.Random) -> bytes:
    """One HTTP/1.1 request under /connection: random method, path, query,
    headers and body (always complete, so the server never waits for more)."""
    method = rng.choice(METHODS)
    body = _body(rng) if method in ("POST", "PUT", "PATCH") or rng.random() < 0.1 else b""
    head = f"{method} {_path(rng)}{_query(rng)} HTTP/1.1\r\n".encode("utf-8", "surrogateescape")
    headers = _headers(rng, body)
    if rng.random() < 0.05:
        headers.append((b"Transfer-Encoding", b"chunked"))
        headers = [h for h in headers if h[0] != b"Content-Length"]
        body = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    return head + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n" + body


# -- config files ----------------------------------------------------------------------------

BASE_CONFIG: dict[str, Any] = {
    "secret": "s", "port": 8000, "presence": True, "history_size": 10, "ping_interval": 25.0,
    "log_file": "", "redis_port": "6379", "name": "node", "insecure": False,
    "namespaces": [{"name": "chat", "publish": True, "history_size": 3}],
}
#: A Centrifugo v5 file (docs/config-v5.md): its names, durations, lists, switches.
V5_BASE_CONFIG: dict[str, Any] = {
    "token_hmac_secret_key": "k", "api_key": "a", "allowed_origins": ["http://a.example", "*"],
    "history_size": 10, "history_ttl": "300s", "force_recovery": True, "client_expired_close_delay": "1m30s",
    "client_presence_update_interval": "27s", "ping_interval": "25s", "allow_anonymous_connect_without_token": True,
    "namespaces": [{"name": "chat", "allow_subscribe_for_client": True, "history_ttl": "500ms",
                    "force_recovery": True, "allow_positioning": True}],
}
#: A Centrifugo 2.x file (docs/config-2x.md): string ports, negated and spread keys, channel rules.
C2_BASE_CONFIG: dict[str, Any] = {
    "v3_use_offset": True, "token_hmac_secret_key": "k", "api_key": "a", "port": "8000", "internal_port": "9000",
    "sockjs_disable": False, "client_anonymous": True, "server_side": True, "presence_disable_for_client": True,
    "redis_cluster_addrs": ["a:1,b:2"], "subscribe_to_publish": True,
    "namespaces": [{"name": "ro.feed", "history_disable_for_client": True, "protected": True}],
}
OPTION_VALUES = (1e308, -1.0, 0, 1, True, "true", "1", None, [], {}, 10**30, "x", "\ud800", 2.5, "",
                 "\u2028" * 3000, "a\x00b", "300s", "1m30s", "9" * 400 + "h", "1.5.5s", "-1s", ["a", 1], ["*"])


def option_value(rng: random.Random, value: Json) -> Json:
    """Some option gets a value of another type (``"log_file": 1e308``)."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        return {**value, key: rng.choice(OPTION_VALUES)}
    return value


#: huge_string is left out: PyYAML's pure-Python scanner takes ~50 ms for a
#: 70 KB string, and configs are not size-bounded input.
CONFIG_MUTATIONS: tuple[Mutation, ...] = (with_surrogate, nested, wrong_type, drop_or_add_key,
                                          option_value, option_value)


def _toml_value(value: Json) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}"
                               for k, v in value.items() if v is not None) + "}"
    return json.dumps(str(value))


def _toml(value: Json) -> bytes:
    try:
        return _toml_document(value)
    except RecursionError:  # two deep mutations: past what this writer nests
        return b'secret = "s"\nx = ' + b"[" * 600 + b"]" * 600 + b"\n"


def _toml_document(value: Json) -> bytes:
    if not isinstance(value, dict):
        return ("x = " + _toml_value(value) + "\n").encode("utf-8", "surrogatepass")
    lines = [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def _yaml(rng: random.Random, value: Json) -> bytes:
    import yaml

    try:
        text = yaml.safe_dump(value, default_flow_style=rng.choice([True, False, None]))
    except (RecursionError, yaml.YAMLError):
        text = json.dumps(value)  # JSON is YAML (flow style)
    return text.encode("utf-8", "surrogatepass")


def yaml_special(rng: random.Random) -> bytes:
    """What only YAML can say: deep block nesting, alias chains, alias bombs, cycles, tags."""
    choice = rng.randrange(5)
    if choice == 0:
        depth = rng.choice(DEEP[:6])
        return b"secret: s\n" + b"".join(b" " * i + b"k%d:\n" % i for i in range(depth)) + b" " * depth + b"v: 1\n"
    if choice == 1:
        return b"secret: s\na0: &a0 [1]\n" + b"".join(b"a%d: &a%d [*a%d]\n" % (i, i, i - 1)
                                                      for i in range(1, rng.choice([50, 101, 150])))
    if choice == 2:
        return b"secret: s\na: &a [x, x, x, x]\n" + b"".join(
            b"%c: &%c [*%c, *%c, *%c, *%c]\n" % ((98 + i,) * 2 + (97 + i,) * 4) for i in range(12))
    if choice == 3:
        return b"secret: &c [*c]\nnamespaces: &n [*n]\n"
    return rng.choice([b"secret: !!binary xx\n", b"secret: !!python/object:os.system x\n",
                       b"port: 2001-13-45\n", b"port: !!int 0x" + b"f" * 5000 + b"\n",
                       b"secret: s\nname: 2001-12-14t21:59:43.10+99:00\n", b"? [a, b]\n: 1\n"])


def config_file(rng: random.Random) -> tuple[str, bytes]:
    """``(suffix, bytes)`` of a config file: JSON, TOML or YAML."""
    suffix = rng.choice([".json", ".toml", ".yaml"])
    if suffix == ".yaml" and rng.random() < 0.15:
        return suffix, yaml_special(rng)
    value: Json = json.loads(json.dumps(rng.choice([BASE_CONFIG, V5_BASE_CONFIG, C2_BASE_CONFIG])))
    for _ in range(rng.choice([0, 1, 1, 2])):
        value = rng.choice(CONFIG_MUTATIONS)(rng, value)
    if suffix == ".json":
        data = encode(rng, value)
    elif suffix == ".toml":
        data = _toml(value)
    else:
        data = _yaml(rng, value)
    if rng.random() < 0.3:
        data = rng.choice(BYTE_MUTATIONS)(rng, data)
    return suffix, data
