"""``sockhub nginx-conf``: the repository's nginx.conf is its output with no
flags, the flags land where they should, Debian's nginx accepts what it
prints, and a bad flag is one line with exit status 2."""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from app import nginx_conf
from tests.support.nginx import nginx_binary
from tests.support.server import ROOT, run_sockhub


def test_the_repository_file_is_the_default_rendering() -> None:
    """nginx.conf can never drift from the template: regenerate it with
    ``sockhub nginx-conf > nginx.conf``."""
    assert (ROOT / "nginx.conf").read_text() == nginx_conf.render(nginx_conf.NginxSettings())
    result = run_sockhub(["nginx-conf"])
    assert result.returncode == 0 and result.stdout == (ROOT / "nginx.conf").read_text()


def test_flags_and_nginx_accepts_the_result(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    argv = ["nginx-conf", "--listen", "127.0.0.1:18080", "--upstream", "127.0.0.1:9001",
            "--upstream", "[::1]:9002", "--upstream", "localhost:9003", "--run-dir", str(run),
            "--user", "root", "--worker-processes", "2", "--http-prefix", "/rt"]
    result = run_sockhub(argv)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert "listen 127.0.0.1:18080;" in lines
    assert [line for line in lines if line.startswith("server ") and line.endswith(";")] == [
        "server 127.0.0.1:9001;", "server [::1]:9002;", "server localhost:9003;"]
    assert f"pid {run}/nginx.pid;" in lines and f"error_log {run}/error.log warn;" in lines
    assert f"access_log {run}/access.log;" in lines and f"proxy_temp_path {run}/proxy_temp;" in lines
    assert "user root;" in lines and "worker_processes 2;" in lines
    assert "proxy_set_header Host $http_host;" in lines
    assert "location /rt/connection/ {" in lines and "location /rt/api/ {" in lines
    assert "~^/rt/connection/[^/.]+/([^/.]+)/  $1;" in lines
    assert "# Rendered by: sockhub " + shlex.join(argv) + "\n" in text  # how to make it again
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    check = subprocess.run([nginx_binary(), "-t", "-c", str(conf), "-p", str(run), "-e", str(run / "error.log")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("flag, value", [
    ("--listen", "80; include /etc/passwd"), ("--listen", "70000"), ("--listen", "host:"),
    ("--upstream", "127.0.0.1"), ("--upstream", "127.0.0.1:0"), ("--upstream", "a b:80"),
    ("--run-dir", "relative/dir"), ("--run-dir", "/tmp/x;y"), ("--run-dir", "/tmp/{x}"),
    ("--user", "root;"), ("--worker-processes", "0"), ("--worker-processes", "many"),
    ("--http-prefix", "rt"), ("--http-prefix", "/r.t"), ("--http-prefix", "/rt/(.*)"),
])
def test_bad_values_are_one_line(flag: str, value: str) -> None:
    result = run_sockhub(["nginx-conf", flag, value])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sockhub nginx-conf: error: "), result.stderr
    assert flag in result.stderr
