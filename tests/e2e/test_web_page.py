"""The web chat page in headless Chromium (Debian's `chromium` package), driven
through the Chrome DevTools Protocol with the `websockets` library."""

import asyncio
import itertools
import json
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

TEXT5 = "w0 w1 w2 w3 w4"


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium not found: `make test-deps` installs Debian's chromium package")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Yields the DevTools HTTP base URL of a headless Chromium."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    p = subprocess.Popen([chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
                          "--remote-debugging-address=127.0.0.1",
                          f"--user-data-dir={profile}", "about:blank"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in p.stderr:
            lines.put(line)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    seen = []
    deadline = time.monotonic() + 30
    base = None
    while base is None:
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            pytest.fail("chromium printed no DevTools URL within 30s:\n" + "".join(seen[-30:]))
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            continue
        if line is None:
            pytest.fail(f"chromium exited with {p.wait()}:\n" + "".join(seen[-30:]))
        seen.append(line)
        m = re.search(r"DevTools listening on ws://([^/\s]+)/", line)
        if m:
            base = f"http://{m.group(1)}"
    yield base
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class CDP:
    """A minimal DevTools Protocol client for one page target."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in self.pending:
                    self.pending.pop(msg["id"]).set_result(msg)
                else:
                    self.events.append(msg)
        except ConnectionClosed:
            pass

    async def call(self, method, **params):
        mid = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[mid] = fut
        await self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, 15)
        if "error" in msg:
            raise AssertionError(f"{method}: {msg['error']}")
        return msg["result"]

    async def eval(self, expression):
        r = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def wait_for(self, expression, timeout=15.0, what=None):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = None
        while loop.time() < deadline:
            last = await self.eval(expression)
            if last:
                return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or expression}; last value {last!r}")

    async def click(self, selector):
        box = await self.eval(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                              ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    async def type_into(self, selector, text):
        await self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.call("Input.insertText", text=text)

    def problems(self):
        """Console errors and CSP violations seen so far."""
        out = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(e["params"]["exceptionDetails"].get("text"))
            elif e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error":
                out.append(e["params"]["entry"].get("text"))
            elif e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error":
                out.append(str(e["params"]["args"]))
        return out


def page_ws_url(base):
    def find():
        with urllib.request.urlopen(base + "/json/list", timeout=5) as r:
            pages = [t for t in json.loads(r.read()) if t.get("type") == "page"]
        return pages[0]["webSocketDebuggerUrl"] if pages else None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        url = find()
        if url:
            return url
        time.sleep(0.1)
    pytest.fail("chromium has no page target")


def test_chat_in_the_browser(browser, gateway):
    async def body():
        async with connect(page_ws_url(browser), max_size=None) as ws:
            cdp = CDP(ws)
            for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
                await cdp.call(domain)
            await cdp.call("Page.navigate", url=gateway.base + "/")
            await cdp.wait_for("document.readyState === 'complete' && !!document.querySelector('#prompt')")
            # The welcome frame filled the model list and enabled Send.
            await cdp.wait_for("document.querySelector('#model').options.length > 0 && "
                               "!document.querySelector('#send').disabled", what="models from welcome")
            models = await cdp.eval("[...document.querySelector('#model').options].map(o => o.value)")
            assert {"fast", "echo"} <= set(models)

            await cdp.eval("document.querySelector('#model').value = 'fast'")
            await cdp.type_into("#prompt", "hello there")
            await cdp.click("#send")
            text = await cdp.wait_for(
                "(() => { const a = document.querySelectorAll('.assistant'); const t = a.length && "
                "a[a.length - 1].querySelector('.text').textContent; return t === 'w0 w1 w2 w3 w4' && t; })()",
                what="the streamed reply")
            assert text == TEXT5
            stats = await cdp.wait_for("document.querySelector('.assistant .stats:not([hidden])')?.textContent")
            assert "tokens" in stats and "$" in stats
            assert await cdp.eval("document.querySelector('.user').textContent") == "hello there"

            # A second turn with the echo model: the page sends the whole conversation.
            await cdp.eval("document.querySelector('#model').value = 'echo'")
            await cdp.wait_for("!document.querySelector('#send').disabled")
            await cdp.type_into("#prompt", "second turn")
            await cdp.call("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter",
                           windowsVirtualKeyCode=13, text="\r")
            await cdp.call("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter", windowsVirtualKeyCode=13)
            await cdp.wait_for("(() => { const a = document.querySelectorAll('.assistant'); return a.length === 2 && "
                               "a[1].querySelector('.text').textContent === 'second turn'; })()",
                               what="the echoed second turn")
            assert await cdp.eval("document.querySelectorAll('.message.error').length") == 0
            assert cdp.problems() == []
    asyncio.run(body())


def test_cancel_in_the_browser(browser, gateway, sim):
    async def body():
        async with connect(page_ws_url(browser), max_size=None) as ws:
            cdp = CDP(ws)
            await cdp.call("Runtime.enable")
            await cdp.call("Page.navigate", url=gateway.base + "/")
            await cdp.wait_for("document.readyState === 'complete' && !!document.querySelector('#prompt') && "
                               "document.querySelector('#model').options.length > 0 && "
                               "!document.querySelector('#send').disabled")
            aborted = sim.stats()["aborted"]
            await cdp.eval("document.querySelector('#model').value = 'long'")
            await cdp.type_into("#prompt", "a long one")
            await cdp.click("#send")
            await cdp.wait_for("document.querySelector('.assistant .text')?.textContent.startsWith('w0')")
            assert await cdp.eval("!document.querySelector('#cancel').hidden")
            await cdp.click("#cancel")
            err = await cdp.wait_for("document.querySelector('.assistant .error-text:not([hidden])')?.textContent")
            assert "cancelled" in err
            sim.wait_stat("aborted", aborted + 1)
            assert await cdp.eval("document.querySelector('#cancel').hidden")
    asyncio.run(body())
