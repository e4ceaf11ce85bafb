"""Options from a config file, ``SOCKHUB_<KEY>`` environment variables and CLI flags.

Everything here is derived from the fields of :class:`app.options.Options` and
:class:`app.options.ChannelOptions`: adding a field there adds its config key,
its environment variable and its flag.  Keys are flat, as in a Centrifugo 1.x
config.json: the channel options sit at the top level (they become
``options.channel``) next to a ``namespaces`` list of ``{"name": ..., <channel
options>}`` objects.

Precedence, lowest first: defaults, file, environment, CLI flags.  Each layer is
parsed and type-checked on its own (so an error names its source), then the
layers are merged and the result validated.  Every problem is a
:class:`ConfigError` whose message is one line.
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, get_type_hints

import yaml

from app.options import ChannelOptions, Namespace, Options

ENV_PREFIX = "SOCKHUB_"

#: Older (1.4) spellings of some keys.
ALIASES: dict[str, str] = {
    "web_password": "admin_password",
    "web_secret": "admin_secret",
    "insecure_web": "insecure_admin",
    "prefix": "http_prefix",
    "channel_prefix": "redis_prefix",
}

#: Centrifugo 1.x keys sockhub accepts and does not use (Go runtime, autocert...).
IGNORED_KEYS = frozenset({
    "gomaxprocs", "client_queue_initial_capacity", "client_message_write_timeout",
    "message_send_timeout", "websocket_compression", "websocket_compression_level",
    "websocket_compression_min_size", "websocket_read_buffer_size",
    "websocket_write_buffer_size", "redis_pool", "redis_pubsub_num_workers",
    "ssl_autocert", "ssl_autocert_host_whitelist", "ssl_autocert_cache_dir",
    "ssl_autocert_email", "ssl_autocert_force_rsa", "ssl_autocert_server_name",
    "ssl_autocert_http", "ssl_autocert_http_addr",
})

LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "critical", "fatal", "none")
ENGINES = ("memory", "redis")
NAMESPACE_NAME = re.compile(r"^[-a-zA-Z0-9_]{2,}$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(Exception):
    """A configuration problem, described in one line."""


def _hints(cls: type) -> dict[str, type]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


#: Scalar keys: every Options field but the two structured ones, then the channel options.
OPTION_TYPES: dict[str, type] = {
    k: t for k, t in _hints(Options).items() if k not in ("channel", "namespaces")
}
CHANNEL_TYPES: dict[str, type] = _hints(ChannelOptions)
SCALAR_TYPES: dict[str, type] = {**OPTION_TYPES, **CHANNEL_TYPES}


def _describe(key: str, source: str) -> str:
    """How the user spelled ``key`` in ``source``, for error lines."""
    if source == "flags":
        return f"--{key}"
    if source == "environment":
        return ENV_PREFIX + key.upper()
    return f"{source}: {key}"


def coerce(key: str, kind: type, value: Any, source: str) -> Any:
    """``value`` as ``kind`` (bool, int, float or str); strings are parsed
    (environment, flags, quoted values in files)."""
    what = _describe(key, source)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"{what}: expected true or false, got {value!r}")
    if kind is int or kind is float:
        if isinstance(value, bool):
            raise ConfigError(f"{what}: expected a number, got {value!r}")
        if isinstance(value, str):
            try:
                value = float(value.strip()) if kind is float else int(value.strip())
            except ValueError:
                expected = "a number" if kind is float else "an integer"
                raise ConfigError(f"{what}: expected {expected}, got {value!r}") from None
        if isinstance(value, float) and kind is int and value.is_integer():
            value = int(value)
        if kind is int and isinstance(value, int):
            return value
        if kind is float and isinstance(value, (int, float)):
            return float(value)
        raise ConfigError(f"{what}: expected {'an integer' if kind is int else 'a number'}, got {value!r}")
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # e.g. "redis_port": 6379
    raise ConfigError(f"{what}: expected a string, got {value!r}")


def parse_namespaces(value: Any, source: str, warnings: list[str]) -> list[dict[str, Any]]:
    """A ``namespaces`` list (a JSON string from env/flags) as checked dicts."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"{source}: namespaces: not a JSON list") from None
    if not isinstance(value, list):
        raise ConfigError(f"{source}: namespaces: expected a list of objects")
    result = []
    for index, item in enumerate(value):
        where = f"{source}: namespaces[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected an object with a name")
        name = item.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"{where}: name missing or not a string")
        entry: dict[str, Any] = {"name": name}
        for key, raw in item.items():
            if key == "name":
                continue
            if key not in CHANNEL_TYPES:
                warnings.append(f"{where} ({name}): unknown key {key!r} ignored")
                continue
            entry[key] = coerce(key, CHANNEL_TYPES[key], raw, f"{where} ({name})")
        result.append(entry)
    return result


def parse_layer(raw: Mapping[str, Any], source: str, warnings: list[str]) -> dict[str, Any]:
    """One layer (file, env or flags) as ``{key: typed value}``; aliases resolved,
    unknown keys reported in ``warnings`` (not fatal)."""
    layer: dict[str, Any] = {}
    for key, value in raw.items():
        name = ALIASES.get(key, key)
        if name == "namespaces":
            layer[name] = parse_namespaces(value, source, warnings)
        elif name in SCALAR_TYPES:
            layer[name] = coerce(name, SCALAR_TYPES[name], value, source)
        elif name in IGNORED_KEYS:
            warnings.append(f"{source}: {key!r} is a Centrifugo option sockhub does not use; ignored")
        else:
            warnings.append(f"{source}: unknown key {key!r} ignored")
    return layer


def read_file(path: str) -> dict[str, Any]:
    """The top-level mapping of a JSON, TOML (.toml) or YAML (.yaml/.yml) file."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    suffix = file.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text.decode())
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text) if text.strip() else {}
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not valid {suffix.lstrip('.') or 'json'}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of options")
    return data


def env_layer(environ: Mapping[str, str]) -> dict[str, str]:
    """``SOCKHUB_<KEY>`` variables as raw ``{key: string}``."""
    keys = list(SCALAR_TYPES) + ["namespaces"]
    return {k: environ[ENV_PREFIX + k.upper()] for k in keys if ENV_PREFIX + k.upper() in environ}


def build(layers: list[dict[str, Any]]) -> Options:
    """Options from parsed layers merged in order (later wins), validated."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    top = {k: v for k, v in merged.items() if k in OPTION_TYPES}
    channel = ChannelOptions(**{k: v for k, v in merged.items() if k in CHANNEL_TYPES})
    namespaces = [
        Namespace(ns["name"], ChannelOptions(**{k: v for k, v in ns.items() if k != "name"}))
        for ns in merged.get("namespaces", [])
    ]
    options = Options(**top, channel=channel, namespaces=namespaces)
    validate(options)
    return options


def validate(options: Options) -> None:
    """Raise ConfigError for the first thing wrong with ``options``."""
    if options.engine not in ENGINES:
        raise ConfigError(f"engine: unknown engine {options.engine!r} (use memory or redis)")
    if options.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"log_level: unknown level {options.log_level!r} ({', '.join(LOG_LEVELS)})")
    if options.log_format not in ("text", "json"):
        raise ConfigError(f"log_format: {options.log_format!r} is neither text nor json")
    if not options.secret and not options.insecure:
        raise ConfigError("secret: required unless insecure is on (sockhub genconfig FILE writes one)")
    for key in ("port", "api_port", "admin_port"):
        value = getattr(options, key)
        if not (0 <= value <= 65535) or (key == "port" and value == 0):
            raise ConfigError(f"{key}: {value} is not a TCP port")
    if options.ssl and not (options.ssl_cert and options.ssl_key):
        raise ConfigError("ssl: needs ssl_cert and ssl_key")
    for key, kind in SCALAR_TYPES.items():
        value = getattr(options.channel if key in CHANNEL_TYPES else options, key)
        if kind in (int, float) and value < 0:
            raise ConfigError(f"{key}: must not be negative, got {value}")
    for key in ("private_channel_prefix", "namespace_channel_boundary", "user_channel_boundary",
                "user_channel_separator", "client_channel_boundary"):
        if not getattr(options, key):
            raise ConfigError(f"{key}: must not be empty")
    if options.http_prefix and (not options.http_prefix.startswith("/") or options.http_prefix.endswith("/")):
        raise ConfigError(f"http_prefix: {options.http_prefix!r} must start with / and not end with /")
    _validate_namespaces(options.namespaces)


def _validate_namespaces(namespaces: list[Namespace]) -> None:
    seen: set[str] = set()
    for ns in namespaces:
        if not NAMESPACE_NAME.match(ns.name):
            raise ConfigError(f"namespaces: bad name {ns.name!r} (letters, digits, - and _, at least 2)")
        if ns.name in seen:
            raise ConfigError(f"namespaces: name {ns.name!r} used twice")
        seen.add(ns.name)


@dataclass(frozen=True)
class ConfigSource:
    """Where a running server's options come from, kept so SIGHUP can read
    them again: the file path, the environment and the flags given."""

    path: str | None = None
    environ: Mapping[str, str] | None = None
    flags: Mapping[str, Any] | None = None

    def load(self) -> tuple[Options, list[str]]:
        """Read every layer again; returns the options and the warnings (unknown
        keys) for the caller to log.  Raises ConfigError."""
        warnings: list[str] = []
        layers = []
        if self.path:
            layers.append(parse_layer(read_file(self.path), self.path, warnings))
        if self.environ:
            layers.append(parse_layer(env_layer(self.environ), "environment", warnings))
        if self.flags:
            layers.append(parse_layer(self.flags, "flags", warnings))
        return build(layers), warnings


def load_options(path: str | None = None, environ: Mapping[str, str] | None = None,
                 flags: Mapping[str, Any] | None = None) -> Options:
    """Options from a file, environment and flags, ignoring the warnings."""
    return ConfigSource(path, environ, flags).load()[0]
