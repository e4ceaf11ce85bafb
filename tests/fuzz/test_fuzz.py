"""The seeded fuzz suite: a few thousand cases per entry point against one
real sockhub (tests/fuzz/generators.py makes them, tests/fuzz/drive.py sends
and judges them; bench/fuzz.py runs the same with 100,000+).

After each entry point: no violation (a bare EOF, a hang, a close reason
that is Python's text, ``internal server error``, a 5xx), no traceback or
ERROR line in the server's log, and the node's clients, subscriptions,
channels and sessions back to what they were before.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

import pytest

from tests.fuzz import drive, generators as gen
from tests.fuzz.emulation_drive import fuzz_v2_emulation
from tests.fuzz.entries import ENTRY_POINTS, Fuzzer
from tests.support.server import SockhubProcess, run_sockhub

SEED = 20261202
CONFIG_CASES = 1500


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SockhubProcess]:
    process = SockhubProcess(tmp_path_factory.mktemp("fuzz"), gen.SERVER_CONFIG, name="fuzz")
    with process:
        yield process


def assert_clean(tally: drive.Tally, hub: SockhubProcess, baseline: dict[str, int]) -> None:
    assert tally.cases >= 1000, tally.summary()
    assert not tally.violations, (tally.summary(), tally.examples)
    assert tally.status_5xx == 0, tally.summary()
    assert drive.log_problems(hub.logs()) == []
    after = drive.wait_for_counts(hub.url, baseline)
    assert {k: v for k, v in after.items() if v > baseline.get(k, 0)} == {}, (baseline, after)


@pytest.mark.async_timeout(120)
@pytest.mark.parametrize("fuzz, cases", [(e.fuzz, e.test_cases) for e in ENTRY_POINTS],
                         ids=[e.name for e in ENTRY_POINTS])
async def test_entry_point(hub: SockhubProcess, fuzz: Fuzzer, cases: int) -> None:
    baseline = drive.counts(hub.url)
    tally = await fuzz(hub.port, random.Random(SEED), cases)
    assert_clean(tally, hub, baseline)


def test_the_cases_are_hostile_and_varied(hub: SockhubProcess) -> None:
    """The generators reach what issue 11 saw (so a clean run means something):
    most websocket cases end in a close, some stay open, and the xhr_send,
    HTTP and API cases get a spread of statuses."""
    import asyncio

    raw = asyncio.run(drive.fuzz_raw_ws(hub.port, random.Random(SEED + 1), 400))
    assert raw.outcomes["closed"] > 200 and raw.outcomes["alive"] > 10, raw.summary()
    v2 = asyncio.run(drive.fuzz_v2_ws(hub.port, random.Random(SEED + 1), 400))
    assert v2.outcomes["closed"] > 100 and v2.outcomes["alive"] > 20, v2.summary()
    v2_sockjs = asyncio.run(drive.fuzz_v2_sockjs_ws(hub.port, random.Random(SEED + 1), 400))
    assert v2_sockjs.outcomes["closed"] > 100 and v2_sockjs.outcomes["alive"] > 20, v2_sockjs.summary()
    v1 = asyncio.run(drive.fuzz_v1_ws(hub.port, random.Random(SEED + 1), 400))
    assert v1.outcomes["closed"] > 100 and v1.outcomes["alive"] > 20, v1.summary()
    old_api = asyncio.run(drive.fuzz_centrifugo2_api(hub.port, random.Random(SEED + 1), 400))
    assert old_api.outcomes["status 400"] > 50 and old_api.outcomes["status 200"] > 50, old_api.summary()
    api = asyncio.run(drive.fuzz_api(hub.port, random.Random(SEED + 1), 400))
    assert api.outcomes["status 400"] > 100 and api.outcomes["status 200"] > 50, api.summary()
    emulation = asyncio.run(fuzz_v2_emulation(hub.port, random.Random(SEED + 1), 400))
    assert emulation.outcomes["alive"] > 50 and sum(
        n for k, n in emulation.outcomes.items() if k.startswith("closed")) > 50, emulation.summary()
    current = asyncio.run(drive.fuzz_current_api(hub.port, random.Random(SEED + 1), 400))
    assert current.outcomes["status 400"] > 100 and current.outcomes["status 200"] > 50, current.summary()


def test_config_files_through_the_loader(tmp_path: Path) -> None:
    tally = drive.fuzz_configs(random.Random(SEED), CONFIG_CASES, tmp_path)
    assert not tally.violations, (tally.summary(), tally.examples)
    assert tally.outcomes["ConfigError"] > CONFIG_CASES // 3 and tally.outcomes["ok"] > 50, tally.summary()


def test_config_files_through_checkconfig(tmp_path: Path) -> None:
    """A sample through the real command: exit 0 or 2, one line, no traceback."""
    rng = random.Random(SEED)
    for index in range(8):
        suffix, data = gen.config_file(rng)
        path = tmp_path / f"c{index}{suffix}"
        path.write_bytes(data)
        result = run_sockhub(["checkconfig", str(path)])
        assert drive.checkconfig_violation(result.returncode, result.stdout, result.stderr) == "", result
