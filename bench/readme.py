"""Regenerates the "Performance" section of README.md from bench/results/.

    .venv/bin/python bench/readme.py [--tag TAG] [--check]

Every results file of one campaign (``bench/run.py --tag TAG``; default: the
tag of the newest full-scale file) is merged: the runs of each scenario and
server are pooled and their medians taken again, so a campaign may be run
as several invocations, each under the shared lock and ~10 minutes.  The
section between the two markers below is replaced (appended at the end the
first time).  --check prints the section instead of writing it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import cluster_table, peer_rows, render_markdown, target_rows, verdict  # noqa: E402
from bench.run import RESULTS, medians  # noqa: E402
from bench.scenarios import SCENARIOS  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- bench/readme.py: generated from bench/results, do not edit by hand -->"
END = "<!-- end of bench/readme.py -->"


def campaign(tag: str | None) -> tuple[str, list[dict[str, Any]]]:
    docs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    docs = [d for d in docs if d.get("scale") == 1.0]
    if not docs:
        raise SystemExit("no full-scale results in bench/results (run bench/run.py first)")
    tag = tag or docs[-1].get("tag") or docs[-1]["date"]
    chosen = [d for d in docs if (d.get("tag") or d["date"]) == tag]
    return tag, chosen


def pooled(docs: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every run of the campaign, by scenario and server."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for doc in docs:
        for scenario, per in doc["raw"].items():
            for server, runs in per.items():
                out.setdefault(scenario, {}).setdefault(server, []).extend(runs)
    return out


def cluster_part(tag: str) -> list[str]:
    """The two-node tables of the campaign (bench/cluster_fanout.py --out), if they ran: the verdict
    from the run with a CPU quota per node, then the same load with nothing limited."""
    path = RESULTS / f"cluster-{tag}.json"
    if not path.exists():
        return ["Two nodes through Redis against one: `bench/cluster_fanout.py` (not run in this campaign)."]
    doc = json.loads(path.read_text())
    header, rows, (text, value, met) = cluster_table(doc)
    limit = doc.get("node_cpu") or 0
    how = ("the limit is each node's own cgroup CPU quota while the messages flow, "
           "as if each had a small machine of its own, so that the nodes are the limit and not the load "
           f"client that shares their {doc['cores']} cores; \"node cores used\" shows whether they ran at "
           "their quota" if limit else
           f"nodes, redis-server and the load client share the {doc['cores']} cores, unpinned")
    out = [
        f"Two nodes through Redis against one ({doc['title']}; every message goes node 0 -> Redis -> "
        f"each node -> its subscribers, clients split over the nodes; {how}; the ceiling is cores / the "
        "three CPU costs per delivery):",
        "",
        render_markdown(header, rows),
        "",
        f"{text}: **{value}** ({verdict(met)}). `{doc['command']}`",
        "",
    ]
    shared = RESULTS / f"cluster-{tag}-shared.json"
    if shared.exists():
        other = json.loads(shared.read_text())
        header, rows, (text, value, _) = cluster_table(other)
        one = next((r for r in other["rows"] if r["nodes"] == 1), None)
        client_cores = (one["client_cpu_us"] or 0) * one["deliveries_per_s"] / 1e6 if one else 0.0
        out += [
            f"The same load with nothing limited ({other['title']}): nodes, redis-server and the load client "
            f"share the {other['cores']} cores, and at the one-node rate the load client alone spends "
            f"{client_cores:.2f} of them, so the ceiling of this machine, not sockhub, limits both runs "
            f"({value}). `{other['command']}`",
            "",
            render_markdown(header, rows),
            "",
        ]
    return out


def section(tag: str, docs: list[dict[str, Any]]) -> str:
    runs = pooled(docs)
    summary = {sc: {srv: medians(rs) for srv, rs in per.items()} for sc, per in runs.items()}
    header, rows = peer_rows(summary)
    checks = [[t, v, verdict(m)] for t, v, m in target_rows(summary)]
    reps = sorted({len(rs) for per in runs.values() for rs in per.values()})
    commands = sorted({d["command"] for d in docs})
    loads = [f"{d['load_before'][0]:.1f}" for d in docs]
    scenarios = [f"`{n}`: {SCENARIOS[n].title}" for n in SCENARIOS if n in summary]
    return "\n".join([
        START,
        f"Campaign `{tag}` on this repository's machine (2 cores, shared with other work: load average "
        f"{', '.join(loads)} when the runs began). Each figure is the median of {'/'.join(map(str, reps))} "
        "runs; every server is started fresh for each run, the servers take turns within each repetition, "
        "the server is pinned to CPU 1 and the Node `ws` load client to CPU 0. sockhub runs its full stack "
        "(HMAC tokens, Centrifugo protocol over SockJS websocket, publishes through the HTTP API); the peers "
        "run a plain broadcast (bench/peers/). 100-byte messages, 200 per run.",
        "",
        render_markdown(header, rows),
        "",
        render_markdown(["target (issue 6)", "sockhub", "verdict"], checks),
        "",
        "Scenarios: " + "; ".join(scenarios) + ". The API scenarios subscribe client i to its own "
        "channel and publish round-robin over them (one delivery per message). At 1k connections and "
        "100 msg/s the offered load is 100k deliveries/s: no server can show more there, so the 1k "
        "throughput ratios are taken from the 1k burst (xhr-streaming and eventsource are compared "
        "with it too).",
        "",
        *cluster_part(tag),
        "",
        "Reproduce (`make bench` installs the peers; `bash bench/campaign.sh` runs all of these):",
        "",
        "```sh",
        *commands,
        ".venv/bin/python bench/readme.py",
        "```",
        END,
    ])


def write(text: str) -> None:
    readme = README.read_text()
    if START in readme and END in readme:
        before, rest = readme.split(START, 1)
        after = rest.split(END, 1)[1]
        README.write_text(before + text + after)
    else:
        README.write_text(readme.rstrip("\n") + "\n\n## Performance\n\n" + text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    tag, docs = campaign(args.tag)
    text = section(tag, docs)
    if args.check:
        print(text)
    else:
        write(text)
        print(f"README.md: Performance section from {len(docs)} results file(s) of campaign {tag}")


if __name__ == "__main__":
    main()
