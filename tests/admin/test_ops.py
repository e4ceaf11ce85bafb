"""TLS context and pid file."""
from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from app.ops import OpsError, remove_pid_file, ssl_context, write_pid_file
from app.options import Options


def make_cert(tmp: Path) -> tuple[str, str]:
    """A self-signed localhost certificate made with openssl."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


def test_ssl_off_gives_none() -> None:
    assert ssl_context(Options()) is None


def test_ssl_context_loads_a_certificate(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    ctx = ssl_context(Options(ssl=True, ssl_cert=cert, ssl_key=key))
    assert isinstance(ctx, ssl.SSLContext) and ctx.check_hostname is False


@pytest.mark.parametrize("cert,key,words", [("", "", "both"), ("/nonexistent.pem", "/nonexistent.key", "not found")])
def test_ssl_errors_are_one_line(cert: str, key: str, words: str) -> None:
    with pytest.raises(OpsError, match=words) as info:
        ssl_context(Options(ssl=True, ssl_cert=cert, ssl_key=key))
    assert "\n" not in str(info.value)


def test_ssl_mismatched_files(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(OpsError, match="cannot load"):
        ssl_context(Options(ssl=True, ssl_cert=str(tmp_path / "junk.pem"), ssl_key=str(tmp_path / "junk.pem")))


def test_pid_file_written_and_removed(tmp_path: Path) -> None:
    path = str(tmp_path / "sockhub.pid")
    write_pid_file(path)
    assert Path(path).read_text().strip() == str(os.getpid())
    remove_pid_file(path)
    assert not Path(path).exists()


def test_pid_file_of_a_live_process_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "sockhub.pid"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(f"{other.pid}\n")
        with pytest.raises(OpsError, match="running process"):
            write_pid_file(str(path))
        remove_pid_file(str(path))  # not ours: left alone
        assert path.read_text().strip() == str(other.pid)
    finally:
        other.kill()
        other.wait()
    write_pid_file(str(path))  # a stale file is replaced
    assert path.read_text().strip() == str(os.getpid())
