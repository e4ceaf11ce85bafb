"""The 1.x HTTP API request envelope (docs/protocol-1x.md §10): where a request
carries its command data and sign, and the checks of the sign.

Two request forms, as Centrifugo 1.x accepts them:

* ``Content-Type: application/json``: the raw body is the command JSON, its
  sign in the ``X-API-Sign`` header (cent 2.x);
* anything else: form fields ``data`` and ``sign`` (cent 1.3), read from the
  body first, then from the query string (Go's ``FormValue``).

The sign is checked over the exact bytes received, never over re-encoded
JSON.  Checks, in order: a form body that does not parse (400), missing sign
unless ``insecure_api`` (400), empty data (400), no secret configured (400),
sign mismatch (401).
"""
from __future__ import annotations

from tornado import httputil
from tornado.escape import parse_qs_bytes

from app.core.errors import HttpError
from app.dialects.v1x.auth import api_sign, check_sign
from app.options import Options


def command_data(options: Options, headers: httputil.HTTPHeaders, query: str, body: bytes) -> bytes:
    """The command bytes of a request whose envelope passes the checks of
    the module docstring, else HttpError."""
    data, sign = _data_and_sign(headers, query, body)
    if options.insecure_api:
        if not data:
            raise HttpError(400, "Bad Request: empty data")
        return data
    if not sign:
        raise HttpError(400, "Bad Request: missing sign")
    if not data:
        raise HttpError(400, "Bad Request: empty data")
    if not options.secret:
        raise HttpError(400, "Bad Request: no secret configured")
    if not check_sign(api_sign(options.secret, data), sign):
        raise HttpError(401, "Unauthorized: wrong sign")
    return data


def _data_and_sign(headers: httputil.HTTPHeaders, query: str, body: bytes) -> tuple[bytes, str]:
    """``(data, sign)`` of either request form; HttpError for a form body
    that does not parse."""
    content_type = headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        return body, headers.get("X-API-Sign", "")
    fields: dict[str, list[bytes]] = {}
    files: dict[str, list[httputil.HTTPFile]] = {}
    if body:
        try:
            httputil.parse_body_arguments(content_type, body, fields, files, headers)
        except httputil.HTTPInputError as exc:
            raise HttpError(400, f"Bad Request: {exc}") from None
    for name, values in parse_qs_bytes(query, keep_blank_values=True).items():
        fields.setdefault(name, values)
    data = fields.get("data", [b""])[0]
    sign = fields.get("sign", [b""])[0].decode("utf-8", "replace")
    return data, sign
