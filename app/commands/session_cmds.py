"""connect, refresh and ping (PROTOCOL.md §4.1, §4.2, §4.8).

Choices beyond 1.8, documented here:

* connection ``info`` that is not valid JSON closes the connection with
  ``invalid message`` at connect and refresh (1.8 relayed it and sent broken
  frames later);
* without a configured ``secret`` no token verifies (1.8 would accept tokens
  signed with the empty key);
* refresh must name the connection's own user (1.8 did not compare them);
  another user's token closes with ``invalid token``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import app
from app.auth import check_sign, connection_token
from app.commands.spec import CommandSpec
from app.core.errors import INVALID_MESSAGE, INVALID_TOKEN, LIMIT_EXCEEDED, Disconnect
from app.protocol import dumps, valid_raw_json

if TYPE_CHECKING:
    from app.client import Client

_TIMESTAMP = re.compile(r"[+-]?[0-9]{1,19}")


@dataclass(slots=True)
class CredentialsParams:
    """Params of connect and refresh."""

    user: str = ""
    timestamp: str = ""
    info: str = ""
    token: str = ""


@dataclass(slots=True)
class PingParams:
    data: str = ""


def _token_valid(client: "Client", p: CredentialsParams) -> bool:
    secret = client.node.options.secret
    return bool(secret) and check_sign(connection_token(secret, p.user, p.timestamp, p.info), p.token)


def _timestamp(text: str) -> int:
    """Decimal Unix seconds, as Go's strconv.Atoi reads them."""
    if not _TIMESTAMP.fullmatch(text):
        raise Disconnect(INVALID_MESSAGE)
    return int(text)


def _checked_info(info: str) -> str:
    if info and not valid_raw_json(info):
        raise Disconnect(INVALID_MESSAGE)
    return info


def credentials_body(client_id: str, expires: bool, expired: bool, ttl: float) -> str:
    """The body of connect and refresh replies."""
    return dumps({"version": app.PROTOCOL_VERSION, "client": client_id, "expires": expires,
                  "expired": expired, "ttl": int(ttl)})


async def connect(client: "Client", p: CredentialsParams) -> str:
    """Authenticate the connection (§4.1), checks in the order of 1.8."""
    node = client.node
    options = node.options
    if client.authenticated:
        raise Disconnect(INVALID_MESSAGE)
    now = node.clock()
    if options.insecure:
        timestamp = int(now)
    else:
        if not _token_valid(client, p):
            raise Disconnect(INVALID_TOKEN)
        timestamp = _timestamp(p.timestamp)
    info = _checked_info(p.info)
    limit = options.user_connection_limit
    if limit > 0 and p.user and len(node.hub.user_clients(p.user)) >= limit:
        raise Disconnect(LIMIT_EXCEEDED)
    lifetime = options.connection_lifetime
    if lifetime > 0 and not options.insecure and timestamp + lifetime - now <= 0:
        # A success that leaves the connection unauthenticated: the JS client
        # disconnects, refreshes its credentials and connects again.
        return credentials_body("", True, True, lifetime)
    client.authenticate(p.user, info, timestamp)
    node.metrics.num_connect.inc()
    return credentials_body(client.id, lifetime > 0, False, lifetime)


async def refresh(client: "Client", p: CredentialsParams) -> str:
    """Renew the connection's lifetime (§4.2); the token is always checked."""
    node = client.node
    if not _token_valid(client, p):
        raise Disconnect(INVALID_TOKEN)
    timestamp = _timestamp(p.timestamp)
    if p.user != client.user:
        raise Disconnect(INVALID_TOKEN)
    info = _checked_info(p.info)
    lifetime = node.options.connection_lifetime
    if lifetime <= 0:
        return credentials_body(client.id, False, False, 0)
    if timestamp + lifetime - node.clock() <= 0:
        return credentials_body(client.id, True, True, lifetime)
    client.timestamp = timestamp
    if info:
        client.default_info = info
    node.schedule_expiry(client)
    return credentials_body(client.id, True, False, lifetime)


async def ping(client: "Client", p: PingParams) -> str | None:
    """No body, or ``{"data":..}`` echoed when given (§4.8)."""
    return dumps({"data": p.data}) if p.data else None


SPECS: dict[str, CommandSpec] = {
    "connect": CommandSpec(CredentialsParams, connect, needs_auth=False),
    "refresh": CommandSpec(CredentialsParams, refresh),
    "ping": CommandSpec(PingParams, ping),
}
