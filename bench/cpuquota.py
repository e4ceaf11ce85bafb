"""Give each of some processes the same slice of a CPU, as if each had a small machine of its own.

bench/cluster_fanout.py uses it for the nodes: on a machine with fewer cores
than nodes + load client, "two nodes against one" otherwise measures how the
nodes and the load client share the cores, not what a node adds.  Each process
gets its own cgroup (v1 ``cpu`` controller, or v2) with a CFS quota of
``cores`` of one CPU per ``period_us``; the kernel throttles it beyond that.
Needs root and a writable cgroup filesystem; :func:`available` tells.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup/unified")


def _root() -> tuple[Path, int] | None:
    """The cgroup directory to make groups under and its version, if writable."""
    if (V1 / "cpu.cfs_quota_us").exists() and os.access(V1, os.W_OK):
        return V1, 1
    for base in (V2, Path("/sys/fs/cgroup")):
        if "cpu" in _read(base / "cgroup.subtree_control").split() and os.access(base, os.W_OK):
            return base, 2
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def available() -> bool:
    return _root() is not None


@contextlib.contextmanager
def cpu_quota(pids: list[int], cores: float, period_us: int = 10_000) -> Iterator[None]:
    """Each pid (with all its threads) limited to ``cores`` CPUs while the block runs."""
    found = _root()
    if found is None:
        raise RuntimeError("no writable cgroup cpu controller (needs root): run without --node-cpu")
    base, version = found
    quota = max(1000, round(cores * period_us))
    groups: list[Path] = []
    try:
        for pid in pids:
            group = base / f"sockhub-bench-{pid}"
            group.mkdir(exist_ok=True)
            groups.append(group)
            if version == 1:
                (group / "cpu.cfs_period_us").write_text(str(period_us))
                (group / "cpu.cfs_quota_us").write_text(str(quota))
            else:
                (group / "cpu.max").write_text(f"{quota} {period_us}")
            (group / "cgroup.procs").write_text(str(pid))
        yield
    finally:
        for group in groups:
            for pid in _read(group / "cgroup.procs").split():  # still running: back to the root group
                with contextlib.suppress(OSError):
                    (base / "cgroup.procs").write_text(pid)
            with contextlib.suppress(OSError):
                group.rmdir()

