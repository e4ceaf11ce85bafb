"""SockJS and raw websocket transports on Tornado 6. Knows nothing of channels.

Module map (one job each):

* ``interfaces`` - the SessionHandle/Connection seam with the application.
* ``frames`` - message encodings built once per broadcast; SockJS frames.
* ``settings`` - ``SockJSSettings``.
* ``router`` - ``SockJSRouter``: the Tornado rules of a prefix.
* ``host`` - ``SessionHost``: what the handlers use of the router.
* ``session`` - one session: outbound queue, inbound order, lifecycle.
* ``registry`` - all sessions, the one flush callback and the one tick.
* ``headers`` - CORS, cookie and cache headers; the base handler.
* ``streaming`` - the one receive loop of xhr, xhr_streaming, eventsource,
  htmlfile and jsonp.
* ``receive`` - the one send path of xhr_send and jsonp_send.
* ``strictjson`` - the one JSON decoder of every inbound path (bounded depth,
  finite numbers, no lone surrogates unless asked).
* ``wsbase`` - websocket upgrade, socket hand-over, wsproto parsing;
  ``streamtransport`` keeps TLS connections on Tornado's stream.
* ``websocket`` / ``rawws`` - the SockJS and raw websocket adapters.
* ``static`` - greeting, /info, iframe page.
* ``testserver`` - the sockjs-protocol conformance server.
* ``tornado_compat`` - the one place that reads Tornado internals (why each,
  and the version range setup.cfg pins).
"""
