"""The ``sockhub`` command as Centrifugo users type it: ``--help`` describing
every option, ``version``/``--version``, ``-c/--config`` on every command,
``./config.json`` read by default, ``checkconfig`` strict about unknown keys
(with a suggestion) unless ``--lenient``, internal commands hidden."""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

import app
from app.config import CHANNEL_TYPES, LOG_LEVELS, SCALAR_TYPES, load_options
from app.option_docs import CHOICES, DESCRIPTIONS
from tests.integration.test_config import CENTRIFUGO_CONFIG
from tests.support.server import SockhubProcess, run_sockhub


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_help_describes_every_option_with_its_allowed_values() -> None:
    result = run_sockhub(["--help"], env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    text = one_line(result.stdout)
    assert set(DESCRIPTIONS) == set(SCALAR_TYPES), set(DESCRIPTIONS) ^ set(SCALAR_TYPES)
    for key in SCALAR_TYPES:
        assert DESCRIPTIONS[key].strip(), key
        assert f"--{key}" in text and one_line(DESCRIPTIONS[key]) in text, key
        assert f"env SOCKHUB_{key.upper()}" in text, key
    for key in CHANNEL_TYPES:
        assert DESCRIPTIONS[key].startswith("channel option"), key
    assert "--engine {memory,redis}" in text and "(one of: memory, redis)" in text
    assert "--log_level {" + ",".join(LOG_LEVELS) + "}" in text
    assert "(one of: " + ", ".join(CHOICES["log_format"]) + ")" in text
    assert "--namespaces JSON" in text
    for command in ("genconfig", "checkconfig", "gentoken", "version"):
        assert f"sockhub {command}" in text
    assert "sockjs-test-server" not in result.stdout + result.stderr  # internal: hidden, still works (test_lifecycle)


def test_version_and_dash_dash_version() -> None:
    expected = f"sockhub {app.__version__}"
    for args in (["version"], ["--version"]):
        result = run_sockhub(args)
        assert result.returncode == 0 and result.stdout.strip() == expected, result


def test_python_dash_m_sockhub() -> None:
    import subprocess

    from tests.support.server import ROOT, python_executable

    result = subprocess.run([python_executable(), "-m", "sockhub", "--version"], capture_output=True,
                            text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0 and result.stdout.strip() == f"sockhub {app.__version__}", result


@pytest.mark.parametrize("form", [["--config", "{}"], ["--config={}"], ["-c", "{}"], ["{}"]])
def test_config_file_given_every_way(tmp_path: Path, form: list[str]) -> None:
    path = str(tmp_path / "made.json")
    made = run_sockhub(["genconfig", *[a.format(path) for a in form]], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    checked = run_sockhub(["checkconfig", *[a.format(path) for a in form]])
    assert checked.returncode == 0 and checked.stdout.strip() == f"{path}: ok", checked
    flag_form = form if form != ["{}"] else ["-c", "{}"]  # gentoken takes the file as a flag only
    token = run_sockhub(["gentoken", "--user", "1", *[a.format(path) for a in flag_form]])
    assert token.returncode == 0 and json.loads(token.stdout)["user"] == "1", token


def test_two_different_files_are_refused(tmp_path: Path) -> None:
    result = run_sockhub(["checkconfig", "a.json", "--config", "b.json"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "sockhub checkconfig: error: two config files given: a.json and b.json"


def test_genconfig_writes_a_random_admin_login_and_says_where(tmp_path: Path) -> None:
    result = run_sockhub(["genconfig"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "config.json"
    assert result.stdout.splitlines() == [
        "config.json: written with random secret, admin_password, admin_secret, api_key",
        f"admin login (sockhub --web): the password is admin_password in {path}"]
    first = load_options(str(path))
    assert len(first.admin_password) >= 20 and len(first.admin_secret) >= 40 and len(first.api_key) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the secrets
    run_sockhub(["genconfig", "other.yaml"], cwd=tmp_path)
    second = load_options(str(tmp_path / "other.yaml"))
    assert second.admin_password and second.admin_password != first.admin_password
    assert second.admin_secret != first.admin_secret and second.secret != first.secret
    assert second.api_key != first.api_key


def test_checkconfig_without_a_file_reads_config_json_here(tmp_path: Path) -> None:
    missing = run_sockhub(["checkconfig"], cwd=tmp_path)
    assert missing.returncode == 2 and "config.json: cannot read config file" in missing.stderr
    assert run_sockhub(["genconfig"], cwd=tmp_path).returncode == 0
    result = run_sockhub(["checkconfig"], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "config.json: ok", result


def test_checkconfig_refuses_unknown_keys_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "typo.json"
    path.write_text(json.dumps({"secret": "s", "presense": True, "colour": "blue",
                                "namespaces": [{"name": "chat", "histroy_size": 5}]}))
    result = run_sockhub(["checkconfig", str(path)])
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {path}: unknown key 'presense' (did you mean 'presence'?)",
        f"error: {path}: unknown key 'colour'",
        f"error: {path}: namespaces[0] (chat): unknown key 'histroy_size' (did you mean 'history_size'?)",
        f"sockhub: error: {path}: 3 unknown key(s); fix them, or pass --lenient to ignore them",
    ]
    assert result.stdout == ""
    lenient = run_sockhub(["checkconfig", "--lenient", str(path)])
    assert lenient.returncode == 0 and lenient.stdout.strip() == f"{path}: ok", lenient
    assert "warning:" in lenient.stderr and "did you mean 'presence'" in lenient.stderr


def test_checkconfig_passes_a_centrifugo_1x_file_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "centrifugo.json"
    path.write_text(json.dumps(CENTRIFUGO_CONFIG))
    result = run_sockhub(["checkconfig", str(path)])
    assert result.returncode == 0 and result.stdout.strip() == f"{path}: ok", result
    # the Centrifugo keys sockhub does not use stay warnings, as before
    assert re.findall(r"'(\w+)' is a Centrifugo option sockhub does not use", result.stderr) == [
        "gomaxprocs", "redis_pool"]


def test_server_reads_config_json_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"secret": "s", "name": "from-config-json",
                                                      "insecure_api": True}))
    with SockhubProcess(tmp_path, cwd=tmp_path, config_flag=False) as hub:
        import urllib.request

        request = urllib.request.Request(hub.url + "/api/", json.dumps({"method": "node", "params": {}}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            (reply,) = json.loads(response.read())
        assert reply["body"]["data"]["name"] == "from-config-json"
        assert reply["body"]["data"]["version"] == app.__version__
    found = tmp_path / "config.json"
    assert f"config file {found} (./config.json, found in the working directory" in hub.logs()


def test_server_without_any_config_file_says_so(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, cwd=tmp_path, config_flag=False, args=["--insecure"]) as hub:
        pass
    assert "no config file (none given, no ./config.json)" in hub.logs()
    assert f"sockhub {app.__version__}:" in hub.logs()


# -- the same in process (what coverage measures; the commands above are subprocesses)

def test_commands_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("SOCKHUB_")]:
        monkeypatch.delenv(key)
    assert main(["version"]) == 0 and capsys.readouterr().out == f"sockhub {app.__version__}\n"
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and DESCRIPTIONS["engine"] in one_line(capsys.readouterr().out)
    assert main(["checkconfig"]) == 2 and "cannot read config file" in capsys.readouterr().err
    assert main(["genconfig"]) == 0 and "config.json: written" in capsys.readouterr().out
    assert main(["genconfig", "-c", "config.json"]) == 2 and "exists already" in capsys.readouterr().err
    assert main(["genconfig", "c.toml"]) == 0 and load_options("c.toml").admin_secret
    assert main(["checkconfig"]) == 0 and capsys.readouterr().out.endswith("config.json: ok\n")
    token = main(["gentoken", "--user", "5", "--info", '{"a":1}'])
    assert token == 0 and json.loads(capsys.readouterr().out)["user"] == "5"  # ./config.json's secret
    Path("typo.yaml").write_text("secret: s\nhistory_sise: 3\n")
    assert main(["checkconfig", "--config", "typo.yaml"]) == 2
    assert "did you mean 'history_size'?" in capsys.readouterr().err
    assert main(["checkconfig", "--config", "typo.yaml", "--lenient"]) == 0
    assert main(["gentoken", "--user", "1", "--info", "{"]) == 2


def test_admin_notice_for_each_case() -> None:
    from app.config import ConfigSource
    from app.notices import admin_notice
    from app.options import Options

    login = {"admin_password": "p", "admin_secret": "s"}
    assert admin_notice(Options(port=9000), None) is None  # no --web, no page
    assert admin_notice(Options(web=True, port=9000, insecure_admin=True), None) == \
        "admin: http://localhost:9000/ (insecure_admin: no login)"
    file = ConfigSource("/etc/sockhub.json", {}, {})
    assert admin_notice(Options(web=True, port=9000, **login), file) == \
        "admin: http://localhost:9000/ (password: admin_password in /etc/sockhub.json)"
    env = ConfigSource("/etc/sockhub.json", {"SOCKHUB_ADMIN_PASSWORD": "p"}, {})
    assert admin_notice(Options(web=True, address="10.0.0.5", admin_port=9001, http_prefix="/rt", **login),
                        env) == "admin: http://10.0.0.5:9001/rt/ (password: in SOCKHUB_ADMIN_PASSWORD)"
    flags = ConfigSource(None, {}, {"admin_password": "p"})
    assert admin_notice(Options(web=True, ssl=True, address="::1", **login), flags) == \
        "admin: https://[::1]:8000/ (password: given with --admin_password)"
    disabled = admin_notice(Options(web=True, admin_password="p"), file) or ""
    assert disabled.startswith("admin: http://localhost:8000/ (login disabled: set admin_password and admin_secret")
