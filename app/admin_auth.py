"""Admin login: the password check and the tokens the admin socket accepts.

``POST /auth/`` with a form field ``password`` answers ``{"token": "..."}``.
The token is our own opaque scheme, ``v1.<expires>.<nonce>.<hmac>``, where the
HMAC-SHA256 is keyed by ``admin_secret`` over the version, expiry and nonce:
changing ``admin_secret`` (and reloading with SIGHUP) invalidates every token
handed out before.  With ``insecure_admin`` the login is skipped and the token
is the literal ``"insecure"``.

The password is read from the request body only: a password in the query
string would end up in access logs and browser history, so such a request is
refused outright, even when the body holds the right one.

Wrong passwords are throttled per client address (app.admin_throttle): past a
few, the address is locked out with an exponential back-off and every login
from it is answered 429 with ``Retry-After`` until the lockout ends.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from typing import Callable

from tornado.web import RequestHandler

from app.admin_throttle import LoginThrottle
from app.core.errors import HttpError
from app.options import Options

logger = logging.getLogger("sockhub.admin_auth")

#: How long a login stays valid (seconds).
ADMIN_TOKEN_TTL = 24 * 3600
#: What ``--insecure_admin`` hands out instead of a signed token.
INSECURE_TOKEN = "insecure"
_VERSION = "v1"
#: The status of a wrong password: the only refusal the login throttle counts.
WRONG_PASSWORD = 401

Clock = Callable[[], float]
OptionsSource = Callable[[], Options]


def _mac(secret: str, expires: int, nonce: str) -> str:
    msg = f"{_VERSION}.{expires}.{nonce}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def make_admin_token(secret: str, now: float, ttl: int = ADMIN_TOKEN_TTL) -> str:
    """A token valid until ``now + ttl``, signed with ``secret``."""
    expires = int(now) + ttl
    nonce = os.urandom(8).hex()
    return f"{_VERSION}.{expires}.{nonce}.{_mac(secret, expires, nonce)}"


def check_admin_token(secret: str, token: str, now: float) -> bool:
    """True when ``token`` was made with ``secret`` and has not expired.

    An empty secret never validates anything (a node without admin_secret
    cannot have issued tokens)."""
    if not secret or not isinstance(token, str):
        return False
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or not parts[1].isdigit():
        return False
    expires, nonce, given = int(parts[1]), parts[2], parts[3]
    if not hmac.compare_digest(_mac(secret, expires, nonce).encode(), given.encode("utf-8", "replace")):
        return False
    return now < expires


#: The login's answer while no password is configured: what to set.
LOGIN_DISABLED = ("admin login is disabled: set admin_password and admin_secret in the config file "
                  "(sockhub genconfig writes both), or start with --insecure_admin for no login")


class AdminGate:
    """Decides who may use the admin socket, reading the options each time.

    Options are read through ``options()`` on every call so a SIGHUP reload
    of ``admin_password``/``admin_secret`` applies at once."""

    def __init__(self, options: OptionsSource, clock: Clock = time.time, ttl: int = ADMIN_TOKEN_TTL) -> None:
        self._options = options
        self._clock = clock
        self._ttl = ttl

    @property
    def insecure(self) -> bool:
        """True with ``insecure_admin``: admin sockets start authenticated."""
        return self._options().insecure_admin

    def login(self, password: str) -> str:
        """A fresh token for the right password; raises :class:`HttpError` (status and reason)."""
        opts = self._options()
        if opts.insecure_admin:
            return INSECURE_TOKEN
        if not opts.admin_password or not opts.admin_secret:
            raise HttpError(400, LOGIN_DISABLED)
        if not hmac.compare_digest(password.encode(), opts.admin_password.encode()):
            raise HttpError(WRONG_PASSWORD, "wrong password")
        return make_admin_token(opts.admin_secret, self._clock(), self._ttl)

    def login_state(self) -> dict[str, str]:
        """What a login can do now (``GET /auth/``, see AuthHandler)."""
        opts = self._options()
        if opts.insecure_admin:
            return {"login": "none"}
        if not opts.admin_password or not opts.admin_secret:
            return {"login": "disabled", "error": LOGIN_DISABLED}
        return {"login": "password"}

    def accepts(self, token: object) -> bool:
        """True when ``token`` opens an admin session now."""
        opts = self._options()
        if opts.insecure_admin:
            return True
        return isinstance(token, str) and check_admin_token(opts.admin_secret, token, self._clock())


class AuthHandler(RequestHandler):
    """``POST /auth/``: form field ``password`` -> ``{"token": ...}``.

    Every answer, refusals included, is JSON: ``{"token": ...}`` or
    ``{"error": "<reason>"}``.  ``GET /auth/`` tells the page, before anyone
    types a password, whether a login can succeed: ``{"login": "password"}``,
    ``{"login": "none"}`` (insecure_admin) or ``{"login": "disabled",
    "error": <what to set>}``."""

    def initialize(self, gate: AdminGate, throttle: LoginThrottle) -> None:
        self._gate = gate
        self._throttle = throttle

    def check_xsrf_cookie(self) -> None:
        """The login form is a plain POST without Tornado's xsrf cookie."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    def get(self) -> None:
        self.finish(json.dumps(self._gate.login_state()))

    def post(self) -> None:
        if "password" in self.request.query_arguments:
            self._refuse(400, "the password must be sent in the request body, never in the URL")
            return
        address = self.request.remote_ip or ""
        if self._throttle.retry_after(address) > 0:
            self._locked_out(address)
            return
        password = self.get_body_argument("password", default="")
        try:
            token = self._gate.login(password)
        except HttpError as exc:
            logger.warning("admin login refused from %s: %s", address, exc.message)
            if exc.status == WRONG_PASSWORD:
                self._throttle.failure(address)
            self._refuse(exc.status, exc.message)
            return
        self._throttle.success(address)
        self.finish(json.dumps({"token": token}))

    def _locked_out(self, address: str) -> None:
        """429 with ``Retry-After``: the password is not even looked at."""
        wait = self._throttle.retry_after_header(address)
        logger.debug("admin login from %s refused: locked out for %d s", address, wait)
        self.set_header("Retry-After", str(wait))
        self._refuse(429, f"too many wrong passwords: retry in {wait} s")

    def _refuse(self, status: int, reason: str) -> None:
        self.set_status(status)
        self.finish(json.dumps({"error": reason}))
