"""``/docs`` in a real headless Chromium with the network cut off: the operations list renders and "Try it out" works.

Issue 24: the page loaded Swagger UI from a public CDN, so without internet access it was blank. Chromium
(Debian's, installed by scripts/setup) runs headless with every non-loopback request sent to a closed proxy
port and every host name unresolvable; the test drives it over the DevTools protocol (the ``websockets`` package
uvicorn[standard] brings), records every URL the page requests, and clicks through as a person would.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.kit.daemon import stop_daemon
from tests.kit.servers import ServerProcess

pytestmark = pytest.mark.integration


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("no Debian chromium package on this platform (the test needs a headless Chromium)")
    pytest.fail("chromium is missing: run scripts/setup (scripts/test does), which installs Debian's chromium")


class DevTools:
    """A minimal DevTools-protocol client: commands by id, events kept in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return dict(msg["result"])
            self.events.append(msg)

    def evaluate(self, script: str) -> Any:
        """Run an async JavaScript expression in the page and return its JSON value (errors fail the test)."""
        result = self.send("Runtime.evaluate", {"expression": script, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"].get("exception", {}).get("description", result))
        return result["result"].get("value")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium, offline but for loopback, driven through its DevTools port."""
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--proxy-server=http://127.0.0.1:9",  # every non-loopback request goes to a closed port
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().split()) == 2):
            assert proc.poll() is None, "chromium exited at start"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json() if t["type"] == "page"]
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            yield DevTools(ws)
    finally:
        stop_daemon(proc)


WAIT = """
const wait = async (find, what, ms = 20000) => {
  const t0 = Date.now();
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() - t0 > ms) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
};
"""

OPERATIONS = (
    """
(async () => {"""
    + WAIT
    + """
  await wait(() => document.querySelector(".opblock-summary-path"), "the operations list");
  return [...document.querySelectorAll(".opblock")].map((op) => [
    op.querySelector(".opblock-summary-method").textContent.trim(),
    op.querySelector(".opblock-summary-path").getAttribute("data-path"),
  ]);
})()
"""
)

TRY_PING = (
    """
(async () => {"""
    + WAIT
    + """
  const op = [...document.querySelectorAll(".opblock-get")].find(
    (o) => o.querySelector(".opblock-summary-path").getAttribute("data-path") === "/download/ping");
  op.querySelector(".opblock-summary-control").click();
  (await wait(() => op.querySelector(".try-out__btn"), "Try it out")).click();
  (await wait(() => op.querySelector("button.execute"), "Execute")).click();
  const row = await wait(() => op.querySelector(".live-responses-table tr.response"), "the response");
  const status = row.querySelector(".response-col_status");
  const body = row.querySelector(".response-col_description pre");
  return [status.textContent.trim(), body ? body.textContent : ""];
})()
"""
)


def test_docs_render_offline_and_try_it_out_of_ping_works(server: ServerProcess, browser: DevTools) -> None:
    browser.send("Network.enable")
    browser.send("Page.enable")
    browser.send("Page.navigate", {"url": f"{server.url}/docs"})
    operations = browser.evaluate(OPERATIONS)
    assert ["GET", "/download/ping"] in operations, operations
    assert ["POST", "/upload/{object-id}/uploads"] in operations or len(operations) > 20, operations
    status, body = browser.evaluate(TRY_PING)
    assert status == "200", (status, body)
    assert server.url in body, body  # the sentinel's signed URL on this server
    requested = [
        e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"
    ]
    origins = {f"{u.scheme}://{u.netloc}" for u in map(urlsplit, requested) if u.scheme in ("http", "https")}
    assert origins == {server.url}, f"the page requested other origins: {sorted(origins)}"
    assert f"{server.url}/docs/assets/swagger-ui-bundle.js" in requested
    assert f"{server.url}/openapi.json" in requested
