"""`tui-nn serve`: a real server on loopback, driven by a real headless Chromium.

The browser is Debian's `chromium` (`apt-get install -y chromium`; `.ci/run` installs it when
it can), spoken to over the Chrome DevTools protocol with aiohttp, which textual-serve brings.
The test opens the page, closes the story card and trains with key presses (100 epochs each),
until a screenshot shows the decision boundary: large areas in both class colours.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

aiohttp = pytest.importorskip(
    "aiohttp", reason="the web extra is not installed (pip install 'tui-nn[web]')"
)
pytest.importorskip("textual_serve", reason="the web extra is not installed")

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no headless browser: Debian's chromium is not installed (apt-get install -y "
    "chromium; .ci/run installs it when it runs as root)",
)
SHOT = os.environ.get("TUI_NN_BROWSER_SCREENSHOT")
"""Where to keep the screenshot (for people to look at); a temporary folder otherwise."""
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
    # The page asks Google for a font: nothing leaves this machine, the lookup fails at once.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def first_line_matching(stream: Any, pattern: str, lines: list[str]) -> re.Match[str]:
    """The first line of ``stream`` that matches ``pattern`` (within a minute).

    A thread keeps reading the stream to its end, so the process never blocks on a full pipe.
    """
    found: queue.Queue[re.Match[str] | None] = queue.Queue()

    def drain() -> None:
        matched = False
        for line in stream:
            lines.append(line)
            if not matched and (match := re.search(pattern, line)):
                matched = True
                found.put(match)
        found.put(None)

    threading.Thread(target=drain, daemon=True).start()
    match = await asyncio.to_thread(found.get, timeout=60)
    assert match is not None, "the process ended first:\n" + "".join(lines)
    return match


@contextlib.contextmanager
def process(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(args, text=True, **kwargs)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class DevTools:
    """The few Chrome DevTools protocol calls the test needs, over one websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        async for reply in self.ws:
            data = json.loads(reply.data)
            if data.get("id") == self.next_id:
                if "error" in data:
                    raise AssertionError(f"{method}: {data['error']}")
                return data["result"]
            if "method" in data:
                self.events.append(data)
        raise AssertionError("the browser closed the connection")

    async def event(self, method: str, session: str) -> dict[str, Any]:
        """Wait for the next event ``method`` of a page."""
        while True:
            for i, data in enumerate(self.events):
                if data["method"] == method and data.get("sessionId") == session:
                    return self.events.pop(i)
            reply = await self.ws.receive()
            if reply.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError("the browser closed the connection")
            self.events.append(json.loads(reply.data))

    async def evaluate(self, session: str, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate",
            session,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    async def open(self, url: str) -> str:
        """A new page showing ``url``, loaded; returns its session id."""
        target = await self.call("Target.createTarget", url="about:blank")
        attached = await self.call(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = str(attached["sessionId"])
        if url != "about:blank":
            await self.call("Page.enable", session)
            await self.call("Page.navigate", session, url=url)
            await self.event("Page.loadEventFired", session)
        return session

    async def key(self, session: str, key: str) -> None:
        """Type a key into the page's terminal."""
        await self.evaluate(session, "document.querySelector('.xterm-helper-textarea').focus()")
        for kind in ("keyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent",
                session,
                type=kind,
                key=key,
                text=key if kind == "keyDown" else "",
                windowsVirtualKeyCode=ord(key.upper()),
            )


@contextlib.asynccontextmanager
async def browser(tmp_path: Path) -> AsyncIterator[DevTools]:
    assert CHROMIUM is not None
    args = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "about:blank"]
    with process(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) as chromium:
        lines: list[str] = []
        found = await first_line_matching(chromium.stderr, r"(ws://\S+)", lines)
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(found[1], max_msg_size=0) as ws,
        ):
            yield DevTools(ws)


# Resolves once the page has received the trainer's first output.
FIRST_BYTE = """
new Promise(done => {
  const check = () => document.body.classList.contains("-first-byte") ? done(true)
    : setTimeout(check, 100);
  check();
})
"""

# Counts the pixels of a PNG (in a data: URL) within a distance of each of some colours, in the
# browser itself: no image library needed here.
COUNT_COLOURS = """
(async () => {
  const img = new Image();
  img.src = "data:image/png;base64,%s";
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  const targets = %s;
  const counts = targets.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    targets.forEach(([r, g, b], k) => {
      if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) <= 24) {
        counts[k] += 1;
      }
    });
  }
  return {counts: counts, total: img.width * img.height};
})()
"""


async def test_the_browser_view_shows_the_decision_boundary(tmp_path: Path) -> None:
    await asyncio.wait_for(drive_the_browser(tmp_path), 120)


async def drive_the_browser(tmp_path: Path) -> None:
    from tui_nn.plane import LEVELS
    from tui_nn.widgets.palette import default_palette

    port = free_port()
    serve = [sys.executable, "-m", "tui_nn", "serve", "moons", "--port", str(port)]
    env = {**os.environ, "NO_COLOR": "", "PYTHONUNBUFFERED": "1"}
    env.pop("NO_COLOR")
    with process(serve, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as server:
        lines: list[str] = []
        announced = await first_line_matching(server.stdout, r"serving the trainer at (\S+)", lines)
        assert announced[1] == f"http://127.0.0.1:{port}"
        assert "this machine only" in lines[-1]
        async with browser(tmp_path) as devtools:
            page = await devtools.open(announced[1] + "/?fontsize=14")
            await devtools.evaluate(page, FIRST_BYTE)
            # The page is the only one shown and focused: a background tab paints no frames.
            await devtools.call("Page.bringToFront", page)
            await devtools.call("Emulation.setFocusEmulationEnabled", page, enabled=True)
            # The first N closes the story card (Escape would reach Textual's web driver as a
            # lone ESC byte, which it holds until more input arrives).
            palette = default_palette()
            sure = [palette.rgb(palette.pixel[0]), palette.rgb(palette.pixel[2 * LEVELS - 1])]
            for _ in range(30):  # 100 more epochs each time, until the boundary is drawn
                await devtools.key(page, "N")
                shot = await devtools.call("Page.captureScreenshot", page, format="png")
                found = await devtools.evaluate(
                    page, COUNT_COLOURS % (shot["data"], json.dumps(sure))
                )
                if min(found["counts"]) > 0.03 * found["total"]:
                    break
            path = Path(SHOT) if SHOT else tmp_path / "browser.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            shares = [round(c / found["total"], 3) for c in found["counts"]]
            assert min(shares) > 0.03, f"class colours cover {shares} of {path}:\n" + "".join(lines)
