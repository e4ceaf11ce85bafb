"""A real ``sockhub`` process for integration tests.

    with SockhubProcess(tmp_path, {"secret": "s", "presence": True}) as hub:
        urllib.request.urlopen(hub.url + "/health")
        ...
    assert hub.returncode == 0

It writes the config to a JSON file in ``tmp_path``, starts
``.venv/bin/sockhub --config FILE --port P --address 127.0.0.1 [args...]`` on a
free port, waits until ``/health`` answers 200, and on exit stops the process
with SIGTERM (SIGKILL after ``stop_timeout``).  Everything it printed is in
``hub.logs()`` (and shown in the assertion message when it fails to start).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Mapping, Sequence

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SOCKHUB = ROOT / ".venv" / "bin" / "sockhub"
#: Short timings suitable for tests; a test overrides any of them in its config.
FAST_TIMINGS: dict[str, Any] = {"shutdown_timeout": 5}


class SockhubProcess:
    """One sockhub subprocess on a free port (see the module docstring)."""

    def __init__(self, tmp_path: Path, config: Mapping[str, Any] | None = None,
                 args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 port: int | None = None, start_timeout: float = 20.0,
                 stop_timeout: float = 15.0, name: str = "sockhub", cwd: Path | None = None,
                 config_flag: bool = True) -> None:
        self.tmp_path = Path(tmp_path)
        self.config = {**FAST_TIMINGS, **(config or {})}
        self.args = list(args)
        self.env = dict(env or {})
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.name = name
        self.config_path = self.tmp_path / f"{name}-{self.port}.json"
        self.log_path = self.tmp_path / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        #: where it runs (the checkout by default); without ``config_flag`` no
        #: config file is written nor given (the server looks for ./config.json)
        self.cwd = cwd or ROOT
        self.config_flag = config_flag

    # -- addresses ---------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/connection/websocket"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # -- life cycle --------------------------------------------------------
    def start(self) -> "SockhubProcess":
        config: list[str] = []
        if self.config_flag:
            self.config_path.write_text(json.dumps(self.config))
            config = ["--config", str(self.config_path)]
        command = [str(SOCKHUB), *config, "--port", str(self.port), "--address", "127.0.0.1", *self.args]
        env = {**os.environ, **self.env}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=str(self.cwd))
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        """Until GET /health is 200; fails with the server's output if it exits."""
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.logs()}")
            if self.health() == 200:
                return
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"{self.name} not healthy after {self.start_timeout}s:\n{self.logs()}")

    def health(self) -> int | None:
        """The status of GET /health, or None when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        self.returncode = self.proc.wait(timeout if timeout is not None else self.stop_timeout)
        return self.returncode

    def stop(self) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit in ``stop_timeout``."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "SockhubProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_sockhub(args: Sequence[str], env: Mapping[str, str] | None = None,
                timeout: float = 30.0, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a short sockhub command (genconfig, checkconfig, gentoken, a bad
    config) to completion; returns its exit status and output."""
    return subprocess.run([str(SOCKHUB), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=str(cwd or ROOT))


def python_executable() -> str:
    """The venv's interpreter (for client subprocesses such as cent 1.3)."""
    return str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
