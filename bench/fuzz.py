"""The fuzz suite at scale: every entry point against a sockhub it starts (prints figures; not a test).

    .venv/bin/python bench/fuzz.py [--cases 100000] [--seed 1] [--concurrency 4]

``--cases`` is the total, shared evenly by the entry points: every server
entry point of tests/fuzz/entries.py (client frames of the 1.x, v1 and v2
dialects over the raw websocket, /connection/sockjs and the v2 emulation,
xhr_send/jsonp_send bodies, HTTP requests under /connection, the three API
styles' bodies) and config files (through the loader; a sample through
``sockhub checkconfig``).
The cases are those of tests/fuzz (tests/fuzz/generators.py, judged by
tests/fuzz/drive.py), drawn from ``random.Random(seed)``.  Printed per entry
point: cases, violations (bare EOF, hang, a close reason that is not ours,
``internal server error``, no status), 5xx answers and seconds; then the
server log's tracebacks and ERROR lines, and the node's clients,
subscriptions, channels and sessions against their baseline.  Exit status 1
when anything was found.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz import drive, generators as gen  # noqa: E402
from tests.fuzz.entries import ENTRY_POINTS  # noqa: E402
from tests.support.server import SockhubProcess, run_sockhub  # noqa: E402

SERVER_FUZZERS = tuple(entry.fuzz for entry in ENTRY_POINTS)
CHECKCONFIG_SAMPLE = 50


def checkconfig_sample(rng: random.Random, n: int, directory: Path) -> drive.Tally:
    """Config files through the real command (judged as tests/fuzz judges them)."""
    tally = drive.Tally("sockhub checkconfig")
    started = time.monotonic()
    for index in range(n):
        suffix, data = gen.config_file(rng)
        path = directory / f"check{index}{suffix}"
        path.write_bytes(data)
        result = run_sockhub(["checkconfig", str(path)])
        violation = drive.checkconfig_violation(result.returncode, result.stdout, result.stderr)
        tally.note(f"exit {result.returncode}", violation, data)
    tally.seconds = time.monotonic() - started
    return tally


def run(cases: int, seed: int, concurrency: int) -> int:
    per_entry = max(1, cases // (len(SERVER_FUZZERS) + 1))
    tallies: list[drive.Tally] = []
    with tempfile.TemporaryDirectory() as tmp, SockhubProcess(Path(tmp), gen.SERVER_CONFIG, name="fuzz") as hub:
        baseline = drive.counts(hub.url)
        print(f"sockhub on port {hub.port}, {per_entry} cases per entry point, seed {seed}", flush=True)
        for index, fuzz in enumerate(SERVER_FUZZERS):
            tally = asyncio.run(fuzz(hub.port, random.Random(seed + index), per_entry, concurrency))
            tallies.append(tally)
            print(tally.summary(), flush=True)
        after = drive.wait_for_counts(hub.url, baseline)
        tallies.append(drive.fuzz_configs(random.Random(seed + 10), per_entry, Path(tmp)))
        print(tallies[-1].summary(), flush=True)
        tallies.append(checkconfig_sample(random.Random(seed + 11), CHECKCONFIG_SAMPLE, Path(tmp)))
        print(tallies[-1].summary(), flush=True)
        problems = drive.log_problems(hub.logs())
    return report(tallies, problems, baseline, after)


def report(tallies: list[drive.Tally], problems: list[str], baseline: dict[str, int],
           after: dict[str, int]) -> int:
    total = sum(t.cases for t in tallies)
    violations = sum(sum(t.violations.values()) for t in tallies)
    print(f"\ntotal: {total} cases in {sum(t.seconds for t in tallies):.0f} s, {violations} violations, "
          f"{sum(t.status_5xx for t in tallies)} 5xx, "
          f"{sum('Traceback' in line for line in problems)} tracebacks, {len(problems)} log problems")
    print(f"counts before {baseline}\ncounts after  {after}")
    for tally in tallies:
        for example in tally.examples:
            print(f"  {tally.name}: {example}")
    for line in problems[:20]:
        print("  log:", line[:300])
    leaked = {k: v for k, v in after.items() if v > baseline.get(k, 0)}
    return 1 if violations or problems or leaked else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="in all (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="connections at a time")
    args = parser.parse_args()
    sys.exit(run(args.cases, args.seed, args.concurrency))


if __name__ == "__main__":
    main()
