"""Proxy hooks: the server asks the application's backend over HTTP, in
Centrifugo's HTTP proxy format (docs/protocol-v2.md §10, docs/proxy.md).

* :mod:`app.proxy.wire`: the request bodies and the parsing of a backend's
  answer into a result, an error or a disconnect (no I/O);
* :mod:`app.proxy.http`: the HTTP client (bounded answers, timeouts, kept-alive
  connections when pycurl is installed);
* :mod:`app.proxy.hooks`: :class:`~app.proxy.hooks.Proxy`, one call per hook
  (connect, refresh, subscribe, publish, rpc, sub_refresh) with its endpoint
  and timeout read from the options at each call (a reload applies).

The dialects call the hooks and write the outcomes in their own forms.
"""
