"""The server entry points of the fuzz suite, in one table read by both
tests/fuzz/test_fuzz.py (a few thousand cases each) and bench/fuzz.py
(100,000+ in all), so the two cannot cover different sets."""
from __future__ import annotations

from typing import Awaitable, Callable, NamedTuple

from tests.fuzz import drive
from tests.fuzz.emulation_drive import fuzz_v2_emulation

Fuzzer = Callable[..., Awaitable[drive.Tally]]


class Entry(NamedTuple):
    name: str
    fuzz: Fuzzer
    test_cases: int


ENTRY_POINTS = (
    Entry("raw_websocket", drive.fuzz_raw_ws, 3000),
    Entry("sockjs_websocket", drive.fuzz_sockjs_ws, 3000),
    Entry("xhr_send", drive.fuzz_xhr_send, 2000),
    Entry("http_transports", drive.fuzz_http, 3000),
    Entry("api", drive.fuzz_api, 3000),
    Entry("v2_websocket", drive.fuzz_v2_ws, 2000),
    Entry("current_api", drive.fuzz_current_api, 3000),
    Entry("v2_emulation", fuzz_v2_emulation, 1500),
    Entry("v1_websocket", drive.fuzz_v1_ws, 2000),
    Entry("centrifugo2_api", drive.fuzz_centrifugo2_api, 2000),
    Entry("v2_sockjs_websocket", drive.fuzz_v2_sockjs_ws, 2000),
    Entry("v2_sockjs_xhr_send", drive.fuzz_v2_sockjs_xhr, 1500),
)
