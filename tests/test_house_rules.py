"""`make test` enforces the house rules (issue 12): ruff, mypy --strict on
app/ and transports/, the suite, and a coverage floor, each failing the run.

The configuration is read where the tools read it; scripts/pytest.sh runs
against stand-ins of the three tools (in a copy of the script's layout) that
fail on demand, so each rule is seen failing the run without running the
real tools here."""
from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: run scripts/pytest.sh with these arguments and tools' exit codes: (its status, the tools' calls)
Checks = Callable[..., tuple[int, list[str]]]


def test_ci_and_make_test_run_the_checks_script() -> None:
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe is not None and recipe.group(1).startswith("bash scripts/pytest.sh")


def test_the_tools_are_configured_strict() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg.getboolean("mypy", "strict")
    assert {"app", "transports"} <= {f.strip() for f in cfg.get("mypy", "files").split(",")}
    # only protoc's output may be exempt from mypy
    exempt = [s for s in cfg.sections() if s.startswith("mypy-") and cfg.getboolean(s, "ignore_errors", fallback=False)]
    assert all(m.strip().endswith("_pb2") for s in exempt for m in s[len("mypy-"):].split(","))
    assert cfg.getfloat("coverage:report", "fail_under") >= 90
    assert {"app", "transports"} <= {f.strip() for f in cfg.get("coverage:run", "source").split(",")}
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert {"E", "F"} <= set(ruff["lint"]["select"])


STUB = """#!/usr/bin/env bash
echo "{name} $*" >> "$STUB_LOG"
case "{name} $1" in
  "ruff "*) exit "${{RUFF_RC:-0}}" ;;
  "mypy "*) exit "${{MYPY_RC:-0}}" ;;
  "coverage run") exit "${{PYTEST_RC:-0}}" ;;
  "coverage report") exit "${{REPORT_RC:-0}}" ;;
esac
exit 0
"""


@pytest.fixture
def checks(tmp_path: Path) -> Checks:
    """Run a copy of scripts/pytest.sh over stand-in tools: (exit status, the tools' calls)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "pytest.sh", tmp_path / "scripts" / "pytest.sh")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("ruff", "mypy", "coverage"):
        (bin_dir / name).write_text(STUB.format(name=name))
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls"

    def run(*args: str, **rcs: int) -> tuple[int, list[str]]:
        log.write_text("")
        env = dict(os.environ, STUB_LOG=str(log), **{k.upper(): str(v) for k, v in rcs.items()})
        done = subprocess.run(["bash", str(tmp_path / "scripts" / "pytest.sh"), *args], env=env,
                              capture_output=True, text=True, timeout=60)
        return done.returncode, [" ".join(line.split(" ")[:2]).strip() for line in log.read_text().splitlines()]

    return run


def test_a_clean_run_passes_every_step(checks: Checks) -> None:
    rc, calls = checks()
    assert rc == 0
    assert calls == ["ruff check", "mypy", "coverage run", "coverage combine", "coverage report", "coverage report"]


@pytest.mark.parametrize("failing", ["ruff_rc", "mypy_rc", "pytest_rc", "report_rc"])
def test_each_check_fails_the_run(checks: Checks, failing: str) -> None:
    rc, calls = checks(**{failing: 1})
    assert rc != 0, f"{failing}: scripts/pytest.sh passed with it failing"
    if failing == "ruff_rc":
        assert calls == ["ruff check"]  # nothing after a lint failure
    if failing == "mypy_rc":
        assert calls == ["ruff check", "mypy"]


def test_a_run_that_collects_nothing_fails(checks: Checks) -> None:
    assert checks(pytest_rc=5)[0] != 0


def test_the_coverage_floor_applies_to_the_whole_suite_only(checks: Checks) -> None:
    rc, calls = checks("tests/test_smoke.py", report_rc=2)
    assert rc == 0 and "coverage report" not in calls
