"""The helper commands of ``sockhub``: ``genconfig``, ``checkconfig``,
``gentoken`` and ``version`` (app.cli dispatches to them).

Like Centrifugo, each takes the config file as ``-c/--config FILE`` or as a
positional argument, and uses ``./config.json`` when neither is given.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import NoReturn, Sequence

import app
from app.config import ConfigError, ConfigSource, UnknownKey, load_options

EXIT_CONFIG = 2
#: The file every command reads when no ``--config`` is given and it exists
#: (in the working directory), and the file a bare ``genconfig`` writes.
DEFAULT_CONFIG = "config.json"
#: The keys genconfig writes, each with a fresh random value.
GENERATED_KEYS = ("secret", "admin_password", "admin_secret", "api_key")


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message}\n")


def default_config() -> str | None:
    """``./config.json`` when it exists, else None (no file)."""
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None


def _file_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default=None, help=f"the config file (default: ./{DEFAULT_CONFIG})")
    parser.add_argument("-c", "--config", metavar="FILE", default=None, help="the same, as a flag")


def _file_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    file: str | None = args.file
    flag: str | None = args.config
    if file is not None and flag is not None and file != flag:
        parser.error(f"two config files given: {file} and {flag}")
    return flag if flag is not None else file


def generated_values() -> dict[str, str]:
    """A random value for each of GENERATED_KEYS (the secret as a uuid4,
    as Centrifugo's genconfig writes it)."""
    return {"secret": str(uuid.uuid4()),
            "admin_password": secrets.token_urlsafe(18),
            "admin_secret": secrets.token_urlsafe(32),
            "api_key": secrets.token_urlsafe(32)}


def config_text(values: dict[str, str], suffix: str) -> str:
    """A config file of string ``values`` in the format of ``suffix``."""
    if suffix == ".toml":
        return "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    if suffix in (".yaml", ".yml"):
        return "".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items())
    return json.dumps(values, indent=2) + "\n"


def genconfig(argv: Sequence[str]) -> int:
    """Write a new config file with a random secret and admin login; refuses
    to overwrite.  Says which file and which keys, and how to log in."""
    parser = OneLineParser(prog="sockhub genconfig",
                           description="write a new config file with a random secret, api_key, admin_password "
                           "and admin_secret (JSON, or TOML/YAML by the file's suffix)")
    _file_arguments(parser)
    args = parser.parse_args(argv)
    path = Path(_file_of(parser, args) or DEFAULT_CONFIG)
    if path.exists():
        raise ConfigError(f"{path}: exists already; not overwritten")
    text = config_text(generated_values(), path.suffix.lower())
    try:
        with open(path, "x") as file:
            os.chmod(path, 0o600)  # it holds the secrets
            file.write(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    print(f"{path}: written with random {', '.join(GENERATED_KEYS)}")
    print(f"admin login (sockhub --web): the password is admin_password in {path.resolve()}")
    return 0


def checkconfig(argv: Sequence[str]) -> int:
    """Validate a config file with the environment, as the server would read
    it.  A key sockhub does not know fails the check (with the closest known
    key), unless ``--lenient``; Centrifugo keys it does not use are warnings."""
    parser = OneLineParser(prog="sockhub checkconfig",
                           description="validate a config file (with the SOCKHUB_* environment); "
                           "exit status 0 when the server would start with it")
    _file_arguments(parser)
    parser.add_argument("--lenient", action="store_true",
                        help="unknown keys are warnings, not errors (old files with keys of other tools)")
    args = parser.parse_args(argv)
    path = _file_of(parser, args) or DEFAULT_CONFIG
    _, warnings = ConfigSource(path, dict(os.environ)).load()
    unknown = [w for w in warnings if isinstance(w, UnknownKey)]
    for warning in warnings:
        if isinstance(warning, UnknownKey) and not args.lenient:
            print(f"error: {warning.problem}", file=sys.stderr)
        else:
            print(f"warning: {warning}", file=sys.stderr)
    if unknown and not args.lenient:
        print(f"sockhub: error: {path}: {len(unknown)} unknown key(s); fix them, "
              "or pass --lenient to ignore them", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: ok")
    return 0


def gentoken(argv: Sequence[str]) -> int:
    """Print connect parameters (user, timestamp, info, token) as JSON."""
    from app.dialects.v1x.auth import connection_token

    parser = OneLineParser(prog="sockhub gentoken", description="print connect parameters for a user")
    parser.add_argument("--user", required=True, help="user id ('' for anonymous)")
    parser.add_argument("--info", default="", help="connection info, a JSON string")
    parser.add_argument("--timestamp", default=None, help="Unix seconds (default: now)")
    parser.add_argument("-c", "--config", metavar="FILE", help=f"the config file (default: ./{DEFAULT_CONFIG})")
    parser.add_argument("--secret", default=None, help="overrides the config's secret")
    args = parser.parse_args(argv)
    flags = {"secret": args.secret} if args.secret is not None else {}
    options = load_options(args.config or default_config(), dict(os.environ), flags)
    if not options.secret:
        raise ConfigError("secret: none configured; give --config FILE or --secret")
    if args.info:
        try:
            json.loads(args.info)
        except ValueError:
            raise ConfigError("--info: not valid JSON") from None
    timestamp = args.timestamp or str(int(time.time()))
    params = {"user": args.user, "timestamp": timestamp, "info": args.info,
              "token": connection_token(options.secret, args.user, timestamp, args.info)}
    print(json.dumps(params))
    return 0


def version(argv: Sequence[str]) -> int:
    """Print ``sockhub <version>`` (the same as ``sockhub --version``)."""
    OneLineParser(prog="sockhub version", description="print the version").parse_args(argv)
    print(f"sockhub {app.version()}")
    return 0
