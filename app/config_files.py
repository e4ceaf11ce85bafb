"""Reading a config file: JSON, TOML (``.toml``) or YAML (``.yaml``/``.yml``)
into its top-level mapping, strictly (UTF-8, nesting up to ``MAX_DEPTH``,
JSON as transports.strictjson decodes it), every problem one
:class:`ConfigError` line that names the file and, for a syntax error, the
line and column.  app.config types and merges what is read."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from transports.strictjson import MAX_DEPTH, JSONInputError, loads


class ConfigError(Exception):
    """A configuration problem, described in one line."""


def read_file(path: str) -> dict[str, Any]:
    """The top-level mapping of a JSON, TOML (.toml) or YAML (.yaml/.yml) file."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    suffix = file.suffix.lower()
    kind = suffix.lstrip(".") if suffix in (".toml", ".yaml", ".yml") else "json"
    data = _parse(text, kind, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of options")
    if _too_deep(data):
        raise ConfigError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    return data


def _parse(text: bytes, kind: str, path: str) -> Any:
    """The document of a file's bytes; ConfigError (one line) for anything the
    parser refuses, including nesting too deep for it and bytes not UTF-8."""
    try:
        if kind == "toml":
            return tomllib.loads(text.decode("utf-8"))
        if kind != "json":
            return yaml.safe_load(text)
        return loads(text) if text.strip() else {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid {kind}: not UTF-8") from None
    except RecursionError:  # the pure-Python TOML and YAML parsers recurse per level
        raise ConfigError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, OverflowError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {kind}: {_parse_problem(exc)}") from None


def _parse_problem(exc: Exception) -> str:
    """A parser's complaint in one line, with the line and column where it
    knows them (TOML's own message names them already)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark, context = exc.problem_mark, exc.context_mark
        since = f"; {exc.context} from line {context.line + 1}" if exc.context and context else ""
        return f"{exc.problem or type(exc).__name__} (at line {mark.line + 1}, column {mark.column + 1}{since})"
    if isinstance(exc, JSONInputError) and exc.where:
        return f"{exc} (at line {exc.where[0]}, column {exc.where[1]})"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _too_deep(data: Any) -> bool:
    """Whether a parsed document nests lists and mappings deeper than
    MAX_DEPTH (a cycle, which YAML aliases can make, is too deep).  Level by
    level; a container shared by aliases is looked at once per level, so a
    "billion laughs" file costs its size times MAX_DEPTH at most."""
    level = [data]
    for _ in range(MAX_DEPTH):
        children: dict[int, Any] = {}
        for item in level:
            values = item.values() if isinstance(item, dict) else item
            children.update((id(v), v) for v in values if isinstance(v, (dict, list)))
        if not children:
            return False
        level = list(children.values())
    return True
