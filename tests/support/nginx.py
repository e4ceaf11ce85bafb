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
#: How the shipped config bounds an idle upstream read.
SHIPPED_READ_TIMEOUT = "proxy_read_timeout 60s;"


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

    def __init__(self, tmp: Path, port: int, nodes: list[int], http_prefix: str = "",
                 read_timeout: int | None = None) -> None:
        """``read_timeout``: the shipped ``proxy_read_timeout`` scaled down
        (seconds) for a test that must outlast it."""
        self.tmp = tmp
        self.port = port
        self.conf = tmp / "nginx.conf"
        text = render(port, nodes, tmp, http_prefix)
        if read_timeout is not None:
            assert SHIPPED_READ_TIMEOUT in text
            text = text.replace(SHIPPED_READ_TIMEOUT, f"proxy_read_timeout {read_timeout}s;")
        self.conf.write_text(text)
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
