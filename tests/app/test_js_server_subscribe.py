"""The API ``subscribe`` as centrifuge-js 1.5.0 sees it (unchanged, run by
node.js over a raw websocket against a real sockhub process): the
unsolicited subscribe reply breaks nothing, messages before the page
subscribes are ignored by the client, and the page's own subscribe then
succeeds (adopted) and receives messages."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.server import SockhubProcess

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "js" / "server_subscribe.js"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
def test_api_subscribe_with_centrifuge_js(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": "s3cret"}) as hub:
        out = subprocess.run(["node", str(SCRIPT), hub.url, "s3cret", "42"], cwd=ROOT, env={
            "NODE_PATH": str(ROOT / "node_modules"), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "connect"
    assert events[1] == {"type": "api", "status": 200, "body": '[{"method":"subscribe","error":null,"body":null}]'}
    assert "error" not in kinds and "subscribe_error" not in kinds
    assert [e["data"] for e in events if e["type"] == "message"] == [{"n": 2}]
    assert {"type": "subscribe", "channel": "news"} in events
    assert {"type": "done", "subscribed": True} in events
