"""connect, refresh and ping (docs/protocol-1x.md §4.1, §4.2, §4.8): the
1.x credentials are verified here, then the core connects or refreshes.

Choices beyond 1.8, documented here:

* connection ``info`` that is not valid JSON closes the connection with
  ``invalid message`` at connect and refresh (1.8 relayed it and sent broken
  frames later);
* without a configured ``secret`` no token verifies (1.8 would accept tokens
  signed with the empty key);
* refresh must name the connection's own user (1.8 did not compare them);
  another user's token closes with ``invalid token``;
* a connect without a token asks the connect proxy hook when
  ``proxy_connect_endpoint`` is set, and a refresh without a token of such
  a connection asks the refresh hook when ``proxy_refresh_endpoint`` is
  set (app.dialects.v1x.proxied).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import app
from app.core.client import Client
from app.core.errors import INVALID_MESSAGE, INVALID_TOKEN, Disconnect
from app.core.values import Credentials
from app.dialects.v1x import proxied
from app.dialects.v1x.auth import check_sign, connection_token
from app.dialects.v1x.context import V1xContext
from app.dialects.v1x.spec import V1xCommandSpec
from app.dialects.v1x.wire import credentials_body, dumps, valid_raw_json
from app.options import Options
from app.proxy import hooks

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


def _token_valid(options: Options, p: CredentialsParams) -> bool:
    secret = options.secret
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


async def connect(ctx: V1xContext, client: Client, p: CredentialsParams) -> str:
    """Authenticate the connection (§4.1), checks in the order of 1.8."""
    options = ctx.options
    if client.authenticated:
        raise Disconnect(INVALID_MESSAGE)
    expire_at = 0
    if not p.token and proxied.enabled(ctx, hooks.CONNECT):
        reply = await proxied.connect(ctx, client)
        p = CredentialsParams(reply.user, "", reply.info)
        timestamp, expire_at = int(ctx.clock()), reply.expire_at
    elif options.insecure:
        timestamp = int(ctx.clock())
    else:
        if not _token_valid(options, p):
            raise Disconnect(INVALID_TOKEN)
        timestamp = _timestamp(p.timestamp)
    info = _checked_info(p.info)
    outcome = ctx.clients.connect(client, Credentials(p.user, info, timestamp))
    return credentials_body(app.PROTOCOL_VERSION, proxied.connected(ctx, client, outcome, expire_at))


async def refresh(ctx: V1xContext, client: Client, p: CredentialsParams) -> str:
    """Renew the connection's lifetime (§4.2); the token is always checked,
    but a connection the connect hook made may ask the refresh hook instead."""
    if proxied.refreshes(ctx, client, p.token):
        return credentials_body(app.PROTOCOL_VERSION, await proxied.refresh(ctx, client))
    if not _token_valid(ctx.options, p):
        raise Disconnect(INVALID_TOKEN)
    timestamp = _timestamp(p.timestamp)
    if p.user != client.user:
        raise Disconnect(INVALID_TOKEN)
    info = _checked_info(p.info)
    return credentials_body(app.PROTOCOL_VERSION, ctx.clients.refresh(client, Credentials(p.user, info, timestamp)))


async def ping(ctx: V1xContext, client: Client, p: PingParams) -> str | None:
    """No body, or ``{"data":..}`` echoed when given (§4.8)."""
    return dumps({"data": p.data}) if p.data else None


SPECS: dict[str, V1xCommandSpec] = {
    "connect": V1xCommandSpec(CredentialsParams, connect, needs_auth=False),
    "refresh": V1xCommandSpec(CredentialsParams, refresh),
    "ping": V1xCommandSpec(PingParams, ping),
}
