"""The `websocat` binary (from the venv) as a terminal user would run it:
`websocat ws://HOST:PORT/v1/ws`, typing one JSON frame per line."""

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

TEXT5 = "w0 w1 w2 w3 w4"


def websocat_path() -> str:
    here = Path(sys.executable).parent / "websocat"
    path = str(here) if here.exists() else shutil.which("websocat")
    if not path:
        pytest.fail("websocat not found: run `make test-deps`")
    return path


class Websocat:
    def __init__(self, url: str):
        # -t: send each stdin line as a text message; received messages are printed one per line.
        self.p = subprocess.Popen([websocat_path(), "-t", url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send_line(self, line: str):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def frames_until(self, pred, timeout=15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        got = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {got}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"websocat exited ({self.p.wait()}): {self.p.stderr.read()}; got {got}")
            if not line.strip():
                continue
            frame = json.loads(line)
            got.append(frame)
            if pred(frame):
                return got

    def close(self) -> int:
        self.p.stdin.close()
        try:
            return self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()


@pytest.fixture
def websocat(gateway):
    w = Websocat(gateway.ws_url)
    yield w
    if w.p.poll() is None:
        w.close()


def test_chat_line_streams_frames_in_order(websocat):
    websocat.send_line(json.dumps({"type": "chat", "model": "fast", "prompt": "hi"}))
    frames = websocat.frames_until(lambda f: f["type"] in ("done", "error"))
    types = [f["type"] for f in frames]
    assert types[0] == "welcome", types
    assert types[1] == "start", types
    assert types[-1] == "done", frames[-1]
    assert set(types[2:-1]) == {"delta"}, types
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == TEXT5
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert frames[1]["id"] == frames[-1]["id"] == "r1"
    # Closing stdin closes the socket cleanly.
    assert websocat.close() == 0


def test_typo_line_then_chat(websocat):
    websocat.send_line('{"type":"chat","model":"fast","prompt":"hi"')  # missing brace
    frames = websocat.frames_until(lambda f: f["type"] == "error")
    assert frames[-1]["code"] == "bad_request"
    websocat.send_line('{"type":"ping","n":7}')
    assert websocat.frames_until(lambda f: f["type"] == "pong")[-1]["n"] == 7
    websocat.send_line('{"type":"chat","id":"again","model":"fast","prompt":"hi"}')
    assert websocat.frames_until(lambda f: f["type"] in ("done", "error"))[-1]["type"] == "done"
