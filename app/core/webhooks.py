"""Delivering the status events (app.core.status) from the outbox: signed
webhook POSTs to ``webhook_endpoint`` and publications into
``status_channel`` (docs/webhooks.md).

Duties and guarantees:

* one drainer per node; with Redis, the nodes share the outbox and one of
  them at a time holds it (a lease renewed on every take), so events leave
  in order; a node killed while holding it is replaced once its lease
  (``webhook_timeout`` + :data:`LEASE_SLACK` s) runs out;
* a batch of at most ``webhook_batch_size`` events is one POST, body
  ``{"time_ms": <now>, "events": [...]}``, with header
  ``X-Sockhub-Signature``: the hex HMAC-SHA256 of the body keyed with
  ``webhook_secret`` (the ``secret`` when empty); ``time_ms`` is signed
  with it, so a backend can refuse old bodies (replays); ``X-Sockhub-Node``
  names the node that sent it;
* events are dropped from the outbox only after the backend answered 2xx;
  any other answer, a timeout or a refused connection retries the same
  events (same ids) after a back-off doubling from
  :data:`RETRY_FIRST` to ``webhook_retry_max`` s: at least once, in order;
* each event is published into ``status_channel`` once per batch taken
  (before its POST), as the JSON object the POST carries;
* the POSTs reuse their TCP connection to the backend (libcurl keeps it
  alive) when pycurl is installed and ``proxy_http_client`` is not
  ``simple``; Tornado's simple client opens one per POST otherwise.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.util
import json
import logging
import uuid
from typing import Awaitable, Callable

from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from app.core.status import StatusStore
from app.options import Options

logger = logging.getLogger("sockhub.webhooks")

#: Seconds between looks at an empty (or someone else's) outbox.
POLL = 0.2
#: First pause after a failed POST (s); doubles up to ``webhook_retry_max``.
RETRY_FIRST = 0.2
#: The drain lease outlives one POST by this many seconds.
LEASE_SLACK = 5.0
SIGNATURE_HEADER = "X-Sockhub-Signature"
#: The name of the node that sent the POST (logs, tests).
NODE_HEADER = "X-Sockhub-Node"

#: ``publish(channel, event_json)``: one event into the status channel.
Publish = Callable[[str, str], Awaitable[None]]


def sign(secret: str, body: bytes) -> str:
    """The ``X-Sockhub-Signature`` of ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def http_client(kind: str) -> AsyncHTTPClient:
    """The sender's own client (``force_instance``): libcurl's, which keeps
    connections alive, unless ``kind`` is ``simple`` or pycurl is missing."""
    if kind != "simple" and importlib.util.find_spec("pycurl") is not None:
        from tornado.curl_httpclient import CurlAsyncHTTPClient
        return CurlAsyncHTTPClient(force_instance=True, max_clients=2)
    return SimpleAsyncHTTPClient(force_instance=True, max_clients=2)


def batch_body(events: list[bytes], now_ms: int) -> bytes:
    """The POST body of ``events`` (each a JSON object already)."""
    return b'{"time_ms":%d,"events":[%s]}' % (now_ms, b",".join(events))


class WebhookDrain:
    """Takes events from the outbox and delivers them; see the module docstring."""

    def __init__(self, store: StatusStore, options: Callable[[], Options], publish: Publish,
                 clock: Callable[[], float], name: Callable[[], str]) -> None:
        self._store = store
        self._name = name
        self._options = options
        self._publish = publish
        self._clock = clock
        self._owner = uuid.uuid4().hex
        #: made at the first POST, in the running loop (libcurl's timers need it)
        self._http: AsyncHTTPClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._published: set[str] = set()
        #: Counters the bench and tests read.
        self.delivered = 0
        self.failures = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sockhub-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._http is not None:
            self._http.close()
            self._http = None

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                done = await self.drain_once()
            except Exception as exc:  # loop boundary: Redis away, a bad URL, a bug
                logger.warning("status events not delivered: %s", exc)
                done = None
            if done is None:  # failed: the same events again after a pause
                await asyncio.sleep(delay)
                delay = min(delay * 2, max(self._options().webhook_retry_max, RETRY_FIRST))
                continue
            delay = RETRY_FIRST
            if done == 0:
                await asyncio.sleep(POLL)

    async def drain_once(self) -> int | None:
        """Deliver one batch: the events delivered (0: none waiting, or
        another node drains), None when the POST failed."""
        options = self._options()
        lease = options.webhook_timeout + LEASE_SLACK
        events = await self._store.take(self._owner, max(1, options.webhook_batch_size), lease)
        if not events:
            return 0
        if options.status_channel:
            await self._publish_new(options.status_channel, events)
        if options.webhook_endpoint and not await self._post(options, events):
            self.failures += 1
            return None
        self._published.clear()
        if await self._store.ack(self._owner, len(events)):
            self.delivered += len(events)
        return len(events)

    async def _publish_new(self, channel: str, events: list[bytes]) -> None:
        for raw in events:
            try:
                event_id = str(json.loads(raw).get("id", ""))
            except (ValueError, AttributeError):
                continue
            if event_id in self._published:
                continue
            await self._publish(channel, raw.decode())
            self._published.add(event_id)

    async def _post(self, options: Options, events: list[bytes]) -> bool:
        body = batch_body(events, int(self._clock() * 1000))
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: sign(options.webhook_secret or options.secret, body), NODE_HEADER: self._name()}
        if self._http is None:
            self._http = http_client(options.proxy_http_client)
        try:
            response = await self._http.fetch(options.webhook_endpoint, method="POST", body=body, headers=headers,
                                              request_timeout=options.webhook_timeout, raise_error=False,
                                              follow_redirects=False)
        except (OSError, HTTPClientError) as exc:
            logger.warning("webhook POST of %d events failed: %s", len(events), exc)
            return False
        if 200 <= response.code < 300:
            return True
        logger.warning("webhook POST of %d events answered %d", len(events), response.code)
        return False
