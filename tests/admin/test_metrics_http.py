"""/metrics serves the registry it is given, parsed back by prometheus-client."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.web import Application

from app.metrics_http import metrics_urls
from tests.support.net import free_port


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.published = Counter("sockhub_test_published", "test counter", ["transport"], registry=self.registry)


async def _scrape(port: int) -> dict[str, float]:
    resp = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/pre/metrics")
    assert resp.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.body.decode()):
        for sample in family.samples:
            out[sample.name + str(sorted(sample.labels.items()))] = sample.value
    return out


async def test_metrics_reflect_the_registry() -> None:
    metrics, port = _Metrics(), free_port()
    server = HTTPServer(Application(metrics_urls(metrics, prefix="/pre")))
    server.listen(port, "127.0.0.1")
    try:
        key = "sockhub_test_published_total[('transport', 'websocket')]"
        metrics.published.labels("websocket").inc(0)
        assert (await _scrape(port))[key] == 0
        metrics.published.labels("websocket").inc(3)
        assert (await _scrape(port))[key] == 3
    finally:
        server.stop()
