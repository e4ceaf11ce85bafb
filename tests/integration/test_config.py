"""Configuration: file formats, environment, flags, precedence, validation.

The in-process tests call app.config directly; the CLI tests run the real
``sockhub`` command and check what an operator sees (one line, exit status).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config_names import ALIASES
from app.config import CHANNEL_TYPES, KNOWN_KEYS, ConfigError, ConfigSource, load_options
from app.options import Options
from tests.support.server import run_sockhub

#: A config.json as a Centrifugo 1.4/1.8 deployment has it, unchanged.
CENTRIFUGO_CONFIG = {
    "secret": "very-long-secret-key",
    "web_password": "admin-pass",
    "web_secret": "admin-secret",
    "insecure_web": False,
    "prefix": "/centrifugo",
    "connection_lifetime": 3600,
    "anonymous": False,
    "publish": False,
    "watch": True,
    "presence": True,
    "join_leave": True,
    "history_size": 10,
    "history_lifetime": 30,
    "recover": True,
    "namespaces": [
        {"name": "public", "publish": True, "anonymous": True, "history_size": 50,
         "history_lifetime": 60, "recover": True},
        {"name": "gossips", "watch": True, "history_drop_inactive": True},
    ],
    "max_channel_length": 255,
    "client_channel_limit": 100,
    "gomaxprocs": 2,
    "redis_pool": 10,
    "redis_port": 6380,
}


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_centrifugo_config_json_works_unchanged(tmp_path: Path) -> None:
    path = write(tmp_path, "config.json", json.dumps(CENTRIFUGO_CONFIG, indent=2))
    options, warnings = ConfigSource(path).load()
    assert options.secret == "very-long-secret-key"
    assert (options.admin_password, options.admin_secret) == ("admin-pass", "admin-secret")
    assert options.http_prefix == "/centrifugo" and options.insecure_admin is False
    assert options.connection_lifetime == 3600 and options.client_channel_limit == 100
    assert options.redis_port == "6380"  # a number in the file, a string option
    ch = options.channel
    assert (ch.watch, ch.presence, ch.join_leave, ch.recover) == (True, True, True, True)
    assert (ch.history_size, ch.history_lifetime, ch.publish) == (10, 30, False)
    public, gossips = options.namespaces
    assert public.name == "public" and public.options.publish and public.options.anonymous
    assert public.options.history_size == 50 and public.options.history_lifetime == 60
    assert public.options.presence is False  # namespaces do not inherit top-level options
    assert gossips.options.watch and gossips.options.history_drop_inactive
    # Go-runtime and pool options are accepted, each named once in a warning.
    assert len(warnings) == 2
    assert any("gomaxprocs" in w for w in warnings) and any("redis_pool" in w for w in warnings)


def test_toml_and_yaml_files_give_the_same_options(tmp_path: Path) -> None:
    toml = write(tmp_path, "c.toml", 'secret = "s"\nport = 9001\npresence = true\n'
                 '[[namespaces]]\nname = "chat"\npublish = true\n')
    yaml = write(tmp_path, "c.yaml", "secret: s\nport: 9001\npresence: yes\n"
                 "namespaces:\n  - name: chat\n    publish: true\n")
    jsn = write(tmp_path, "c.json", json.dumps({"secret": "s", "port": 9001, "presence": True,
                                               "namespaces": [{"name": "chat", "publish": True}]}))
    loaded = [load_options(p) for p in (toml, yaml, jsn)]
    assert loaded[0] == loaded[1] == loaded[2]
    assert loaded[0].port == 9001 and loaded[0].channel.presence
    assert loaded[0].namespaces[0].options.publish


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", json.dumps({"secret": "file", "port": 9001, "name": "from-file",
                                                "history_size": 5}))
    env = {"SOCKHUB_PORT": "9002", "SOCKHUB_NAME": "from-env", "SOCKHUB_UNRELATED": "x"}
    options = load_options(path, env, {"port": "9003"})
    assert options.port == 9003  # flag
    assert options.name == "from-env"  # env over file
    assert options.secret == "file" and options.channel.history_size == 5  # file
    assert options.ping_interval == Options().ping_interval == 25  # default


def test_environment_is_typed_by_the_field(tmp_path: Path) -> None:
    env = {"SOCKHUB_SECRET": "e", "SOCKHUB_INSECURE_API": "true", "SOCKHUB_PRESENCE": "1",
           "SOCKHUB_HISTORY_LIFETIME": "40", "SOCKHUB_PING_INTERVAL": "0.5",
           "SOCKHUB_NAMESPACES": '[{"name": "news", "history_size": 3}]'}
    options = load_options(None, env)
    assert options.insecure_api is True and options.channel.presence is True
    assert options.channel.history_lifetime == 40 and options.ping_interval == 0.5
    assert options.namespaces[0].name == "news" and options.namespaces[0].options.history_size == 3


@pytest.mark.parametrize("config, env, flags, expected", [
    ({"port": "eighty"}, {}, {}, "port: expected an integer"),
    ({"presence": "maybe"}, {}, {}, "presence: expected true or false"),
    ({"secret": 42.5}, {}, {}, "secret: expected a string, got 42.5"),  # a file is typed
    ({"log_file": 1e308}, {}, {}, "log_file: expected a string, got 1e+308"),
    ({"presence": "true"}, {}, {}, "presence: expected true or false, got 'true'"),
    ({"insecure": 1}, {}, {}, "insecure: expected true or false, got 1"),
    ({"port": True}, {}, {}, "port: expected an integer, got true"),
    ({"port": 8000.0}, {}, {}, "port: expected an integer, got 8000.0"),
    ({"port": "http"}, {}, {}, "port: expected an integer, got 'http'"),  # "8000" is a port (2.x's spelling)
    ({"port": "80.5"}, {}, {}, "port: expected an integer, got '80.5'"),
    ({"sockjs_disable": 1}, {}, {}, "sockjs_disable: expected true or false, got 1"),  # Centrifugo 2.x's
    ({"internal_port": "x"}, {}, {}, "internal_port: expected an integer, got 'x'"),
    ({"namespaces": [{"name": "ab", "server_side": "yes"}]}, {}, {}, "server_side: expected true or false"),
    ({"ping_interval": "1"}, {}, {}, "ping_interval: expected a number, got '1'"),
    ({"redis_port": 6379.5}, {}, {}, "redis_port: expected a string, got 6379.5"),
    ({"secret": "\ud800"}, {}, {}, None),  # a lone surrogate: the decoder refuses it
    ({"namespaces": [{"name": "ns", "publish": "yes"}]}, {}, {}, "publish: expected true or false"),
    ({}, {"SOCKHUB_PING_INTERVAL": "inf"}, {}, "SOCKHUB_PING_INTERVAL: expected a number, got 'inf'"),
    ({}, {"SOCKHUB_NAME": "\udcff"}, {}, "SOCKHUB_NAME: not valid UTF-8 text"),  # undecodable env bytes
    ({"secret": ["a"]}, {}, {}, "secret: expected a string"),
    ({}, {"SOCKHUB_PORT": "x"}, {}, "SOCKHUB_PORT: expected an integer"),
    ({}, {}, {"port": "x"}, "--port: expected an integer"),
    ({"engine": "mongo"}, {}, {}, "unknown engine 'mongo'"),
    ({"namespaces": [{"name": "a"}]}, {}, {}, "bad name 'a'"),
    ({"namespaces": [{"name": "bad name"}]}, {}, {}, "bad name 'bad name'"),
    ({"namespaces": [{"name": "ns"}, {"name": "ns"}]}, {}, {}, "'ns' used twice"),
    ({"namespaces": {"name": "ns"}}, {}, {}, "namespaces: expected a list"),
    ({"namespaces": [{"publish": True}]}, {}, {}, "name missing"),
    ({"history_size": -1}, {}, {}, "history_size: must not be negative"),
    ({"port": 70000}, {}, {}, "port: 70000 is not a TCP port"),
    ({"log_level": "loud"}, {}, {}, "unknown level 'loud'"),
    ({"ssl": True}, {}, {}, "ssl: needs ssl_cert and ssl_key"),
])
def test_bad_values_are_one_clear_error(tmp_path: Path, config: dict, env: dict, flags: dict,
                                        expected: str | None) -> None:
    path = write(tmp_path, "c.json", json.dumps({"secret": "s", **config}))
    with pytest.raises(ConfigError) as info:
        load_options(path, env, flags)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert expected in message if expected else "not valid json" in message


DEEP = 5000


@pytest.mark.parametrize("name, text, expected", [
    ("deep.json", '{"secret": "s", "x": ' + "[" * DEEP + "]" * DEEP + "}", "nested deeper than 100"),
    ("deep101.json", '{"secret": "s", "x": ' + "[" * 100 + "]" * 100 + "}", "nested deeper than 100"),
    ("deep.toml", 'secret = "s"\nx = ' + "[" * DEEP + "]" * DEEP + "\n", "nested deeper than 100"),
    ("inline.toml", 'secret = "s"\nx = ' + "{a = " * DEEP + "1" + "}" * DEEP + "\n", "nested deeper than 100"),
    ("deep.yaml", "secret: s\nx: " + "[" * DEEP + "]" * DEEP + "\n", "nested deeper than 100"),
    ("block.yaml", "secret: s\n" + "".join(" " * i + f"k{i}:\n" for i in range(300)) + " " * 300 + "v: 1\n",
     "nested deeper than 100"),
    ("aliases.yaml", "secret: s\na0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 150)),
     "nested deeper than 100"),
    ("bigint.json", '{"secret": "s", "history_size": 1' + "0" * 5000 + "}", "not valid json"),
    ("bigint.yaml", "secret: s\nhistory_size: 1" + "0" * 5000 + "\n", "not valid yaml"),
    ("huge.json", '{"secret": "s", "ping_interval": 1e400}', "not valid json: number out of range"),
    ("inf.toml", 'secret = "s"\nping_interval = inf\n', "ping_interval: expected a number, got inf"),
    ("inf.yaml", "secret: s\nping_interval: .inf\n", "ping_interval: expected a number, got inf"),
    ("nan.json", '{"secret": "s", "ping_interval": NaN}', "not valid json: NaN is not JSON"),
    ("surrogate.json", '{"secret": "\\udc00"}', "lone surrogate"),
    ("surrogate.yaml", 'secret: "\\udc00"\n', "secret: not valid UTF-8 text"),
    ("date.toml", 'secret = "s"\nname = 1979-05-27\n', "name: expected a string, got a date"),
    ("null.yaml", "secret: s\nlog_file:\n", "log_file: expected a string, got null"),
    ("list.toml", 'secret = ["s"]\n', "secret: expected a string, got a list"),
])
def test_unusable_files_are_one_clear_error(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as info:
        load_options(path)
    message = str(info.value)
    assert expected in message and "\n" not in message and len(message) < 300, message


@pytest.mark.parametrize("name, text, expected", [
    ("flow.yaml", "secret: s\nnamespaces: [s\n",
     "not valid yaml: expected ',' or ']', but got '<stream end>' (at line 3, column 1; "
     "while parsing a flow sequence from line 2)"),
    ("indent.yaml", "secret: s\nport: 80\n  presence: true\n",
     "not valid yaml: mapping values are not allowed here (at line 3, column 11)"),
    ("quote.yaml", 'secret: s\nname: "node\n', "not valid yaml: found unexpected end of stream (at line 3, "
     "column 1; while scanning a quoted scalar from line 2)"),
    ("tab.yaml", "secret: s\n\tport: 80\n", "not valid yaml: found character '\\t' that cannot start any "
     "token (at line 2, column 1)"),
    ("alias.yaml", "secret: s\nname: *who\n", "not valid yaml: found undefined alias 'who' (at line 2, column 7)"),
    ("comma.json", '{"secret": "s",\n "port": 80,\n}', "not valid json: syntax error at character 29 "
     "(at line 3, column 1)"),
    ("value.toml", 'secret = "s"\nport = \n', "not valid toml: Invalid value (at line 2, column 8)"),
])
def test_a_syntax_error_names_its_line(tmp_path: Path, name: str, text: str, expected: str) -> None:
    """Issue 16: a YAML (or JSON) error said what but not where."""
    path = write(tmp_path, name, text)
    for args in (["checkconfig", path], ["--config", path]):
        result = run_sockhub(args)
        assert result.returncode == 2, result
        assert result.stderr.strip().splitlines() == [f"sockhub: error: {path}: {expected}"], result.stderr


@pytest.mark.parametrize("name, data", [
    ("utf16.json", b"\xff\xfe\x00\xd8"), ("latin1.json", b'{"secret": "\xe9"}'),
    ("latin1.toml", b'secret = "\xe9"\n'), ("latin1.yaml", b"secret: \xe9\n"),
])
def test_files_that_are_not_utf8(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ConfigError, match="not valid") as info:
        load_options(str(path))
    assert "codec" not in str(info.value) or name.endswith(".yaml")  # our words for JSON and TOML


def test_secret_required_unless_insecure(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secret: required"):
        load_options(None, {}, {})
    assert load_options(None, {}, {"insecure": True}).insecure is True


def test_unknown_keys_are_warned_not_fatal(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", json.dumps({"secret": "s", "colour": "blue",
                                                "namespaces": [{"name": "ns", "size": 1}]}))
    options, warnings = ConfigSource(path).load()
    assert options.secret == "s"
    assert warnings == [f"{path}: unknown key 'colour' ignored",
                        f"{path}: namespaces[0] (ns): unknown key 'size' ignored"]


# -- the command ------------------------------------------------------------

@pytest.mark.parametrize("name, text, expected", [
    ("broken.json", '{"secret": "s",', "not valid json"),
    ("broken.toml", 'secret = "s', "not valid toml"),
    ("broken.yaml", "secret: [s", "not valid yaml"),
    ("list.json", "[1, 2]", "the top level must be a mapping"),
    ("types.json", '{"secret": "s", "port": "http"}', "port: expected an integer"),
    ("logfile.json", '{"secret": "s", "log_file": 1e308}', "log_file: expected a string, got 1e+308"),
    ("flag.yaml", "secret: s\ninsecure: 'yes'\n", "insecure: expected true or false, got 'yes'"),
    ("deep.json", '{"secret": "s", "x": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper than 100"),
    ("deep.toml", 'secret = "s"\nx = ' + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 100"),
    ("deep.yaml", "secret: s\nx: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 100"),
    ("nosecret.json", "{}", "secret: required"),
])
def test_bad_config_one_line_and_nonzero_exit(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path, name, text)
    for args in (["--config", path], ["checkconfig", path]):
        result = run_sockhub(args)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_missing_config_file_and_unknown_flag(tmp_path: Path) -> None:
    result = run_sockhub(["--config", str(tmp_path / "nope.json")])
    assert result.returncode == 2 and "cannot read config file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_sockhub(["--no-such-flag"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["sockhub: error: unrecognized arguments: --no-such-flag"]


@pytest.mark.parametrize("name", ["config.json", "config.toml", "config.yaml"])
def test_genconfig_then_checkconfig(tmp_path: Path, name: str) -> None:
    result = run_sockhub(["genconfig", name], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    options = load_options(str(tmp_path / name))
    assert len(options.secret) == 36  # a random uuid4
    check = run_sockhub(["checkconfig", str(tmp_path / name)])
    assert check.returncode == 0 and check.stdout.strip().endswith(": ok")
    again = run_sockhub(["genconfig", name], cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert load_options(str(tmp_path / name)).secret == options.secret  # not overwritten


def test_two_genconfigs_differ(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        assert run_sockhub(["genconfig", name], cwd=tmp_path).returncode == 0
    assert load_options(str(tmp_path / "a.json")).secret != load_options(str(tmp_path / "b.json")).secret


def test_gentoken_prints_connect_parameters(tmp_path: Path) -> None:
    import cent

    path = write(tmp_path, "c.json", json.dumps({"secret": "gentoken-secret"}))
    result = run_sockhub(["gentoken", "--user", "42", "--info", '{"name":"Alex"}', "--config", path])
    assert result.returncode == 0, result.stderr
    params = json.loads(result.stdout)
    assert params["user"] == "42" and params["info"] == '{"name":"Alex"}'
    assert params["timestamp"].isdigit()
    # cent, the backend library, computes the same token from the same parameters.
    assert params["token"] == cent.generate_token("gentoken-secret", "42", params["timestamp"],
                                                  '{"name":"Alex"}')
    env_result = run_sockhub(["gentoken", "--user", "7", "--timestamp", "1500000000"],
                             env={"SOCKHUB_SECRET": "from-env"})
    assert json.loads(env_result.stdout)["token"] == cent.generate_token("from-env", "7", "1500000000")


def test_gentoken_errors_are_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", json.dumps({"secret": "s"}))
    bad_info = run_sockhub(["gentoken", "--user", "1", "--info", "{not json", "--config", path])
    assert bad_info.returncode == 2 and bad_info.stderr.strip() == "sockhub: error: --info: not valid JSON"
    no_secret = run_sockhub(["gentoken", "--user", "1", "--secret", ""])
    assert no_secret.returncode == 2 and len(no_secret.stderr.strip().splitlines()) == 1
    no_user = run_sockhub(["gentoken"])
    assert no_user.returncode == 2 and "--user" in no_user.stderr


#: Values of every JSON type, most of them wrong for any one option.
WRONG_VALUES: tuple[object, ...] = ({}, {"a": 1}, [{}], [1], None, 1.5, True, -1, 2 ** 70, "x", "")


@pytest.mark.parametrize("key", sorted(KNOWN_KEYS - {"namespaces"}))
def test_every_key_of_a_file_with_a_wrong_type_is_one_clear_error(tmp_path: Path, key: str) -> None:
    """Every key a file may hold (options, channel options, the 1.x and v5
    names), with a value of each JSON type: accepted, or one ConfigError line
    (never another exception); and at least the object value is refused."""
    refused, named = 0, ALIASES.get(key, key)  # an alias's error names the option
    for index, value in enumerate(WRONG_VALUES):
        path = write(tmp_path, f"c{index}.json", json.dumps({"secret": "s", key: value}))
        try:
            load_options(path)
        except ConfigError as exc:
            message = str(exc)
            assert "\n" not in message and len(message) < 300 and named in message, (key, value, message)
            refused += 1
    assert refused >= 1, key  # {} is never an option's value
    # the same through the namespaces list, where channel options go
    if named in CHANNEL_TYPES:
        path = write(tmp_path, "ns.json", json.dumps({"secret": "s", "namespaces": [{"name": "ns", key: {}}]}))
        with pytest.raises(ConfigError, match=named):
            load_options(path)


@pytest.mark.parametrize("key", ["log_file", "presence", "ping_interval", "port", "allowed_origins",
                                 "client_connection_limit"])
def test_a_wrong_type_from_the_command_line_is_one_line_and_exit_2(tmp_path: Path, key: str) -> None:
    """One key of each type through the real command (server and checkconfig)."""
    path = write(tmp_path, "c.json", json.dumps({"secret": "s", key: {"nested": [1]}}))
    for args in (["--config", path], ["checkconfig", path]):
        result = run_sockhub(args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and key in lines[0], result
        assert "Traceback" not in result.stderr + result.stdout
