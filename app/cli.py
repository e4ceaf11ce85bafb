"""The ``sockhub`` command.

``sockhub [--config FILE] [--<option> VALUE ...]`` runs the server; every option
of app.options has a flag (generated, see app.config).  Subcommands:
``genconfig FILE``, ``checkconfig FILE``, ``gentoken --user ID``,
``sockjs-test-server --port N``.  A configuration problem is reported as one
line on stderr with exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from app.config import CHANNEL_TYPES, SCALAR_TYPES, ConfigError, ConfigSource, load_options
from app.nginx_conf import main as nginx_main
from app.ops import OpsError
from app.options import Options

logger = logging.getLogger("sockhub.cli")

EXIT_CONFIG = 2
#: Centrifugo's one-letter flags.
SHORT_FLAGS: dict[str, str] = {
    "port": "-p", "address": "-a", "engine": "-e", "name": "-n", "debug": "-d", "web": "-w",
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message}\n")


def _option_help(key: str, defaults: Options) -> str:
    channel = key in CHANNEL_TYPES
    default = getattr(defaults.channel if channel else defaults, key)
    scope = "channel option, " if channel else ""
    return f"{scope}default {default!r}; env SOCKHUB_{key.upper()}"


def server_parser() -> OneLineParser:
    """The flags of the server command, one for each option field."""
    parser = OneLineParser(
        prog="sockhub",
        description="Real-time messaging server, wire-compatible with Centrifugo 1.x. "
        "Subcommands: genconfig FILE, checkconfig FILE, gentoken --user ID, nginx-conf, "
        "sockjs-test-server.",
    )
    parser.add_argument("-c", "--config", metavar="FILE", help="JSON, TOML (.toml) or YAML (.yaml) file")
    defaults = Options()
    for key, kind in SCALAR_TYPES.items():
        names = [f"--{key}"] + ([SHORT_FLAGS[key]] if key in SHORT_FLAGS else [])
        if kind is bool:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, default=None,
                                help=_option_help(key, defaults))
        else:
            parser.add_argument(*names, metavar=kind.__name__.upper(), default=None,
                                help=_option_help(key, defaults))
    parser.add_argument("--namespaces", metavar="JSON", default=None, help="JSON list of namespaces")
    return parser


def flags_of(namespace: argparse.Namespace) -> dict[str, Any]:
    """The option flags actually given (None means not given)."""
    return {k: v for k, v in vars(namespace).items() if v is not None and k != "config"}


def run_server(argv: Sequence[str]) -> int:
    args = server_parser().parse_args(argv)
    source = ConfigSource(args.config, dict(os.environ), flags_of(args))
    options, warnings = source.load()
    from app.logs import setup_logging
    from app.server import make_app

    setup_logging(options.log_level, options.log_format, options.log_file)
    for warning in warnings:
        logger.warning("%s", warning)
    server = make_app(options, source)
    return server.run()


def genconfig(argv: Sequence[str]) -> int:
    """Write a new config file with a random secret; refuses to overwrite."""
    parser = OneLineParser(prog="sockhub genconfig", description="write a config with a random secret")
    parser.add_argument("file", nargs="?", default="config.json")
    args = parser.parse_args(argv)
    path = Path(args.file)
    if path.exists():
        raise ConfigError(f"{path}: exists already; not overwritten")
    secret = str(uuid.uuid4())
    suffix = path.suffix.lower()
    if suffix == ".toml":
        text = f'secret = "{secret}"\n'
    elif suffix in (".yaml", ".yml"):
        text = f'secret: "{secret}"\n'
    else:
        text = json.dumps({"secret": secret}, indent=2) + "\n"
    try:
        path.write_text(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    print(f"{path}: written")
    return 0


def checkconfig(argv: Sequence[str]) -> int:
    """Validate a config file (with the environment, as the server would)."""
    parser = OneLineParser(prog="sockhub checkconfig", description="validate a config file")
    parser.add_argument("file")
    args = parser.parse_args(argv)
    _, warnings = ConfigSource(args.file, dict(os.environ)).load()
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file}: ok")
    return 0


def gentoken(argv: Sequence[str]) -> int:
    """Print connect parameters (user, timestamp, info, token) as JSON."""
    from app.dialects.v1x.auth import connection_token

    parser = OneLineParser(prog="sockhub gentoken", description="print connect parameters for a user")
    parser.add_argument("--user", required=True, help="user id ('' for anonymous)")
    parser.add_argument("--info", default="", help="connection info, a JSON string")
    parser.add_argument("--timestamp", default=None, help="Unix seconds (default: now)")
    parser.add_argument("-c", "--config", metavar="FILE")
    parser.add_argument("--secret", default=None, help="overrides the config's secret")
    args = parser.parse_args(argv)
    flags = {"secret": args.secret} if args.secret is not None else {}
    options = load_options(args.config, dict(os.environ), flags)
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


def sockjs_test_server(argv: Sequence[str]) -> int:
    """The server the official sockjs-protocol suite runs against."""
    from app.logs import setup_logging
    from transports.testserver import serve

    parser = OneLineParser(prog="sockhub sockjs-test-server", description="SockJS conformance server")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--log_level", default="info")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    serve(args.port, args.address)  # blocks until interrupted
    return 0


SUBCOMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "genconfig": genconfig,
    "checkconfig": checkconfig,
    "gentoken": gentoken,
    "sockjs-test-server": sockjs_test_server,
    "nginx-conf": nginx_main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = SUBCOMMANDS.get(args[0]) if args else None
    try:
        if command is not None:
            return command(args[1:])
        return run_server(args)
    except (ConfigError, OpsError) as exc:
        print(f"sockhub: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
