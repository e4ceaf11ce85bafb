"""The six proxy hooks (shared/CENTRIFUGAL.md §5.2): one call each, with the
endpoint and timeout of its options (``proxy_<hook>_endpoint``,
``proxy_<hook>_timeout``) read at each call, so a reload applies.

Each call returns the typed part of the ``result`` the dialects use, or
raises :class:`~app.proxy.wire.HookError` / :class:`~app.proxy.wire.HookDisconnect`
(app.proxy.wire).  A hook whose endpoint is empty is off: the dialects
check the option before they call it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from app.core.overrides import NO_OVERRIDE, Override
from app.options import Options
from app.proxy import subs, wire
from app.proxy.subs import ProxySub
from app.proxy.http import ProxyHttp
from app.proxy.wire import Caller

CONNECT, REFRESH, SUBSCRIBE, PUBLISH, RPC, SUB_REFRESH = (
    "connect", "refresh", "subscribe", "publish", "rpc", "sub_refresh")
HOOKS = (CONNECT, REFRESH, SUBSCRIBE, PUBLISH, RPC, SUB_REFRESH)

def wanted_headers(options: Options) -> frozenset[str]:
    """The lower-cased names of ``proxy_http_headers`` (comma-separated): the
    request headers the transports keep for the hooks (read at start)."""
    return frozenset(n.strip().lower() for n in options.proxy_http_headers.split(",") if n.strip())


@dataclass(frozen=True, slots=True)
class ConnectReply:
    user: str
    expire_at: int  # Unix seconds; 0: never
    info: str  # raw JSON, "" for none
    data: str | None  # raw JSON for ConnectResult.data
    channels: tuple[str, ...]  # subscribed by the server
    subs: tuple[ProxySub, ...] = ()  # subscribed by the server, with their options


@dataclass(frozen=True, slots=True)
class RefreshReply:
    expired: bool
    expire_at: int
    info: str | None


@dataclass(frozen=True, slots=True)
class SubscribeReply:
    info: str  # channel info, raw JSON, "" for none
    data: str | None  # SubscribeResult.data
    expire_at: int
    override: Override = NO_OVERRIDE  # what the backend changes of the channel's options


class Proxy:
    """The hooks of one node.  ``options()`` gives the node's current options."""

    def __init__(self, options: Callable[[], Options], http: ProxyHttp | None = None) -> None:
        self._options = options
        opts = options()
        self.http = http or ProxyHttp(opts.proxy_max_response_size, opts.proxy_max_connections,
                                      opts.proxy_http_client)

    async def _call(self, hook: str, caller: Caller, fields: dict[str, Any], with_user: bool = True) -> dict[str, Any]:
        options = self._options()
        url: str = getattr(options, f"proxy_{hook}_endpoint")
        timeout: float = getattr(options, f"proxy_{hook}_timeout")
        raw = await self.http.post(url, wire.request_body(caller, fields, with_user), caller.headers, timeout)
        return wire.parse_answer(raw)

    async def connect(self, caller: Caller, name: str, version: str, data: str | bytes,
                      channels: Iterable[str], max_channels: int) -> ConnectReply:
        fields: dict[str, Any] = {"name": name, "version": version}
        if data:
            fields.update(wire.data_fields(data))
        asked = list(channels)
        if asked:
            fields["channels"] = asked
        result = await self._call(CONNECT, caller, fields, with_user=False)
        return ConnectReply(wire.text(result, "user"), wire.integer(result, "expire_at"),
                            wire.raw_json(result, "info") or "", wire.raw_json(result),
                            wire.strings(result, "channels", max_channels), subs.subs(result, max_channels))

    async def refresh(self, caller: Caller) -> RefreshReply:
        result = await self._call(REFRESH, caller, {})
        return RefreshReply(wire.flag(result, "expired"), wire.integer(result, "expire_at"),
                            wire.raw_json(result, "info"))

    async def subscribe(self, caller: Caller, channel: str, token: str, data: str | bytes) -> SubscribeReply:
        fields: dict[str, Any] = {"channel": channel}
        if token:
            fields["token"] = token
        if data:
            fields.update(wire.data_fields(data))
        result = await self._call(SUBSCRIBE, caller, fields)
        return SubscribeReply(wire.raw_json(result, "info") or "", wire.raw_json(result),
                              wire.integer(result, "expire_at"), subs.override(result))

    async def publish(self, caller: Caller, channel: str, data: str | bytes) -> str | None:
        """The data to publish instead (raw JSON), or None to keep the client's."""
        result = await self._call(PUBLISH, caller, {"channel": channel, **wire.data_fields(data)})
        return wire.raw_json(result)

    async def rpc(self, caller: Caller, method: str, data: str | bytes) -> str | None:
        """The RPC result's data (raw JSON), None for none."""
        fields: dict[str, Any] = {"method": method} if method else {}
        if data:
            fields.update(wire.data_fields(data))
        return wire.raw_json(await self._call(RPC, caller, fields))

    async def sub_refresh(self, caller: Caller, channel: str) -> RefreshReply:
        result = await self._call(SUB_REFRESH, caller, {"channel": channel})
        return RefreshReply(wire.flag(result, "expired"), wire.integer(result, "expire_at"),
                            wire.raw_json(result, "info"))

    def close(self) -> None:
        self.http.close()
