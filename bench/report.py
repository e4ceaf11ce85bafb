"""Turns bench/run.py's medians into the peer table and the targets of issue 6
(as text for the terminal, as Markdown for the README)."""
from __future__ import annotations

from typing import Any, Callable

from bench.servers import LABELS

Summary = dict[str, dict[str, dict[str, Any]]]

PEER_COLUMNS: list[tuple[str, str, str]] = [
    # (header, scenario, metric)
    ("1k, 10 msg/s: p99 ms", "p99_1k", "p99_ms"),
    ("1k, 100 msg/s: deliveries/s", "rate_1k", "deliveries_per_s"),
    ("(p99 ms)", "rate_1k", "p99_ms"),
    ("1k burst: deliveries/s", "burst_1k", "deliveries_per_s"),
    ("5k burst: deliveries/s", "burst_5k", "deliveries_per_s"),
    ("10k, 100 msg/s: deliveries/s", "rate_10k", "deliveries_per_s"),
    ("(p99 ms)", "rate_10k", "p99_ms"),
    ("CPU µs/delivery (1k, 100/s)", "rate_1k", "cpu_us"),
    ("(5k burst)", "burst_5k", "cpu_us"),
    ("KiB/idle conn (10k)", "rate_10k", "rss_kib"),
    ("10k connect s", "rate_10k", "connect_s"),
]


def get(summary: Summary, scenario: str, server: str, metric: str) -> float | None:
    value = summary.get(scenario, {}).get(server, {}).get(metric)
    return None if value is None else float(value)


def fmt(value: float | None, metric: str = "") -> str:
    if value is None:
        return "-"
    if metric in ("deliveries_per_s", "api_requests_per_s", "api_messages_per_s"):
        return f"{value / 1000:.1f}k"
    if metric in ("p99_ms", "p50_ms"):
        return f"{value:.0f}" if value >= 100 else f"{value:.1f}"  # a decimal where a 25 ms target is judged
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def lost_text(summary: Summary, server: str) -> str:
    lost = [per[server].get("lost_max", 0) for per in summary.values() if server in per]
    return str(int(sum(lost))) if lost else "-"


def peer_rows(summary: Summary) -> tuple[list[str], list[list[str]]]:
    servers = [s for s in LABELS if any(s in per for per in summary.values())]
    header = ["server"] + [c[0] for c in PEER_COLUMNS] + ["lost"]
    rows = [[LABELS[s]] + [fmt(get(summary, sc, s, m), m) for _, sc, m in PEER_COLUMNS] + [lost_text(summary, s)]
            for s in servers]
    return header, rows


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


Check = tuple[str, str, bool | None]


def _fanout_checks(s: Summary) -> list[Check]:
    out: list[Check] = []
    # 1k: the burst for throughput (100 msg/s offers only 100k deliveries/s),
    # and p99 under the steady 100 msg/s as well
    for scenario, label in (("burst_1k", "1k burst"), ("burst_5k", "5k burst"), ("rate_10k", "10k")):
        mine = get(s, scenario, "sockhub", "deliveries_per_s")
        for peer, need in (("sockjs-node", 1.2), ("sockjs-tornado", 4.0)):
            r = _ratio(mine, get(s, scenario, peer, "deliveries_per_s"))
            out.append((f"{label}: deliveries/s >= {need}x {peer}",
                        f"{fmt(mine, 'deliveries_per_s')}/s = {r:.2f}x" if r else "-",
                        None if r is None else r >= need))
        p99, ref = get(s, scenario, "sockhub", "p99_ms"), get(s, scenario, "sockjs-node", "p99_ms")
        out.append((f"{label}: p99 <= sockjs-node's", f"{fmt(p99, 'p99_ms')} vs {fmt(ref, 'p99_ms')} ms",
                    None if p99 is None or ref is None else p99 <= ref))
        lost = s.get(scenario, {}).get("sockhub", {}).get("lost_max")
        out.append((f"{label}: nothing lost", "-" if lost is None else str(int(lost)),
                    None if lost is None else lost == 0))
    p99, ref = get(s, "rate_1k", "sockhub", "p99_ms"), get(s, "rate_1k", "sockjs-node", "p99_ms")
    out.append(("1k, 100 msg/s: p99 <= sockjs-node's", f"{fmt(p99, 'p99_ms')} vs {fmt(ref, 'p99_ms')} ms",
                None if p99 is None or ref is None else p99 <= ref))
    lost = s.get("rate_1k", {}).get("sockhub", {}).get("lost_max")
    out.append(("1k, 100 msg/s: nothing lost", "-" if lost is None else str(int(lost)),
                None if lost is None else lost == 0))
    p99 = get(s, "p99_1k", "sockhub", "p99_ms")
    out.append(("1k, 10 msg/s: p99 <= 25 ms", fmt(p99, "p99_ms") + " ms", None if p99 is None else p99 <= 25))
    return out


def _at_most(s: Summary, text: str, scenario: str, metric: str, limit: float, unit: str) -> Check:
    value = get(s, scenario, "sockhub", metric)
    return text, ("-" if value is None else f"{fmt(value, metric)} {unit}"), None if value is None else value <= limit


def _at_least(s: Summary, text: str, scenario: str, metric: str, limit: float, unit: str) -> Check:
    value = get(s, scenario, "sockhub", metric)
    return text, ("-" if value is None else f"{fmt(value, metric)} {unit}"), None if value is None else value >= limit


def _http_check(s: Summary, scenario: str, label: str) -> Check:
    mine, ws = get(s, scenario, "sockhub", "deliveries_per_s"), get(s, "burst_1k", "sockhub", "deliveries_per_s")
    r = _ratio(mine, ws)
    return (f"{label} fan-out to 1k within 2x of websocket",
            f"{fmt(mine, 'deliveries_per_s')} vs {fmt(ws, 'deliveries_per_s')}/s = {r:.2f}x" if r else "-",
            None if r is None else r >= 0.5)


def target_rows(s: Summary) -> list[Check]:
    """Every target of issue 6 that bench/run.py measures: (target, value, met)."""
    burst_cpu = get(s, "burst_5k", "sockhub", "cpu_us")
    rows = _fanout_checks(s) + [
        _at_most(s, "CPU per delivery <= 8 µs (one message per frame: 1k, 100/s)", "rate_1k", "cpu_us", 8, "µs"),
        ("CPU per delivery, tick-merged frames (5k burst): far less", fmt(burst_cpu) + " µs", None),
        _at_most(s, "RSS per idle SockJS-websocket conn <= 10 KiB at 10k", "rate_10k", "rss_kib", 10, "KiB"),
        _at_most(s, "RSS per idle SockJS-websocket conn <= 10 KiB at 20k", "idle_20k", "rss_kib", 10, "KiB"),
        _http_check(s, "xhr_1k", "xhr-streaming"),
        _http_check(s, "es_1k", "eventsource"),
        _at_least(s, "HTTP API >= 5k publish requests/s (1k subscribers)", "api_1k", "api_requests_per_s",
                  5000, "req/s"),
        _at_least(s, "API batch of 100 >= 50k messages/s", "batch_1k", "api_messages_per_s", 50000, "msg/s"),
        _at_most(s, "connect storm: 10k connected+subscribed <= 5 s", "rate_10k", "connect_s", 5, "s"),
    ]
    cf = get(s, "rate_10k", "centrifuge-0.8", "connect_s")
    if cf is not None:
        rows.append(("(Centrifuge 0.8.4 connect storm, 10k)", f"{cf:.1f} s", None))
    return rows


def cluster_table(doc: dict[str, Any]) -> tuple[list[str], list[list[str]], Check]:
    """bench/cluster_fanout.py's rows as a table, and the two-node target."""
    header = ["nodes", "deliveries/s", "p99 ms", "lost", "CPU µs/delivery: nodes", "redis", "load client",
              "ceiling of this machine", "node cores used"]
    rows = [[str(r["nodes"]), fmt(r["deliveries_per_s"], "deliveries_per_s"), fmt(r["p99_ms"], "p99_ms"),
             str(int(r["lost"])), fmt(r["cpu_us"]), fmt(r["redis_cpu_us"]), fmt(r["client_cpu_us"]),
             fmt(r["ceiling_per_s"], "deliveries_per_s"),
             "-" if r.get("node_cores") is None else f"{r['node_cores']:.2f}"] for r in doc["rows"]]
    by_nodes = {r["nodes"]: r["deliveries_per_s"] for r in doc["rows"]}
    r = _ratio(by_nodes.get(2), by_nodes.get(1))
    check: Check = ("two nodes through Redis >= 1.6x one node", f"{r:.2f}x" if r else "-",
                    None if r is None else r >= 1.6)
    return header, rows, check


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "-"}[met]


def render_text(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line: Callable[[list[str]], str] = lambda r: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), *(line(r) for r in rows)])


def render_markdown(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def print_tables(summary: Summary) -> None:
    from bench import dialect_table  # it imports this module

    if dialect_table.present(summary):
        header, rows = dialect_table.rows(summary)
        print(render_text(header, rows))
        print()
        checks = [[t, v, verdict(m)] for t, v, m in dialect_table.checks(summary)]
        print(render_text(["target (issue 13)", "measured", "verdict"], checks))
        return
    header, rows = peer_rows(summary)
    print(render_text(header, rows))
    print()
    checks = [[t, v, verdict(m)] for t, v, m in target_rows(summary)]
    print(render_text(["target (issue 6)", "sockhub", "verdict"], checks))
