"""Emulated headers (Centrifugo's ``emulated_headers``, v6.9+; here
``proxy_emulated_headers``): the header map a protocol v2 client sends in
its ``ConnectRequest.headers`` (centrifuge-js's ``headers`` option), of
which the listed names are sent as HTTP headers of every hook call of that
connection (connect and later ones).  Always client-controlled input: a
backend must treat them as such (docs/proxy.md).

Bounds, checked at connect when the option lists any name: at most
:data:`MAX_GIVEN` entries in the map, and of the listed ones a name that is
an HTTP token and a value of at most :data:`MAX_VALUE` characters of
visible ASCII, space and tab (no CR, LF or NUL: a header cannot be split).  A map
past them is :class:`BadHeaders`; the dialect refuses the connect.
"""
from __future__ import annotations

import re
from typing import Mapping

from app.options import Options

#: Entries of a client's header map at most (listed or not).
MAX_GIVEN = 64
#: Characters of one value at most.
MAX_VALUE = 8192
#: Names the option cannot list: the hook's own request framing.
RESERVED = frozenset({"content-type", "content-length", "host", "transfer-encoding", "connection",
                      "keep-alive", "upgrade", "te", "trailer", "expect"})

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
#: anything but visible ASCII, space and tab (no CR, LF, NUL; no text an
#: HTTP client would have to encode: libcurl takes ASCII only)
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e]")

Pairs = tuple[tuple[str, str], ...]


class BadHeaders(ValueError):
    """The client's header map is past a bound or not writable as headers."""


def valid_name(name: str) -> bool:
    return bool(_TOKEN.fullmatch(name))


def emulated_names(options: Options) -> frozenset[str]:
    """The lower-cased names of ``proxy_emulated_headers`` (comma-separated)."""
    return frozenset(n.strip().lower() for n in options.proxy_emulated_headers.split(",") if n.strip())


def pick(given: Mapping[str, str], wanted: frozenset[str]) -> Pairs:
    """The entries of ``given`` whose names are ``wanted``, checked (see
    the module docstring); () when nothing is wanted."""
    if not wanted or not given:
        return ()
    if len(given) > MAX_GIVEN:
        raise BadHeaders(f"more than {MAX_GIVEN} headers")
    picked = []
    for name, value in given.items():
        if name.lower() not in wanted:
            continue
        if not valid_name(name) or len(value) > MAX_VALUE or _BAD_VALUE.search(value):
            raise BadHeaders("a header name or value that cannot be sent")
        picked.append((name, value))
    return tuple(sorted(picked))


def merged(real: Pairs, emulated: Pairs) -> Pairs:
    """The transport's headers, then the emulated ones it does not carry
    (a header set by the real request, e.g. by a reverse proxy, wins)."""
    if not emulated:
        return real
    have = {name.lower() for name, _ in real}
    return real + tuple(pair for pair in emulated if pair[0].lower() not in have)
