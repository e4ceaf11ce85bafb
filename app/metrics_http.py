"""``GET /metrics``: the node's Prometheus registry in the text exposition format.

The figures are those of the node's own ``CollectorRegistry`` (app.core.metrics),
the same counters the ``stats`` and ``node`` API methods read, so the two
views never disagree.  Scrapes only read the registry; nothing is reset.
"""
from __future__ import annotations

from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from tornado.web import RequestHandler


class HasRegistry(Protocol):
    """What /metrics needs from app.core.metrics.Metrics."""

    registry: CollectorRegistry


class MetricsHandler(RequestHandler):
    """Serves ``generate_latest(registry)``; GET and HEAD only."""

    def initialize(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(self._registry))

    def head(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish()


def metrics_urls(metrics: HasRegistry, prefix: str = "") -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The Tornado rule for ``{prefix}/metrics``."""
    return [(prefix + r"/metrics", MetricsHandler, {"registry": metrics.registry})]
