"""What ``sockhub checkconfig`` refuses in the proxy options (docs/proxy.md):
the first problem as one line, or None.  app.config raises it as a
ConfigError (this module knows nothing of the config's sources)."""
from __future__ import annotations

from app.options import Options
from app.proxy import transforms
from app.proxy.headers import RESERVED, valid_name

HOOKS = ("connect", "refresh", "subscribe", "publish", "rpc", "sub_refresh")


def problem(options: Options, clients: tuple[str, ...]) -> str | None:
    """The first thing wrong: a client kind not in ``clients``, an endpoint
    that is not an http(s) URL, a timeout not above 0, a malformed status
    transform, an emulated header name a client may not set."""
    if options.proxy_http_client not in clients:
        return f"proxy_http_client: {options.proxy_http_client!r:.60} is not one of " + ", ".join(clients)
    for hook in HOOKS:
        endpoint = getattr(options, f"proxy_{hook}_endpoint")
        if endpoint and not endpoint.startswith(("http://", "https://")):
            return f"proxy_{hook}_endpoint: {endpoint!r:.60} is not an http:// or https:// URL"
        if getattr(options, f"proxy_{hook}_timeout") <= 0:
            return f"proxy_{hook}_timeout: must be more than 0"
    try:
        transforms.parse(options.proxy_http_status_code_transforms)
    except transforms.TransformsError as exc:
        return f"proxy_http_status_code_transforms: {exc}"
    for name in (n.strip() for n in options.proxy_emulated_headers.split(",")):
        if name and (not valid_name(name) or name.lower() in RESERVED):
            return f"proxy_emulated_headers: {name!r:.60} is not a header name a client may set"
    return None
