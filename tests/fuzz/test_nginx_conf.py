"""Seeded fuzz of ``sockhub nginx-conf``'s flags (in process, through the
command's own argument parser): every value is either refused with exit
status 2 or rendered without adding a directive or a block to the config."""
from __future__ import annotations

import contextlib
import io
import random
import re
from collections import Counter

from app import nginx_conf

SEED = 20261207
CASES = 3000
PIECES = ["127.0.0.1", "[::1]", "localhost", "a-b.example", ":", "80", "8080", "65535", "65536", "0",
          "/", "/tmp/x", "..", " ", ";", "{", "}", "#", "$host", "'", '"', "\\", "\n", "root", "auto", "é", ""]
#: values each flag accepts, mixed with the random ones so that many cases render
VALID = {"--listen": ["8080", "127.0.0.1:8080", "[::1]:443"], "--upstream": ["127.0.0.1:8001", "[::1]:9", "h.example:80"],
         "--run-dir": ["/tmp/x", "/var/lib/sockhub/nginx"], "--user": ["root", "www-data www-data"],
         "--worker-processes": ["auto", "4"], "--http-prefix": ["/rt", "/a/b-c_d"]}


def _value(rng: random.Random, flag: str) -> str:
    if rng.random() < 0.8:
        return rng.choice(VALID[flag])
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 4)))


def _shape(text: str) -> Counter[str]:
    """The directive names outside comments; asserts that each line holds
    one statement (one ``;``, ``{`` or ``}``, at its end)."""
    names: Counter[str] = Counter()
    for raw in text.splitlines():
        line = re.sub(r'"[^"]*"', "", raw.split("#", 1)[0]).strip()
        if not line:
            continue
        ends = [ch for ch in line if ch in ";{}"]
        assert len(ends) == 1 and line.endswith(ends[0]), raw
        word = line.split()[0]
        names["~regex" if word.startswith("~") else word] += 1  # the map's pattern holds the prefix
    return names


def test_flags_never_inject() -> None:
    rng = random.Random(SEED)
    default_names = _shape(nginx_conf.render(nginx_conf.NginxSettings()))
    allowed = set(default_names) | {"user"} | {f"{kind}_temp_path" for kind in nginx_conf.TEMP_KINDS}
    outcomes: Counter[str] = Counter()
    for _ in range(CASES):
        flags = [rng.choice(list(VALID)) for _ in range(rng.randint(1, 3))]
        argv = [part for flag in flags for part in (flag, _value(rng, flag))]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = nginx_conf.main(argv)
            except SystemExit as exc:
                status = int(exc.code or 0)
        if status == 2:
            assert out.getvalue() == "" and err.getvalue().count("\n") == 1, (argv, err.getvalue())
            outcomes["refused"] += 1
            continue
        assert status == 0, argv
        names = _shape(out.getvalue())
        assert set(names) <= allowed and names["{"] == 0 and names["}"] == default_names["}"], argv
        assert names["listen"] == 1 and names["pid"] == 1, argv
        outcomes["rendered"] += 1
    assert outcomes["refused"] > CASES // 3 and outcomes["rendered"] > 100, outcomes
