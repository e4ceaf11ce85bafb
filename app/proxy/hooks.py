"""The six proxy hooks (docs/protocol-v2.md §10.2): one call each, with the
endpoint and timeout of its options (``proxy_<hook>_endpoint``,
``proxy_<hook>_timeout``) read at each call, so a reload applies.

Each call returns the typed part of the ``result`` the dialects use, or
raises :class:`~app.proxy.wire.HookError` / :class:`~app.proxy.wire.HookDisconnect`
(app.proxy.wire; a status other than 200 through
``proxy_http_status_code_transforms``, app.proxy.transforms).  A hook whose
endpoint is empty is off: the dialects check the option before they call it.

``proxy_include_connection_meta`` sends the caller's ``meta`` (the connect
result's, replaced by a refresh result's) in every call but connect;
``proxy_binary_encoding`` sends client data as ``b64data`` always.  Both,
and the transforms, are read at each call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from app.core.overrides import NO_OVERRIDE, Override
from app.options import Options
from app.proxy import subs, transforms, wire
from app.proxy.subs import ProxySub
from app.proxy.http import ProxyHttp
from app.proxy.wire import Caller, HookError

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
    meta: str | None = None  # raw JSON of an object kept on the connection


@dataclass(slots=True)
class ConnState:
    """What one connection keeps for its later hook calls: its ``meta``
    (raw JSON of an object, None for none) and its emulated headers."""

    meta: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    #: when a dialect closes the connection for the hooks' ``expire_at``
    #: (monotonic with the node's clock; 0: never)
    close_at: float = 0.0


@dataclass(frozen=True, slots=True)
class RefreshReply:
    expired: bool
    expire_at: int
    info: str | None
    meta: str | None = None  # replaces the connection's when given


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
        #: the transforms of the option text last seen (a reload applies)
        self._transforms: tuple[str, transforms.Transforms] = ("", {})

    def _status_transforms(self, options: Options) -> transforms.Transforms:
        text = options.proxy_http_status_code_transforms
        if text != self._transforms[0]:
            try:
                self._transforms = (text, transforms.parse(text))
            except transforms.TransformsError:  # checkconfig refuses it: never here
                self._transforms = (text, {})
        return self._transforms[1]

    def _data(self, data: str | bytes) -> dict[str, Any]:
        return wire.data_fields(data, binary=self._options().proxy_binary_encoding)

    async def _call(self, hook: str, caller: Caller, fields: dict[str, Any], with_user: bool = True) -> dict[str, Any]:
        options = self._options()
        url: str = getattr(options, f"proxy_{hook}_endpoint")
        timeout: float = getattr(options, f"proxy_{hook}_timeout")
        body = wire.request_body(caller, fields, with_user, binary=options.proxy_binary_encoding,
                                 with_meta=options.proxy_include_connection_meta and hook != CONNECT)
        try:
            raw = await self.http.post(url, body, caller.headers, timeout)
        except HookError as err:
            raise transforms.apply(self._status_transforms(options), err) from None
        return wire.parse_answer(raw)

    async def connect(self, caller: Caller, name: str, version: str, data: str | bytes,
                      channels: Iterable[str], max_channels: int) -> ConnectReply:
        fields: dict[str, Any] = {"name": name, "version": version}
        if data:
            fields.update(self._data(data))
        asked = list(channels)
        if asked:
            fields["channels"] = asked
        result = await self._call(CONNECT, caller, fields, with_user=False)
        return ConnectReply(wire.text(result, "user"), wire.integer(result, "expire_at"),
                            wire.raw_json(result, "info") or "", wire.raw_json(result),
                            wire.strings(result, "channels", max_channels), subs.subs(result, max_channels),
                            wire.meta(result))

    async def refresh(self, caller: Caller) -> RefreshReply:
        result = await self._call(REFRESH, caller, {})
        return RefreshReply(wire.flag(result, "expired"), wire.integer(result, "expire_at"),
                            wire.raw_json(result, "info"), wire.meta(result))

    async def subscribe(self, caller: Caller, channel: str, token: str, data: str | bytes) -> SubscribeReply:
        fields: dict[str, Any] = {"channel": channel}
        if token:
            fields["token"] = token
        if data:
            fields.update(self._data(data))
        result = await self._call(SUBSCRIBE, caller, fields)
        return SubscribeReply(wire.raw_json(result, "info") or "", wire.raw_json(result),
                              wire.integer(result, "expire_at"), subs.override(result))

    async def publish(self, caller: Caller, channel: str, data: str | bytes) -> str | None:
        """The data to publish instead (raw JSON), or None to keep the client's."""
        result = await self._call(PUBLISH, caller, {"channel": channel, **self._data(data)})
        return wire.raw_json(result)

    async def rpc(self, caller: Caller, method: str, data: str | bytes) -> str | None:
        """The RPC result's data (raw JSON), None for none."""
        fields: dict[str, Any] = {"method": method} if method else {}
        if data:
            fields.update(self._data(data))
        return wire.raw_json(await self._call(RPC, caller, fields))

    async def sub_refresh(self, caller: Caller, channel: str) -> RefreshReply:
        result = await self._call(SUB_REFRESH, caller, {"channel": channel})
        return RefreshReply(wire.flag(result, "expired"), wire.integer(result, "expire_at"),
                            wire.raw_json(result, "info"))

    def close(self) -> None:
        self.http.close()
