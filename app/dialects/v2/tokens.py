"""Protocol v2's connection and subscription JWTs (docs/protocol-v2.md §8),
verified with PyJWT: HS256/384/512 with ``token_hmac_secret_key`` (or the
1.x ``secret`` when that key is not set: one secret signs both
generations' tokens unless told otherwise), RS256/384/512 with
``token_rsa_public_key`` and ES256/384/512 with ``token_ecdsa_public_key``
(PEM; Centrifugo v5's names).  The token's ``alg`` header picks the key; an
algorithm whose key is not configured makes the token invalid (§8.1).

The signature is checked by PyJWT; the payload is then read by our strict
JSON decoder (transports.strictjson: bounded depth, no NaN, no lone
surrogates), so whatever a claim holds can be relayed as it is.  Expiry
(``exp``, ``nbf``) is compared with the node's clock here, not PyJWT's.

* :class:`TokenExpired`: ``exp`` passed (or ``nbf`` not reached): error 109
  at connect and subscribe, the SDK fetches a new token;
* :class:`TokenInvalid`: anything else (signature, algorithm, shape,
  claims of the wrong type, ``channel`` in a connection token).

``aud`` and ``iss`` are checked when ``token_audience``/``token_issuer``
are configured.  The ``subs`` claim (server-side subscriptions with their
``info``/``data``/``override``) and a subscription token's ``override``
are read (app.core.overrides); an override of the wrong shape makes the
token invalid.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import jwt

from app.core import overrides
from app.core.overrides import NO_OVERRIDE, Override
from app.options import Options
from transports.strictjson import JSONInputError, loads

_HMAC = ("HS256", "HS384", "HS512")
_RSA = ("RS256", "RS384", "RS512")
_ECDSA = ("ES256", "ES384", "ES512")
_JWS = jwt.PyJWS()
#: Compact JSON of a claim value (ASCII: a claim held no lone surrogate, but
#: the text may go to a 1.x client that wants ASCII).
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class TokenExpired(Exception):
    """The token's ``exp`` has passed (or its ``nbf`` has not come)."""


class TokenInvalid(Exception):
    """The token does not verify or its claims are not what they must be."""


@dataclass(frozen=True, slots=True)
class ServerSubscription:
    """A channel the server subscribes a connection to (the ``channels`` or
    ``subs`` claim), with its channel info and the data of its subscribe
    result (compact JSON text, "" none)."""

    channel: str
    info: str = ""
    data: str = ""
    override: Override = NO_OVERRIDE


@dataclass(frozen=True, slots=True)
class ConnectionClaims:
    """A verified connection token: the user, when the connection expires
    (Unix seconds, 0: never), its info as compact JSON text ("" none) and
    the channels the server subscribes it to (``subs``, else ``channels``)."""

    user: str
    expires_at: int
    info: str
    subs: tuple[ServerSubscription, ...] = ()

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sub.channel for sub in self.subs)


@dataclass(frozen=True, slots=True)
class SubscriptionClaims:
    """A verified subscription token."""

    user: str
    channel: str
    client: str
    expires_at: int
    info: str
    data: str = ""
    override: Override = NO_OVERRIDE


def hmac_key(options: Options) -> str:
    """The HMAC key of v2 tokens: ``token_hmac_secret_key``, else ``secret``."""
    return options.token_hmac_secret_key or options.secret


def _key(token: str, options: Options) -> tuple[str, list[str]]:
    """The configured key for the token's ``alg`` header, and the algorithms
    it may verify.  With an HMAC key alone (the usual case) the header is
    left to PyJWT: reading it here costs a quarter of a verification."""
    if not (options.token_rsa_public_key or options.token_ecdsa_public_key):
        key = hmac_key(options)
        if not key:
            raise TokenInvalid("no token key configured")
        return key, list(_HMAC)
    alg = _alg(token)
    if alg in _HMAC:
        key = hmac_key(options)
    elif alg in _RSA:
        key = options.token_rsa_public_key
    elif alg in _ECDSA:
        key = options.token_ecdsa_public_key
    else:
        raise TokenInvalid("algorithm not supported")
    if not key:
        raise TokenInvalid(f"no key configured for {alg}")
    return key, [alg]


def _alg(token: str) -> Any:
    """The ``alg`` of the token's header (unverified: PyJWT checks it again)."""
    head = token.split(".", 1)[0]
    try:
        header = loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, JSONInputError, ValueError):
        raise TokenInvalid("header is not base64 of JSON") from None
    return header.get("alg") if isinstance(header, dict) else None


def _claims(token: str, options: Options, now: float) -> dict[str, Any]:
    """The verified claims: signature, then ``aud``/``iss`` when configured,
    then ``exp``/``nbf`` (the order of the reference server)."""
    key, algorithms = _key(token, options)
    try:
        payload = _JWS.decode(token, key=key, algorithms=algorithms)
        claims = loads(payload)
    except (jwt.PyJWTError, JSONInputError, ValueError) as exc:
        raise TokenInvalid(type(exc).__name__) from None
    if not isinstance(claims, dict):
        raise TokenInvalid("claims are not an object")
    _check_audience_and_issuer(claims, options)
    for name in ("exp", "nbf", "expire_at"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TokenInvalid(f"{name} is not a number")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and exp <= now or nbf is not None and nbf > now:
        raise TokenExpired()
    return claims


def _check_audience_and_issuer(claims: dict[str, Any], options: Options) -> None:
    """``aud`` (a string, or a list holding it) and ``iss`` must be the
    configured ones, when configured (exact strings)."""
    audience = options.token_audience
    if audience:
        aud = claims.get("aud")
        if not (aud == audience or isinstance(aud, list) and audience in aud):
            raise TokenInvalid("aud is not the configured audience")
    if options.token_issuer and claims.get("iss") != options.token_issuer:
        raise TokenInvalid("iss is not the configured issuer")


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name, "")
    if not isinstance(value, str):
        raise TokenInvalid(f"{name} is not a string")
    return value


def _expires_at(claims: dict[str, Any]) -> int:
    """``expire_at`` when present (0: never), else ``exp`` (absent: never)."""
    value = claims.get("expire_at")
    if value is None:
        value = claims.get("exp")
    return int(value) if value is not None and value > 0 else 0


def _info(claims: dict[str, Any], name: str = "info") -> str:
    """``b64info`` (which must decode to JSON here: the core keeps infos as
    JSON text) wins over ``info``; compact JSON text or "".  The same for
    ``b64data``/``data`` with ``name`` "data"."""
    encoded = claims.get("b64" + name)
    if encoded is not None:
        if not isinstance(encoded, str):
            raise TokenInvalid(f"b64{name} is not a string")
        try:
            return _dumps(loads(base64.b64decode(encoded, validate=True)))
        except (binascii.Error, JSONInputError, ValueError):
            raise TokenInvalid(f"b64{name} is not base64 of JSON") from None
    value = claims.get(name)
    return "" if value is None else _dumps(value)


#: What a ``subs`` entry may hold (§8.2); anything else makes the token invalid.
_SUB_KEYS = frozenset({"info", "b64info", "data", "b64data", "override"})


def _subs(claims: dict[str, Any]) -> tuple[ServerSubscription, ...]:
    """``subs`` (channel -> options) when present, else ``channels``."""
    subs = claims.get("subs")
    if subs is None:
        channels = claims.get("channels", [])
        if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
            raise TokenInvalid("channels is not a list of names")
        return tuple(ServerSubscription(c) for c in dict.fromkeys(channels))
    if not isinstance(subs, dict):
        raise TokenInvalid("subs is not an object")
    result = []
    for channel, entry in subs.items():
        if not channel or not isinstance(entry, dict) or not entry.keys() <= _SUB_KEYS:
            raise TokenInvalid("subs entry is not an object of known options")
        result.append(ServerSubscription(channel, _info(entry), _info(entry, "data"), _override(entry)))
    return tuple(result)


def _override(claims: dict[str, Any]) -> Override:
    try:
        return overrides.parse(claims.get("override"))
    except overrides.OverrideInvalid as exc:
        raise TokenInvalid(str(exc)) from None


def connection(token: str, options: Options, now: float) -> ConnectionClaims:
    """The claims of a connection token (§8.2)."""
    claims = _claims(token, options, now)
    if "channel" in claims:
        raise TokenInvalid("a connection token names no channel")
    return ConnectionClaims(_text(claims, "sub"), _expires_at(claims), _info(claims), _subs(claims))


def subscription(token: str, options: Options, now: float) -> SubscriptionClaims:
    """The claims of a subscription token (§8.3); ``channel`` is required."""
    claims = _claims(token, options, now)
    channel = _text(claims, "channel")
    if not channel:
        raise TokenInvalid("no channel")
    return SubscriptionClaims(_text(claims, "sub"), channel, _text(claims, "client"), _expires_at(claims),
                              _info(claims), _info(claims, "data"), _override(claims))


def subscription_v1(token: str, options: Options, now: float) -> SubscriptionClaims:
    """The claims of a protocol v1 (Centrifugo 2.x) subscription token
    (docs/protocol-v1.md §3): ``client`` and ``channel`` required, no ``sub`` (its user is the
    connection's by ``client``); ``eto`` true: ``exp`` is checked but the
    subscription does not expire."""
    claims = _claims(token, options, now)
    channel, client = _text(claims, "channel"), _text(claims, "client")
    if not channel or not client:
        raise TokenInvalid("no channel or client")
    eto = claims.get("eto", False)
    if not isinstance(eto, bool):
        raise TokenInvalid("eto is not a boolean")
    return SubscriptionClaims("", channel, client, 0 if eto else _expires_at(claims), _info(claims), "")
