"""``POST /auth/`` of a real sockhub under a password-guessing client: lockouts
per address (``X-Real-Ip`` / ``X-Forwarded-For`` through the front door), 429
with ``Retry-After`` even for the right password, doubling back-off, reset on
success, and a bounded table of addresses."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest

from tests.support.server import SockhubProcess

PASSWORD = "throttle-pass"
CONFIG: dict[str, Any] = {"secret": "throttle-secret", "admin_password": PASSWORD,
                          "admin_secret": "throttle-admin", "admin_login_max_failures": 2,
                          "admin_login_backoff": 1, "admin_login_backoff_max": 4}


class Answer:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.retry_after = headers.get("Retry-After")
        self.json: dict[str, Any] = json.loads(body)


def login(hub: SockhubProcess, password: str, address: str | None = None,
          header: str = "X-Real-Ip") -> Answer:
    """One login attempt, seen by the server as coming from ``address``."""
    headers = {header: address} if address else {}
    body = urlencode({"password": password}).encode()
    request = urllib.request.Request(hub.url + "/auth/", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return Answer(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.headers, exc.read())


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SockhubProcess]:
    with SockhubProcess(tmp_path_factory.mktemp("throttle"), CONFIG, args=["--web"]) as server:
        yield server
    assert "Traceback" not in server.logs()


def test_wrong_passwords_lock_the_address_out_even_for_the_right_one(hub: SockhubProcess) -> None:
    address = "10.0.0.1"
    assert login(hub, "guess-1", address).status == 401
    assert login(hub, "guess-2", address).status == 401  # the 2nd: locked for 1 s
    locked = login(hub, PASSWORD, address)
    assert locked.status == 429 and locked.retry_after == "1" and "token" not in locked.json
    assert "retry in 1 s" in locked.json["error"]
    assert login(hub, "guess-3", address).status == 429
    time.sleep(1.1)
    ok = login(hub, PASSWORD, address)
    assert ok.status == 200 and ok.json["token"]
    # the success forgot the address: two more wrong ones are answered again
    assert login(hub, "guess-4", address).status == 401
    assert login(hub, "guess-5", address).status == 401
    assert login(hub, PASSWORD, address).status == 429
    assert "admin login from 10.0.0.1 locked out for 1.0 s after 2 wrong passwords" in hub.logs()


def test_the_back_off_doubles(hub: SockhubProcess) -> None:
    """1 s after the 2nd wrong password, 2 s after the 3rd (the cap: test_admin_throttle)."""
    address = "10.0.0.2"
    assert [login(hub, "guess", address).status for _ in range(3)] == [401, 401, 429]
    assert login(hub, PASSWORD, address).retry_after == "1"
    time.sleep(1.05)
    assert [login(hub, "guess", address).status for _ in range(2)] == [401, 429]
    locked = login(hub, PASSWORD, address)
    assert locked.status == 429 and locked.retry_after == "2"


def test_addresses_are_independent(hub: SockhubProcess) -> None:
    for guess in ("a", "b"):
        assert login(hub, guess, "10.0.0.3").status == 401
    assert login(hub, PASSWORD, "10.0.0.3").status == 429
    assert login(hub, PASSWORD, "10.0.0.3", header="X-Forwarded-For").status == 429  # same address
    assert login(hub, PASSWORD, "10.0.0.4").status == 200
    assert login(hub, PASSWORD, "10.0.0.4", header="X-Forwarded-For").status == 200
    assert login(hub, PASSWORD).status == 200  # 127.0.0.1 itself


def test_the_table_of_addresses_is_bounded(tmp_path: Path) -> None:
    config = {**CONFIG, "admin_login_max_addresses": 2, "admin_login_backoff": 60}
    with SockhubProcess(tmp_path, config, args=["--web"]) as hub:
        for guess in ("a", "b"):
            login(hub, guess, "10.1.0.1")
        assert login(hub, PASSWORD, "10.1.0.1").status == 429
        for address in ("10.1.0.2", "10.1.0.3"):  # two more addresses: 10.1.0.1 is evicted
            assert login(hub, "a", address).status == 401
        assert login(hub, PASSWORD, "10.1.0.1").status == 200
