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

A file is typed: each value must have its option's type (a bool for a bool,
an integer for an int, a finite number for a float, a string for a string;
``"log_file": 1e308`` is an error, not a file named ``1e+308``).  Environment
variables and flags are text, parsed by the option's type.  A file that does
not parse, is not UTF-8 or nests deeper than ``MAX_DEPTH`` is an error too.
"""
from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping, get_type_hints

from app.config_files import ConfigError as ConfigError
from app.config_files import read_file
from app.config_names import (
    ALIASES,
    DURATION_KEYS,
    FIXED_VALUES,
    IGNORED_CHANNEL_KEYS,
    IGNORED_KEYS,
    INT_TEXT_KEYS,
    NEGATED,
    SPREAD,
    parse_duration,
)
from app.options import ChannelOptions, Namespace, Options
from app.proxy import checks
from transports.strictjson import loads

ENV_PREFIX = "SOCKHUB_"

LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "critical", "fatal", "none")
ENGINES = ("memory", "redis")
LOG_FORMATS = ("text", "json")
PROXY_HTTP_CLIENTS = ("auto", "curl", "simple")
V2_PERMISSIONS = ("auto", "1.x", "v5")
#: Centrifugo 2.x's pattern (internal/rule), dots included; matched whole (fullmatch)
NAMESPACE_NAME = re.compile(r"[-a-zA-Z0-9_.]{2,}")
_NUMBER = re.compile(r"[-+]?[0-9.eE+-]*")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


#: Longer unknown keys get no "did you mean" (difflib's cost grows with the length).
MAX_GUESSED_KEY = 64


class UnknownKey(str):
    """A warning about a key sockhub does not know at all (a typo?), as
    opposed to a Centrifugo key it accepts and does not use: the server logs
    both, ``sockhub checkconfig`` fails on this kind unless ``--lenient``.
    ``problem`` is the same without "ignored", for an error line."""

    problem: str

    def __new__(cls, where: str, key: Any, known: Iterable[str]) -> "UnknownKey":
        guess = isinstance(key, str) and len(key) <= MAX_GUESSED_KEY
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75) if guess else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self = super().__new__(cls, f"{where}: unknown key {_shown(key)} ignored{hint}")
        self.problem = f"{where}: unknown key {_shown(key)}{hint}"
        return self


def _hints(cls: type) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


#: Scalar keys: every Options field but the two structured ones, then the channel options.
OPTION_TYPES: dict[str, Any] = {
    k: t for k, t in _hints(Options).items() if k not in ("channel", "namespaces")
}
CHANNEL_TYPES: dict[str, Any] = _hints(ChannelOptions)
SCALAR_TYPES: dict[str, Any] = {**OPTION_TYPES, **CHANNEL_TYPES}
#: Centrifugo v5's Redis server lists: a string or a list of ``host:port``
#: or ``redis://`` addresses each (and 2.x's ``redis_cluster_addrs``).
REDIS_ADDRESS_KEYS = frozenset({"redis_address", "redis_cluster_address", "redis_sentinel_address",
                                "redis_cluster_addrs"})
#: Every key a file may hold without an "unknown key" warning (the ignored
#: Centrifugo keys are warned about, as not used).
KNOWN_KEYS: frozenset[str] = (frozenset(SCALAR_TYPES) | {"namespaces"} | frozenset(ALIASES) | REDIS_ADDRESS_KEYS
                               | frozenset(NEGATED) | frozenset(SPREAD))


def _describe(key: str, source: str) -> str:
    """How the user spelled ``key`` in ``source``, for error lines."""
    if source == "flags":
        return f"--{key}"
    if source == "environment":
        return ENV_PREFIX + key.upper()
    return f"{source}: {key}"


#: What each option type expects, for error lines.
EXPECTED: dict[Any, str] = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
                            list[str]: "a list of strings"}

def _duration(key: str, kind: Any, value: str, what: str) -> int | float:
    seconds = parse_duration(value)
    if seconds is None or not _finite(seconds):
        raise _wrong(what, kind, value)
    return math.ceil(seconds) if kind is int else seconds


def _string_list(what: str, value: Any) -> list[str]:
    """A list of strings from a file, or from text: a JSON list or
    comma-separated words."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = loads(text)
            except ValueError:
                raise ConfigError(f"{what}: not a JSON list") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _wrong(what, list[str], value)
    return [_utf8(what, item) for item in value]

#: str options a Centrifugo config gives as a number (``"redis_port": 6379``):
#: an integer there is taken as its decimal text.
NUMBER_TEXT_KEYS = frozenset({"redis_port"})
#: String options a file may also give as a list of strings (joined with ","),
#: as Centrifugo's config spells them.
LIST_TEXT_KEYS = frozenset({"proxy_http_headers", "proxy_emulated_headers"})
#: String options holding JSON that a file may give as the JSON value itself
#: (a list of objects), as Centrifugo's config spells them.
JSON_TEXT_KEYS = frozenset({"proxy_http_status_code_transforms"})


def _shown(value: Any) -> str:
    """A short, printable description of a wrong value, for an error line
    (never the repr of a container or of a 5,000-digit integer)."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:56] + "...'"
    if isinstance(value, bool) or value is None:
        return "null" if value is None else str(value).lower()
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a very large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _wrong(what: str, kind: Any, value: Any) -> ConfigError:
    return ConfigError(f"{what}: expected {EXPECTED[kind]}, got {_shown(value)}")


def _utf8(what: str, text: str) -> str:
    """``text`` if it can be written as UTF-8 (no lone surrogates, as from
    an escape in a file or undecodable bytes in the environment)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what}: not valid UTF-8 text") from None
    return text


def check_typed(key: str, kind: Any, value: Any, source: str) -> Any:
    """A value from a file (JSON, TOML, YAML) or a JSON namespaces list, whose
    type must be the option's: a bool for a bool, an integer (not a bool) for
    an int, a finite int or float for a float, a string for a string (an
    integer too for NUMBER_TEXT_KEYS), a list of strings for a list; a
    duration option also takes duration text.  Raises ConfigError."""
    what = _describe(key, source)
    if kind == list[str]:
        if not isinstance(value, list):
            raise _wrong(what, kind, value)
        return _string_list(what, value)
    if key in DURATION_KEYS and isinstance(value, str):
        return _duration(key, kind, value, what)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif isinstance(value, bool):
        pass  # True is an int in Python, not in a config file
    elif kind is int:
        if isinstance(value, int):
            return value
        if key in INT_TEXT_KEYS and isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and _finite(value):
            return float(value)
    elif isinstance(value, str):
        return _utf8(what, value)
    elif isinstance(value, int) and key in NUMBER_TEXT_KEYS and value.bit_length() <= 64:
        return str(value)
    elif key in LIST_TEXT_KEYS and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return _utf8(what, ",".join(value))
    elif key in JSON_TEXT_KEYS and isinstance(value, list):
        return _utf8(what, json.dumps(value))
    raise _wrong(what, kind, value)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def coerce(key: str, kind: Any, value: Any, source: str) -> Any:
    """``value`` as ``kind`` (bool, int, float or str), parsed from its text
    when it is a string (environment, flags); a typed value (a flag given as
    True by argparse or a caller) is checked as in a file."""
    if not isinstance(value, str):
        return check_typed(key, kind, value, source)
    what = _describe(key, source)
    if kind == list[str]:
        return _string_list(what, value)
    text = value.strip()
    if key in DURATION_KEYS and text and not _NUMBER.fullmatch(text):
        return _duration(key, kind, text, what)
    if kind is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise _wrong(what, kind, value)
    if kind is int or kind is float:
        try:
            number = float(text) if kind is float else int(text)
        except ValueError:
            raise _wrong(what, kind, value) from None
        if not _finite(number):
            raise _wrong(what, kind, value)
        return number
    return _utf8(what, value)


def parse_namespaces(value: Any, source: str, warnings: list[str]) -> list[dict[str, Any]]:
    """A ``namespaces`` list (a JSON string from env/flags) as checked dicts."""
    if isinstance(value, str):
        try:
            value = loads(value)
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
        name = _utf8(f"{where}: name", name)
        label = name if NAMESPACE_NAME.fullmatch(name) and len(name) <= 60 else _shown(name)
        entry: dict[str, Any] = {"name": name}
        for key, raw in item.items():
            if key == "name":
                continue
            name = ALIASES.get(key, key)
            if name in IGNORED_CHANNEL_KEYS:
                if _fixed(name, raw):
                    continue
                warnings.append(f"{where} ({label}): {_shown(key)} is a Centrifugo option sockhub does not use; "
                                "ignored")
                continue
            if name not in CHANNEL_TYPES:
                warnings.append(UnknownKey(f"{where} ({label})", key, CHANNEL_TYPES))
                continue
            entry[name] = check_typed(name, CHANNEL_TYPES[name], raw, f"{where} ({label})")
        result.append(entry)
    return result


def _fixed(key: str, value: Any) -> bool:
    """Whether ``value`` is the one sockhub always acts on (FIXED_VALUES):
    no warning then."""
    return key in FIXED_VALUES and (value is FIXED_VALUES[key] or str(value).lower() == str(FIXED_VALUES[key]).lower())


def parse_layer(raw: Mapping[str, Any], source: str, warnings: list[str],
                typed: bool = False) -> dict[str, Any]:
    """One layer (file, env or flags) as ``{key: typed value}``; aliases resolved,
    unknown keys reported in ``warnings`` (not fatal).  ``typed`` (a file):
    each value must have its option's type; else strings are parsed."""
    check = check_typed if typed else coerce
    layer: dict[str, Any] = {}
    for key, value in raw.items():
        name = ALIASES.get(key, key)
        if name == "namespaces":
            layer[name] = parse_namespaces(value, source, warnings)
        elif name in REDIS_ADDRESS_KEYS:
            layer.update(redis_addresses(name, value, source))
        elif name in NEGATED:  # a Centrifugo 2.x "..._disable" switch
            layer[NEGATED[name]] = not check(name, bool, value, source)
        elif name in SPREAD:  # one Centrifugo key, several options: checked as itself
            port = check(name, int, value, source)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{_describe(key, source)}: {port} is not a TCP port")
            layer.update(dict.fromkeys(SPREAD[name], port))
        elif name in SCALAR_TYPES:
            layer[name] = check(name, SCALAR_TYPES[name], value, source)
        elif name in IGNORED_KEYS:
            if _fixed(name, value):
                continue
            warnings.append(f"{source}: {_shown(key)} is a Centrifugo option sockhub does not use; ignored")
        else:
            warnings.append(UnknownKey(source, key, KNOWN_KEYS))
    return layer




def redis_addresses(key: str, value: Any, source: str) -> dict[str, Any]:
    """The options a v5 Redis address key stands for: ``redis_address`` is
    ``redis_url`` (a ``redis://`` URL per server, sharding when several),
    ``redis_cluster_address`` the same with ``redis_cluster`` on (2.x's
    ``redis_cluster_addrs`` too, its items comma-separated lists), and
    ``redis_sentinel_address`` is ``redis_sentinels``."""
    items = _string_list(_describe(key, source), [value] if isinstance(value, str) else value)
    if key == "redis_cluster_addrs":  # Centrifugo 2.x's: each item "host:port,host:port"
        items = [part.strip() for item in items for part in item.split(",") if part.strip()]
    if key == "redis_sentinel_address":
        return {"redis_sentinels": ",".join(item.split("://", 1)[-1] for item in items)}
    urls = ",".join(item if item.startswith(("redis://", "rediss://")) else
                    "redis://" + item.split("://", 1)[-1] for item in items)
    return {"redis_url": urls, **({"redis_cluster": True} if key != "redis_address" else {})}


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
        raise ConfigError(f"engine: unknown engine {_shown(options.engine)} (use memory or redis)")
    if options.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"log_level: unknown level {_shown(options.log_level)} ({', '.join(LOG_LEVELS)})")
    if options.log_format not in LOG_FORMATS:
        raise ConfigError(f"log_format: {_shown(options.log_format)} is neither text nor json")
    if not (options.secret or options.insecure or options.token_hmac_secret_key or options.token_rsa_public_key
            or options.token_ecdsa_public_key):
        raise ConfigError("secret: required unless insecure is on or a token key (token_hmac_secret_key, "
                          "token_rsa_public_key, token_ecdsa_public_key) is set (sockhub genconfig FILE writes one)")
    if options.v2_permissions not in V2_PERMISSIONS:
        raise ConfigError(f"v2_permissions: {_shown(options.v2_permissions)} is not one of "
                          f"{', '.join(V2_PERMISSIONS)}")
    _validate_public_keys(options)
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
        raise ConfigError(f"http_prefix: {_shown(options.http_prefix)} must start with / and not end with /")
    _validate_proxy(options)
    _validate_namespaces(options.namespaces)


def _validate_proxy(options: Options) -> None:
    problem = checks.problem(options, PROXY_HTTP_CLIENTS)
    if problem:
        raise ConfigError(problem)


def _validate_public_keys(options: Options) -> None:
    """The PEM token keys must be public keys of their kind."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    for key, kind in (("token_rsa_public_key", rsa.RSAPublicKey), ("token_ecdsa_public_key", ec.EllipticCurvePublicKey)):
        pem = getattr(options, key)
        if not pem:
            continue
        try:
            loaded = load_pem_public_key(pem.encode())
        except (ValueError, TypeError):
            raise ConfigError(f"{key}: not a PEM public key") from None
        if not isinstance(loaded, kind):
            raise ConfigError(f"{key}: a PEM public key of another kind")


def _validate_namespaces(namespaces: list[Namespace]) -> None:
    seen: set[str] = set()
    for ns in namespaces:
        if not NAMESPACE_NAME.fullmatch(ns.name):
            raise ConfigError(f"namespaces: bad name {_shown(ns.name)} (letters, digits, -, _ and ., at least 2)")
        if ns.name in seen:
            raise ConfigError(f"namespaces: name {_shown(ns.name)} used twice")
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
            layers.append(parse_layer(read_file(self.path), self.path, warnings, typed=True))
        if self.environ:
            layers.append(parse_layer(env_layer(self.environ), "environment", warnings))
        if self.flags:
            layers.append(parse_layer(self.flags, "flags", warnings))
        return build(layers), warnings


def load_options(path: str | None = None, environ: Mapping[str, str] | None = None,
                 flags: Mapping[str, Any] | None = None) -> Options:
    """Options from a file, environment and flags, ignoring the warnings."""
    return ConfigSource(path, environ, flags).load()[0]
