"""Headless Chromium driven over the Chrome DevTools Protocol, for `scripts/e2e.py`.

No browser download and no driver: Debian's `/usr/bin/chromium` is started with
`--remote-debugging-port=0`, and one page is driven over a websocket (`websockets` comes with
`dagster-webserver` through `uvicorn[standard]`). Waits poll a JavaScript predicate in the page
until it holds, so assertions look at what the rendered DOM shows, never at a fixed sleep.

Example::

    with Chromium(profile_dir) as browser:
        page = browser.page
        page.goto("http://127.0.0.1:3000/asset-groups")
        page.wait_for_text("kpi_report")
        page.screenshot(Path("graph.png"))
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

#: The flags this machine kind needs: no sandbox as root, and no background traffic to Google
#: (the network is closed; Chromium would retry those connections all the time).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserError(RuntimeError):
    """Chromium did not start, or a page did not show what was expected in time."""


class WaitTimeout(BrowserError):
    """What was waited for did not show up in time (the page itself answered)."""


class Page:
    """One browser tab: navigate, wait for a predicate, read text, click, screenshot."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.viewport: tuple[int, int, float] = (0, 0, 1.0)

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """One CDP command; events that arrive meanwhile are dropped (we poll, never subscribe)."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer to {method} after {timeout:.0f} s")
            reply = json.loads(self._ws.recv(timeout=remaining))
            if reply.get("id") != message_id:
                continue
            if "error" in reply:
                raise BrowserError(f"{method} failed: {reply['error']}")
            return reply.get("result", {})

    def set_viewport(self, width: int, height: int, scale: float = 1.0) -> None:
        """A `width` x `height` CSS-pixel window; screenshots are `scale` times that size."""
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": False})
        self.viewport = (width, height, scale)

    def goto(self, url: str) -> None:
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"could not open {url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), or raise with the JS error."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 45.0, interval: float = 0.25) -> Any:
        """Poll until the expression is truthy and return its value; raise naming `what` if never."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)

    def text(self) -> str:
        """What a person can read on the page (`innerText` skips hidden elements)."""
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, *needles: str, timeout: float = 45.0) -> str:
        """Wait until every needle is in the visible text; return that text."""
        check = " && ".join(f"t.includes({json.dumps(n)})" for n in needles)
        expression = f"(() => {{ const t = document.body ? document.body.innerText : ''; return ({check}) ? t : ''; }})()"
        try:
            return self.wait_for(expression, f"the text {list(needles)!r}", timeout=timeout)
        except WaitTimeout:
            visible = self.text()
            missing = [n for n in needles if n not in visible]
            raise WaitTimeout(f"not on the page after {timeout:.0f} s: {missing!r}") from None

    def click(self, element_js: str, what: str) -> None:
        """Click the centre of the element that `element_js` evaluates to, with real mouse events."""
        point = self.evaluate(
            f"""(() => {{
                const el = {element_js};
                if (!el) return null;
                el.scrollIntoView({{block: 'nearest'}});
                const r = el.getBoundingClientRect();
                return [r.left + r.width / 2, r.top + r.height / 2];
            }})()"""
        )
        if not point:
            raise BrowserError(f"nothing to click: {what} is not on the page")
        self._mouse(*point, clicks=1)

    def double_click(self, point_js: str, what: str) -> None:
        """Double-click the `[x, y]` point that `point_js` evaluates to."""
        point = self.evaluate(point_js)
        if not point:
            raise BrowserError(f"nothing to double-click: no {what}")
        self._mouse(*point, clicks=2)

    def _mouse(self, x: float, y: float, clicks: int) -> None:
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for count in range(1, clicks + 1):
            for kind in ("mousePressed", "mouseReleased"):
                self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": count})

    def click_text(self, text: str, selector: str = "button, a, [role=button], [role=tab]") -> None:
        """Click the first visible element matching `selector` whose text is exactly `text`."""
        self.click(
            f"[...document.querySelectorAll({json.dumps(selector)})]"
            f".find(e => e.innerText && e.innerText.trim() === {json.dumps(text)} && e.getClientRects().length > 0)",
            f"a {text!r} button",
        )

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


class Chromium:
    """Debian's Chromium, headless, in its own process group; one page, closed on exit."""

    def __init__(self, profile_dir: Path, *, executable: str | None = None, width: int = 1280, height: int = 800,
                 scale: float = 1.0, startup_timeout: float = 60.0) -> None:
        self.profile_dir = Path(profile_dir)
        self.executable = executable or shutil.which("chromium") or "/usr/bin/chromium"
        self.width, self.height, self.scale = width, height, scale
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None
        self.page: Page

    def __enter__(self) -> Chromium:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        shutil.rmtree(self.profile_dir, ignore_errors=True)
        self.profile_dir.mkdir(parents=True)
        log = (self.profile_dir.parent / "chromium.log").open("wb")
        self.process = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile_dir}", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        # Chromium writes the port it bound into the profile once DevTools listens.
        port_file = self.profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + self.startup_timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with status {self.process.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                raise BrowserError(f"chromium did not open DevTools in {self.startup_timeout:.0f} s; see {log.name}")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.page = Page(self._ws)
        self.page.set_viewport(self.width, self.height, self.scale)

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        if self.process is not None and self.process.poll() is None:
            kill_group(self.process)


def kill_group(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process group (started with `start_new_session=True`), SIGKILL what remains."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived the leader
    except ProcessLookupError:
        pass
    process.wait()
