"""``sockhub nginx-conf``: a ready nginx.conf for several nodes.

The one template of the project's nginx setup (sticky by SockJS session id,
websocket upgrade, streaming without buffering); ``nginx.conf`` at the
repository root is this template rendered with the defaults, and the tests
render it for their own ports and paths.  Every setting an operator would
otherwise edit by hand is a flag: the listen address, the nodes, where the
pid file, logs and temporary files go, the worker user and count.

Values are checked before they are written (an address is ``PORT`` or
``HOST:PORT``, a path has no blanks nor ``;{}``), so a flag can never inject
a directive; a bad one is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import Callable, NoReturn, Sequence

DEFAULT_LISTEN = "80"
DEFAULT_UPSTREAMS = ("127.0.0.1:8001", "127.0.0.1:8002")
DEFAULT_PID = "/run/nginx-sockhub.pid"
DEFAULT_ERROR_LOG = "/var/log/nginx/sockhub-error.log"
DEFAULT_ACCESS_LOG = "/var/log/nginx/sockhub-access.log"
#: nginx's temporary directories, set under ``--run-dir`` (the compiled-in
#: ones, /var/lib/nginx/... on Debian, are writable by root only)
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")

_HOST = r"(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])"
_ADDRESS = re.compile(rf"(?:{_HOST}:)?(\d{{1,5}})")
_UPSTREAM = re.compile(rf"{_HOST}:(\d{{1,5}})")
_PATH = re.compile(r"/[^\s;{}'\"\\$#]*")
#: a URL path prefix, used inside a location and a regular expression
_PREFIX = re.compile(r"(?:/[A-Za-z0-9_-]+)+")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,31}(?: [A-Za-z_][A-Za-z0-9_-]{0,31})?")

TEMPLATE = """\
# nginx in front of several sockhub nodes (Redis engine), sticky by SockJS session.
# Rendered by: @COMMAND@
# Render it again with other flags rather than editing it (sockhub nginx-conf --help);
# docs/deploy.md runs it.  sockhub's http_prefix must match --http-prefix.
#
#   nginx -c /path/to/nginx.conf

@USER@worker_processes @WORKERS@;
# two descriptors per proxied client (its own and the node's); docs/deploy.md
worker_rlimit_nofile 65536;
pid @PID@;
error_log @ERROR_LOG@ warn;

events {
    worker_connections 10240;
}

http {
    access_log @ACCESS_LOG@;
@TEMP_PATHS@
    # websocket upgrade: pass "Connection: upgrade" only when the client asked;
    # otherwise no Connection header, so upstream keepalive (below) is reused
    # by polls and sends.
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ""      "";
    }

    # Sticky sessions by the SockJS session id, taken from the URL
    # /connection/<server>/<session>/<transport> (protocol v2's SockJS:
    # /connection/sockjs/<server>/<session>/<transport>, matched first):
    # every request of one session (a poll, its xhr_send, the next poll)
    # reaches the same node, while the sessions of one client IP still
    # spread over all nodes.  Every other URL (/connection/info, the raw
    # websocket, /api/, the web pages) has an empty key, which the hash
    # balancer treats as round-robin.
    map $uri $sockjs_session {
        ~^@PREFIX@/connection/sockjs/[^/.]+/([^/.]+)/  $1;
        ~^@PREFIX@/connection/[^/.]+/([^/.]+)/  $1;
        default                         "";
    }

    upstream sockhub {
        hash $sockjs_session consistent;
        # Alternative when URLs must not decide: one client IP -> one node.
        # ip_hash;

        # nodes begin
@SERVERS@
        # nodes end

        keepalive 32;
        # Shorter than sockhub's http_keepalive_timeout (30 s): nginx, not the
        # node, ends an idle upstream connection, so a POST never races a close.
        keepalive_timeout 20s;
    }

    server {
        listen @LISTEN@;

        # Every header set here, once: a location with a proxy_set_header of
        # its own would inherit none of these (nginx's rule), and sockhub
        # would see Host "sockhub" and no client address.
        proxy_http_version 1.1;
        # $http_host is the Host the browser sent, port included: the admin
        # socket's same-origin check compares it with the Origin header, so
        # $host (which drops the port) breaks the admin page on any port but 80.
        proxy_set_header Host $http_host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        # websocket upgrades (client and admin sockets); for any other
        # request $connection_upgrade is empty, so no Connection header goes
        # upstream and its keepalive connection is reused.
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;

        # Idle timeouts: sockhub sends a SockJS heartbeat (or a websocket
        # ping, or protocol v2's ping {}) every 25 s on every transport, so
        # 60 s (nginx's default, spelled out here) is never reached by a live
        # connection.  Keep this above heartbeat_delay / ping_interval if you
        # change those.
        proxy_read_timeout 60s;
        proxy_send_timeout 60s;

        location @PREFIX@/connection/ {
            proxy_pass http://sockhub;
            # Streaming transports (xhr_streaming, eventsource, htmlfile, and
            # protocol v2's http_stream and sse) must reach the browser frame
            # by frame.
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_cache off;
            gzip off;
        }

        # Protocol v2's emulation requests (the commands of an HTTP-streaming
        # or SSE session): the session id is in the body, so no URL makes
        # them sticky; any node will do, it forwards the request to the node
        # holding the session's stream over Redis.  Their streams
        # (/connection/http_stream, /connection/sse) go through the location
        # above, unbuffered.  64 KiB: sockhub's own bound (413 past it).
        location = @PREFIX@/emulation {
            proxy_pass http://sockhub;
            client_max_body_size 64k;
        }

        # The signed HTTP API: any node will do (empty hash key: round-robin).
        location @PREFIX@/api/ {
            proxy_pass http://sockhub;
            # sockhub's api_max_body_size (nginx's own default is 1 MiB)
            client_max_body_size 10m;
        }

        # Web interface, admin socket and health (metrics too with --prometheus).
        location / {
            proxy_pass http://sockhub;
            proxy_buffering off;
        }
    }
}
"""


@dataclass(frozen=True)
class NginxSettings:
    """What differs between one nginx setup and another."""

    listen: str = DEFAULT_LISTEN
    upstreams: tuple[str, ...] = DEFAULT_UPSTREAMS
    #: pid file, logs and temporary directories under this directory ("" : system paths)
    run_dir: str = ""
    #: the ``user`` directive ("" : none; nginx's default when started as root)
    user: str = ""
    workers: str = "auto"
    #: sockhub's ``http_prefix`` ("" or "/rt": the client URLs are <prefix>/connection/...)
    http_prefix: str = ""
    #: the command line recorded in the file's header
    argv: tuple[str, ...] = field(default=())


def render(settings: NginxSettings) -> str:
    """The nginx.conf text for ``settings`` (already validated)."""
    run = settings.run_dir.rstrip("/")
    pid, error_log, access_log = ((f"{run}/nginx.pid", f"{run}/error.log", f"{run}/access.log") if run
                                  else (DEFAULT_PID, DEFAULT_ERROR_LOG, DEFAULT_ACCESS_LOG))
    temp = "".join(f"    {kind}_temp_path {run}/{kind}_temp;\n" for kind in TEMP_KINDS) if run else ""
    replacements = {
        "@COMMAND@": shlex.join(("sockhub", "nginx-conf", *settings.argv)),
        "@USER@": f"user {settings.user};\n" if settings.user else "",
        "@WORKERS@": settings.workers,
        "@PID@": pid, "@ERROR_LOG@": error_log, "@ACCESS_LOG@": access_log,
        "@TEMP_PATHS@": temp,
        "@SERVERS@": "\n".join(f"        server {address};" for address in settings.upstreams),
        "@LISTEN@": settings.listen,
        "@PREFIX@": settings.http_prefix.rstrip("/"),
    }
    text = TEMPLATE
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return text


class _Parser(argparse.ArgumentParser):
    """Errors as one line and exit status 2 (as the other subcommands)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _checked(pattern: re.Pattern[str], what: str, port_group: bool = True) -> Callable[[str], str]:
    """An argparse ``type``: ``value`` if it matches ``pattern`` in full
    (with a port 1..65535 in group 1 when ``port_group``)."""
    def check(value: str) -> str:
        found = pattern.fullmatch(value)
        if found is None or (port_group and not 0 < int(found.group(1)) < 65536):
            raise argparse.ArgumentTypeError(f"not {what}: {value!r}")
        return value
    return check


def _workers(value: str) -> str:
    if value != "auto" and not (value.isdigit() and 0 < int(value) <= 1024):
        raise argparse.ArgumentTypeError(f"expected 'auto' or 1..1024, got {value!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The flags of ``sockhub nginx-conf``."""
    p = _Parser(prog="sockhub nginx-conf",
                description="Print an nginx.conf for sockhub nodes behind one nginx (sticky by SockJS session).")
    p.add_argument("--listen", default=DEFAULT_LISTEN, type=_checked(_ADDRESS, "PORT or HOST:PORT"),
                   help=f"where nginx listens: PORT or HOST:PORT (default {DEFAULT_LISTEN})")
    p.add_argument("--upstream", action="append", metavar="HOST:PORT", type=_checked(_UPSTREAM, "HOST:PORT"),
                   help="a sockhub node; repeat for each (default: " + ", ".join(DEFAULT_UPSTREAMS) + ")")
    p.add_argument("--run-dir", default=None, metavar="DIR", type=_checked(_PATH, "an absolute path", False),
                   help=f"pid file, logs and temp files under DIR (default: {DEFAULT_PID}, /var/log/nginx/)")
    p.add_argument("--user", default=None, type=_checked(_USER, "a user name (and group)", False),
                   help="worker user ['USER [GROUP]'] when nginx starts as root (default: nginx's own)")
    p.add_argument("--http-prefix", default=None, metavar="PREFIX", type=_checked(_PREFIX, "a /path", False),
                   help="sockhub's http_prefix, e.g. /rt (default: none)")
    p.add_argument("--worker-processes", default="auto", type=_workers, help="'auto' (default) or a count")
    return p


def main(argv: Sequence[str]) -> int:
    """``sockhub nginx-conf [flags]``: print the rendered config on stdout."""
    args = parser().parse_args(argv)
    settings = NginxSettings(listen=args.listen, upstreams=tuple(args.upstream or DEFAULT_UPSTREAMS),
                             run_dir=args.run_dir or "", user=args.user or "", workers=args.worker_processes,
                             http_prefix=args.http_prefix or "",
                             argv=tuple(argv))
    sys.stdout.write(render(settings))
    return 0
