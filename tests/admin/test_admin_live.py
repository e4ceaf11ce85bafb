"""The admin page's live parts in Chromium against real sockhub processes: the
charts (uPlot, served from node_modules) follow the node's connections, the
events view shows a publish, filters by channel and pauses, an event on node B
of a Redis pair shows on the page of node A, ``stats`` and ``node`` from the
actions form, and no "Log out" without a login (--insecure_admin)."""
from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.admin.clients import RawClient, api_call
from tests.admin.test_admin_browser import browser_page, shots
from tests.support.redis import redis_server
from tests.support.server import SockhubProcess

pytestmark = [pytest.mark.browser, pytest.mark.async_timeout(120)]

SECRET = shots.CONFIG["secret"]
#: Samples every half second, so a chart moves within the test.
FAST = {**shots.CONFIG, "node_ping_interval": 0.5, "name": "node-a"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SockhubProcess]:
    with SockhubProcess(tmp_path_factory.mktemp("live"), FAST, args=["--web"]) as process:
        yield process


async def chart_last(page: Any, chart: str) -> list[float]:
    text = await page.get_attribute(f"#nodes .node .chart[data-chart='{chart}']", "data-last")
    return json.loads(text or "[]")


async def event_rows(page: Any) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = await page.eval_on_selector_all(
        "#events tr", "rows => rows.map(r => [r.dataset.kind, r.dataset.channel])")
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_the_charts_follow_the_connections(hub: SockhubProcess) -> None:
    playwright, browser, page = await browser_page()
    clients: list[RawClient] = []
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        assert await page.is_visible("#logout")  # logged in with a password: it can log out
        chart = "#nodes .node .chart[data-chart='clients']"
        await page.wait_for_selector(chart + " canvas")
        assert await page.locator("#nodes .node .chart canvas").count() == 2  # clients, messages
        before = await page.eval_on_selector(chart + " canvas", "c => c.toDataURL()")
        for i in range(3):
            client = await RawClient.connect(hub.url, SECRET, user=f"chart-{i}")
            assert "error" not in await client.command("subscribe", {"channel": f"chart-{i}"})
            clients.append(client)
        await page.wait_for_function(
            "s => { const c = document.querySelector(s); return c && JSON.parse(c.dataset.last || '[0]')[0] >= 3; }",
            arg=chart)
        connections, subscriptions = await chart_last(page, "clients")
        assert connections >= 3 and subscriptions >= 3
        after = await page.eval_on_selector(chart + " canvas", "c => c.toDataURL()")
        assert after != before  # the picture changed, not only a number
        points = int(await page.get_attribute(chart, "data-points") or 0)
        assert points >= 2
    finally:
        for client in clients:
            client.close()
        await browser.close()
        await playwright.stop()


async def test_the_messages_chart_follows_publishes(hub: SockhubProcess) -> None:
    """Messages in (published through the node) and out (queued to its
    clients) per second move with publishes (2 subscribers: out is about
    twice in; the rates themselves: test_admin_feed)."""
    playwright, browser, page = await browser_page()
    clients = [await RawClient.connect(hub.url, SECRET, user=f"rate-{i}") for i in range(2)]
    chart = "#nodes .node .chart[data-chart='messages']"
    try:
        for client in clients:
            assert "error" not in await client.command("subscribe", {"channel": "rates"})
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        await page.wait_for_selector(chart + " canvas")
        before = await page.eval_on_selector(chart + " canvas", "c => c.toDataURL()")
        seen: list[float] = [0, 0]
        for n in range(200):  # publishes until a sample shows them (one every 0.5 s)
            [item] = await api_call(hub.url, SECRET, "publish", {"channel": "rates", "data": {"n": n}})
            assert item["error"] is None
            seen = await chart_last(page, "messages")
            if seen[0] > 0 and seen[1] > 0:
                break
            await asyncio.sleep(0.02)
        rate_in, rate_out = seen
        assert rate_in > 0 and rate_out >= rate_in, seen  # each message queued to both subscribers
        assert await page.eval_on_selector(chart + " canvas", "c => c.toDataURL()") != before
    finally:
        for client in clients:
            client.close()
        await browser.close()
        await playwright.stop()


#: Draws the charts of one node in a new box from samples of the last
#: ``seconds`` (one every 3 s, as node pings make them) and answers the time
#: range each chart shows, [x min, x max] in Unix seconds.
DRAWN_RANGE = """async seconds => {
  const box = document.createElement("div");
  box.style.width = "600px";
  document.body.appendChild(box);
  const charts = new SockhubCharts.NodeCharts(box), end = 1800000000, samples = [];
  for (let t = end - seconds; t <= end; t += 3) samples.push([t, 1, 2, 0.5, 4]);
  charts.update(samples);
  await new Promise(done => requestAnimationFrame(done));  // uPlot sets its scales when it draws
  const ranges = charts.plots.map(p => [p.scales.x.min, p.scales.x.max]);
  charts.destroy();
  box.remove();
  return ranges;
}"""


async def test_a_chart_shows_the_last_15_minutes(hub: SockhubProcess) -> None:
    """charts.js as the page loads it (with uPlot from node_modules): given
    20 minutes of samples it draws the newest 15; a shorter history is drawn
    whole (at least 30 s wide).  The node keeps 15 minutes (test_admin_feed)."""
    playwright, browser, page = await browser_page()
    end = 1800000000
    try:
        await page.goto(hub.url + "/")
        await page.wait_for_function("window.SockhubCharts !== undefined && window.uPlot !== undefined")
        assert await page.evaluate(DRAWN_RANGE, 20 * 60) == [[end - 15 * 60, end]] * 2  # both charts
        assert await page.evaluate(DRAWN_RANGE, 15 * 60) == [[end - 15 * 60, end]] * 2
        assert await page.evaluate(DRAWN_RANGE, 2 * 60) == [[end - 2 * 60, end]] * 2
        assert await page.evaluate(DRAWN_RANGE, 6) == [[end - 30, end]] * 2
    finally:
        await browser.close()
        await playwright.stop()


async def test_events_of_a_publish_filtered_and_paused(hub: SockhubProcess) -> None:
    playwright, browser, page = await browser_page()
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        for channel in ("alpha", "beta"):
            [item] = await api_call(hub.url, SECRET, "publish", {"channel": channel, "data": {"to": channel}})
            assert item["error"] is None
        await page.wait_for_function(
            "document.querySelectorAll('#events tr[data-kind=publish]').length >= 2")
        assert {("publish", "alpha"), ("publish", "beta")} <= set(await event_rows(page))
        assert "{\"to\":\"alpha\"}" in (await page.text_content("#events") or "")

        await page.fill("#events-filter", "alph")
        await page.wait_for_function("[...document.querySelectorAll('#events tr')]"
                                     ".every(r => r.dataset.channel.includes('alph'))")
        assert set(await event_rows(page)) == {("publish", "alpha")}

        await page.click("#events-pause")
        assert await page.text_content("#events-pause") == "Resume"
        shown = await event_rows(page)
        await api_call(hub.url, SECRET, "publish", {"channel": "alpha", "data": {"n": 2}})
        # the batch arrived (counted) and the view did not change
        await page.wait_for_function("document.getElementById('events-status').textContent"
                                     ".includes('paused: 1 not shown')")
        assert await event_rows(page) == shown

        await page.click("#events-pause")
        await api_call(hub.url, SECRET, "publish", {"channel": "alpha", "data": {"n": 3}})
        await page.wait_for_function(
            "n => document.querySelectorAll('#events tr').length > n", arg=len(shown))
        assert "{\"n\":3}" in (await page.text_content("#events tr") or "")
    finally:
        await browser.close()
        await playwright.stop()


async def test_stats_and_node_in_the_actions_form(hub: SockhubProcess) -> None:
    playwright, browser, page = await browser_page()
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        for method in ("stats", "node"):
            await page.select_option("#method", method)
            assert not await page.is_visible("#channel") and not await page.is_visible("#data")
            await page.evaluate("document.getElementById('reply').textContent = ''")
            await page.click("#submit-action")
            await page.wait_for_function("document.getElementById('reply').textContent !== ''")
            reply = json.loads(await page.text_content("#reply") or "{}")
            assert reply["method"] == method and reply["error"] is None, reply
            data = reply["body"]["data"]
            assert (data["nodes"][0] if method == "stats" else data)["name"] == "node-a"
    finally:
        await browser.close()
        await playwright.stop()


def test_the_chart_library_is_served_from_node_modules(hub: SockhubProcess) -> None:
    root = Path(__file__).resolve().parents[2] / "node_modules" / "uplot" / "dist"
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        with urllib.request.urlopen(f"{hub.url}/static/uplot/{name}") as resp:
            assert resp.read() == (root / name).read_bytes()
    with urllib.request.urlopen(hub.url + "/favicon.svg") as resp:
        assert resp.headers["Content-Type"] == "image/svg+xml" and b"<svg" in resp.read()


async def test_insecure_admin_has_no_log_out(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": "s"}, args=["--web", "--insecure_admin"]) as hub:
        playwright, browser, page = await browser_page()
        try:
            await page.goto(hub.url + "/")
            await page.wait_for_function("document.getElementById('server-info').textContent !== ''")
            assert await page.is_hidden("#logout")
            assert await page.text_content("#status") == "connected"
        finally:
            await browser.close()
            await playwright.stop()


async def test_an_event_on_node_b_shows_on_the_page_of_node_a(tmp_path: Path) -> None:
    with redis_server() as redis:
        config = {**FAST, "engine": "redis", "redis_url": redis.url, "redis_prefix": "liveevents"}
        with SockhubProcess(tmp_path, config, args=["--web"], name="a") as a, \
                SockhubProcess(tmp_path, {**config, "name": "node-b"}, args=["--web"], name="b") as b:
            playwright, browser, page = await browser_page()
            client: RawClient | None = None
            try:
                await shots.admin_login(page, a.url, shots.PASSWORD)
                # both nodes on the page, each with its charts
                await page.wait_for_function("document.querySelectorAll('#nodes .node .chart canvas').length === 4")
                # node B learns that a page watches (a lease), then records
                client = await RawClient.connect(b.url, SECRET, user="bob")
                assert "error" not in await client.command("subscribe", {"channel": "on-b"})
                [item] = await api_call(b.url, SECRET, "publish", {"channel": "on-b", "data": {"from": "b"}})
                assert item["error"] is None
                await page.wait_for_function("[...document.querySelectorAll('#events tr')]"
                                             ".some(r => r.dataset.kind === 'publish' && r.dataset.channel === 'on-b')")
                rows = await page.eval_on_selector_all(
                    "#events tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
                publish = next(r for r in rows if r[2] == "publish" and r[3] == "on-b")
                assert publish[1] == "node-b" and publish[5] == '{"from":"b"}'
                assert any(r[1] == "node-b" and r[2] == "subscribe" and r[4] == "bob" for r in rows)
            finally:
                if client is not None:
                    client.close()
                await browser.close()
                await playwright.stop()


async def test_the_events_view_is_bounded_and_counts_what_it_lost(hub: SockhubProcess) -> None:
    playwright, browser, page = await browser_page()
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        # a flood, as the node would push it (one batch of 1,000) and a lagging socket's notice
        await page.evaluate("""() => {
            const events = [];
            for (let i = 0; i < 1000; i++) events.push([Date.now(), "publish", "flood", "", "", String(i)]);
            window.SockhubEvents.add({node: "n", name: "flooded", dropped: 7, events: events});
            window.SockhubEvents.lost(3);
        }""")
        rows = await page.locator("#events tr").count()
        assert rows == 200  # drawn at most
        assert await page.text_content("#events tr td.data") == "999"  # newest first
        status = await page.text_content("#events-status") or ""
        assert "10 dropped" in status  # 7 by the node, 3 by the lagging socket
    finally:
        await browser.close()
        await playwright.stop()
