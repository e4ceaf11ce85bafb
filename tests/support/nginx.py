"""Run the project's nginx.conf in front of test backends.

``render`` rewrites the production file for a test: the listen port, the
upstream nodes (between the "nodes" markers), and pid/log/temp paths under a
temporary directory.  ``NginxProcess`` runs Debian's nginx on it (as root, in
the foreground) and stops it.
"""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

from tests.support.net import wait_port

ROOT = Path(__file__).resolve().parent.parent.parent
NGINX_CONF = ROOT / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert found, "Debian's nginx is not installed"
    return found


def render(conf: str, port: int, nodes: list[int], tmp: Path) -> str:
    """The production config with test port, nodes and paths."""
    servers = "".join(f"        server 127.0.0.1:{n};\n" for n in nodes)
    conf, count = re.subn(r"(# nodes begin\n).*?(\s*# nodes end)", lambda m: m.group(1) + servers.rstrip("\n") + m.group(2),
                          conf, flags=re.S)
    assert count == 1, "nginx.conf lost its '# nodes begin/end' markers"
    conf, count = re.subn(r"^(\s*)listen \S+;", rf"\1listen 127.0.0.1:{port};", conf, flags=re.M)
    assert count == 1
    conf = re.sub(r"^pid .*;", f"pid {tmp}/nginx.pid;", conf, flags=re.M)
    conf = re.sub(r"^error_log .*;", f"error_log {tmp}/error.log warn;", conf, flags=re.M)
    conf = re.sub(r"^(\s*)access_log .*;", rf"\1access_log {tmp}/access.log;", conf, flags=re.M)
    conf = re.sub(r"^worker_processes .*;", "worker_processes 1;\nuser root;", conf, flags=re.M)
    temp = "".join(f"    {kind}_temp_path {tmp}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return conf.replace("http {\n", "http {\n" + temp, 1)


class NginxProcess:
    """nginx with the rendered nginx.conf on ``port`` in front of ``nodes``."""

    def __init__(self, tmp: Path, port: int, nodes: list[int]) -> None:
        self.tmp = tmp
        self.port = port
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(render(NGINX_CONF.read_text(), port, nodes, tmp))
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
