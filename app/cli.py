"""The ``sockhub`` command.

``sockhub [-c FILE] [--<option> VALUE ...]`` runs the server; every option of
app.options has a flag (generated, see app.config) described in ``--help``
(app.option_docs).  Without ``--config``, ``./config.json`` is read when it
exists, as Centrifugo does.  Subcommands: ``genconfig``, ``checkconfig``,
``gentoken``, ``version`` (app.cli_commands); ``sockjs-test-server`` is
internal (the sockjs-protocol suite's server) and not listed in ``--help``.
A configuration problem is reported as one line on stderr with exit status
2, never a traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import app
from app.cli_commands import (DEFAULT_CONFIG, EXIT_CONFIG, OneLineParser, checkconfig, default_config,
                              genconfig, gentoken, version)
from app.config import CHANNEL_TYPES, SCALAR_TYPES, ConfigError, ConfigSource
from app.nginx_conf import main as nginx_main
from app.ops import OpsError
from app.option_docs import CHOICES, DESCRIPTIONS
from app.options import Options

logger = logging.getLogger("sockhub.cli")

#: Centrifugo's one-letter flags.
SHORT_FLAGS: dict[str, str] = {
    "port": "-p", "address": "-a", "engine": "-e", "name": "-n", "debug": "-d", "web": "-w",
}
USAGE = """\
sockhub [-c FILE] [--OPTION VALUE ...]   run the server
       sockhub genconfig [FILE]                 write a config file with random secrets
       sockhub checkconfig [FILE] [--lenient]   validate a config file
       sockhub gentoken --user ID [-c FILE]     print connect parameters for a user
       sockhub nginx-conf [--upstream H:P ...]  print an nginx.conf for these nodes
       sockhub version                          print the version"""


def option_help(key: str, defaults: Options) -> str:
    """The ``--help`` line of an option: what it does, its allowed values,
    its default and its environment variable."""
    default = getattr(defaults.channel if key in CHANNEL_TYPES else defaults, key)
    choices = f" (one of: {', '.join(CHOICES[key])})" if key in CHOICES else ""
    return f"{DESCRIPTIONS[key]}{choices}; default {default!r}; env SOCKHUB_{key.upper()}"


def server_parser() -> OneLineParser:
    """The flags of the server command, one for each option field."""
    parser = OneLineParser(
        prog="sockhub", usage=USAGE,
        description="Real-time messaging server, wire-compatible with Centrifugo 1.x. Options come from "
        "defaults, the config file, SOCKHUB_<OPTION> environment variables and flags, later ones winning.",
    )
    parser.add_argument("--version", action="version", version=f"sockhub {app.version()}")
    parser.add_argument("-c", "--config", metavar="FILE",
                        help=f"JSON, TOML (.toml) or YAML (.yaml) file (default: ./{DEFAULT_CONFIG} if present)")
    defaults = Options()
    for key, kind in SCALAR_TYPES.items():
        names = [f"--{key}"] + ([SHORT_FLAGS[key]] if key in SHORT_FLAGS else [])
        text = option_help(key, defaults)
        if kind is bool:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            metavar = "{" + ",".join(CHOICES[key]) + "}" if key in CHOICES else kind.__name__.upper()
            parser.add_argument(*names, metavar=metavar, default=None, help=text)
    parser.add_argument("--namespaces", metavar="JSON", default=None,
                        help='namespaces with their channel options, a JSON list: [{"name": "chat", "publish": true}]')
    return parser


def flags_of(namespace: argparse.Namespace) -> dict[str, Any]:
    """The option flags actually given (None means not given)."""
    return {k: v for k, v in vars(namespace).items() if v is not None and k != "config"}


def config_file(given: str | None) -> tuple[str | None, str]:
    """The config file to read and a log line saying where it came from."""
    if given:
        return given, f"config file {given}"
    found = default_config()
    if found:
        path = str(Path(found).resolve())
        return path, f"config file {path} (./{DEFAULT_CONFIG}, found in the working directory; -c FILE for another)"
    return None, f"no config file (none given, no ./{DEFAULT_CONFIG}): defaults, environment and flags"


def run_server(argv: Sequence[str]) -> int:
    args = server_parser().parse_args(argv)
    path, origin = config_file(args.config)
    source = ConfigSource(path, dict(os.environ), flags_of(args))
    options, warnings = source.load()
    from app.logs import setup_logging
    from app.server import make_app

    setup_logging(options.log_level, options.log_format, options.log_file)
    logger.info("sockhub %s: %s", app.version(), origin)
    for warning in warnings:
        logger.warning("%s", warning)
    server = make_app(options, source)
    return server.run()


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


#: Every subcommand; the internal ones are left out of ``--help`` (USAGE).
SUBCOMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "genconfig": genconfig,
    "checkconfig": checkconfig,
    "gentoken": gentoken,
    "version": version,
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
