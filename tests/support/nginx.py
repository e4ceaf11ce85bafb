"""Run the project's nginx config in front of test backends.

``render`` is ``sockhub nginx-conf`` (app.nginx_conf, whose defaults are the
repository's nginx.conf) for a test: the listen port, the upstream nodes, and
pid/log/temp paths under a temporary directory.  ``NginxProcess`` runs
Debian's nginx on it (as root, in the foreground) and stops it.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

from app import nginx_conf
from tests.support.net import wait_port

ROOT = Path(__file__).resolve().parent.parent.parent


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert found, "Debian's nginx is not installed"
    return found


def render(port: int, nodes: list[int], tmp: Path, http_prefix: str = "") -> str:
    """The project's nginx config for a test: ``sockhub nginx-conf`` with the
    test port, nodes and paths (and workers as root, as the tests run)."""
    return nginx_conf.render(nginx_conf.NginxSettings(
        listen=f"127.0.0.1:{port}", upstreams=tuple(f"127.0.0.1:{n}" for n in nodes),
        run_dir=str(tmp), user="root", workers="1", http_prefix=http_prefix))


class NginxProcess:
    """nginx with the rendered nginx.conf on ``port`` in front of ``nodes``."""

    def __init__(self, tmp: Path, port: int, nodes: list[int], http_prefix: str = "") -> None:
        self.tmp = tmp
        self.port = port
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(render(port, nodes, tmp, http_prefix))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "NginxProcess":
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", str(self.tmp), "-c", str(self.conf), "-e", str(self.tmp / "error.log"),
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(self.port, timeout=10)
        except TimeoutError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def error_log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text() if path.exists() else ""
