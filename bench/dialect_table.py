"""The dialect rows of bench/run.py (``--group dialects``, issue 13): one
sockhub, its raw websocket spoken as the 1.x protocol and as protocols v2
and v1 (issue 17) in JSON and protobuf, and the targets: v2 and v1 within
10% of the 1.x path's deliveries/s in the same run, protobuf at least 30%
fewer bytes than JSON."""
from __future__ import annotations

from bench.report import Check, Summary, fmt, get, lost_text
from bench.servers import DIALECT_CLIENTS, LABELS

ONE_X = "sockhub-1x-raw"
V2 = ("sockhub-v2-json", "sockhub-v2-protobuf")
V1 = ("sockhub-v1-json", "sockhub-v1-protobuf")

COLUMNS: list[tuple[str, str, str]] = [
    ("1k, 10 msg/s: p99 ms", "p99_1k", "p99_ms"),
    ("1k burst: deliveries/s", "burst_1k", "deliveries_per_s"),
    ("(p99 ms)", "burst_1k", "p99_ms"),
    ("5k burst: deliveries/s", "burst_5k", "deliveries_per_s"),
    ("(p99 ms)", "burst_5k", "p99_ms"),
    ("bytes/delivery (100 B text)", "p99_1k", "bytes_per_delivery"),
    ("(20 B text)", "small_1k", "bytes_per_delivery"),
    ("(5k burst, merged)", "burst_5k", "bytes_per_delivery"),
    ("CPU µs/delivery (5k burst)", "burst_5k", "cpu_us"),
]


def present(summary: Summary) -> bool:
    return any(name in per for per in summary.values() for name in DIALECT_CLIENTS)


def rows(summary: Summary) -> tuple[list[str], list[list[str]]]:
    servers = [s for s in ("sockhub", *DIALECT_CLIENTS) if any(s in per for per in summary.values())]
    header = ["server"] + [c[0] for c in COLUMNS] + ["lost"]
    return header, [[LABELS[s]] + [fmt(get(summary, sc, s, m), m) for _, sc, m in COLUMNS]
                    + [lost_text(summary, s)] for s in servers]


def checks(summary: Summary) -> list[Check]:
    out: list[Check] = []
    for scenario in ("burst_1k", "burst_5k"):
        base = get(summary, scenario, ONE_X, "deliveries_per_s")
        for server in (*V2, *V1):
            mine = get(summary, scenario, server, "deliveries_per_s")
            if mine is None and server in V1:
                continue  # a run without the v1 rows
            ratio = None if mine is None or not base else mine / base
            out.append((f"{scenario}: {LABELS[server]} >= 0.9x the 1.x path",
                        "-" if ratio is None else f"{fmt(mine, 'deliveries_per_s')} vs "
                        f"{fmt(base, 'deliveries_per_s')}/s = {ratio:.2f}x",
                        None if ratio is None else ratio >= 0.9))
    for scenario, text in (("small_1k", "20 B"), ("p99_1k", "100 B")):
        json_bytes = get(summary, scenario, V2[0], "bytes_per_delivery")
        pb_bytes = get(summary, scenario, V2[1], "bytes_per_delivery")
        ratio = None if json_bytes is None or pb_bytes is None else pb_bytes / json_bytes
        out.append((f"protobuf frames >= 30% smaller than JSON ({text} text)",
                    "-" if ratio is None else f"{pb_bytes:.0f} vs {json_bytes:.0f} B = {ratio:.2f}x",
                    None if ratio is None else ratio <= 0.7))
    return out
