"""The WebSocket hub (`/v1/ws`) with the Python `websockets` client (asyncio)."""

import asyncio
import inspect
import json
import math
import signal

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import (FAST_INPUT_PER_MTOK, FAST_OUTPUT_PER_MTOK, MAIN_MODELS, MAX_FRAME_BYTES, start_gateway,
                      write_config)

TEXT5 = "w0 w1 w2 w3 w4"
RECV_TIMEOUT_S = 15.0


class Conn:
    """One socket; checks on every received frame that `seq` goes up by exactly one."""

    def __init__(self, ws):
        self.ws = ws
        self.frames: list[dict] = []
        self.last_seq = 0

    async def send(self, frame):
        await self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    async def recv(self, timeout=RECV_TIMEOUT_S) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(raw, str), f"expected a text frame, got {type(raw).__name__}"
        frame = json.loads(raw)
        assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
        assert frame.get("seq") == self.last_seq + 1, \
            f"seq gap: previous {self.last_seq}, got {frame.get('seq')} in {frame}"
        self.last_seq = frame["seq"]
        self.frames.append(frame)
        return frame

    async def recv_until(self, pred, timeout=RECV_TIMEOUT_S) -> list[dict]:
        """Frames received up to and including the first one matching `pred`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        got = []
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {got[-10:]}")
            f = await self.recv(left)
            got.append(f)
            if pred(f):
                return got

    async def request(self, frame: dict, timeout=RECV_TIMEOUT_S) -> list[dict]:
        """Sends a request and returns its frames up to its `done` or `error`."""
        await self.send(frame)
        rid = frame.get("id")
        frames = await self.recv_until(
            lambda f: f["type"] in ("done", "error") and (rid is None or f.get("id") == rid), timeout)
        return [f for f in frames if rid is None or f.get("id") == rid]


def ws_test(fn):
    """Runs an async test body `fn(c, **fixtures)` with a fresh connection whose
    welcome was read. Pytest sees the fixtures `fn` names after `c`."""
    params = list(inspect.signature(fn).parameters.values())[1:]

    def wrapper(**fixtures):
        async def body():
            async with connect(fixtures["gateway"].ws_url, max_size=None, open_timeout=10) as ws:
                c = Conn(ws)
                welcome = await c.recv()
                assert welcome["type"] == "welcome"
                await fn(c, **fixtures)
        asyncio.run(body())
    wrapper.__name__ = fn.__name__
    wrapper.__signature__ = inspect.Signature(params)
    return wrapper


def run(coro):
    return asyncio.run(coro)


def test_welcome_is_frame_one(gateway):
    async def body():
        async with connect(gateway.ws_url) as ws:
            f = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
            assert f["type"] == "welcome"
            assert f["seq"] == 1
            assert isinstance(f["session"], str) and f["session"]
            assert f["resumed"] is False
            ids = {m["id"]: m for m in f["models"]}
            assert {"fast", "long", "echo", "tools"} <= set(ids)
            assert "chat" in ids["fast"]["kinds"]
            assert isinstance(f.get("limits"), dict)
    run(body())


def test_two_sockets_get_distinct_sessions(gateway):
    async def body():
        async with connect(gateway.ws_url) as a, connect(gateway.ws_url) as b:
            wa = json.loads(await asyncio.wait_for(a.recv(), RECV_TIMEOUT_S))
            wb = json.loads(await asyncio.wait_for(b.recv(), RECV_TIMEOUT_S))
            assert wa["session"] != wb["session"]
    run(body())


@ws_test
async def test_chat_prompt_streams_start_deltas_done(c, gateway):
    frames = await c.request({"type": "chat", "id": "a1", "model": "fast", "prompt": "hi"})
    types = [f["type"] for f in frames]
    assert types[0] == "start", types
    assert types[-1] == "done", frames[-1]
    assert set(types[1:-1]) == {"delta"}, types
    start = frames[0]
    assert start["id"] == "a1"
    assert start["model"] == "fast"
    assert start["provider"] == "sim"
    assert "sim-t5" in start["deployment"]
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == TEXT5
    done = frames[-1]
    assert done["id"] == "a1"
    assert done["finish_reason"] == "stop"
    u = done["usage"]
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    expected_cost = (u["prompt_tokens"] * FAST_INPUT_PER_MTOK + u["completion_tokens"] * FAST_OUTPUT_PER_MTOK) / 1e6
    assert math.isclose(done["cost_usd"], expected_cost, rel_tol=1e-9, abs_tol=1e-12)
    assert done["provider"] == "sim"
    assert done["model"] == "fast"
    assert 0 <= done["ttft_ms"] <= done["latency_ms"]
    assert done["attempts"] == 1
    assert done["cached"] is False


@ws_test
async def test_chat_messages_reach_the_upstream(c, gateway):
    frames = await c.request({"type": "chat", "id": "m1", "model": "echo", "messages": [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three four"},
    ]})
    assert frames[-1]["type"] == "done", frames[-1]
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == "three four"


@ws_test
async def test_seq_has_no_gap_across_requests(c, gateway):
    for i in range(3):
        await c.request({"type": "chat", "id": f"s{i}", "model": "fast", "prompt": "hi"})
    await c.send({"type": "ping"})
    await c.recv_until(lambda f: f["type"] == "pong")
    assert [f["seq"] for f in c.frames] == list(range(1, len(c.frames) + 1))


@ws_test
async def test_fifty_multiplexed_chats(c, gateway):
    ids = [f"c{i}" for i in range(50)]
    for rid in ids:
        await c.send({"type": "chat", "id": rid, "model": "fast", "prompt": "hi"})
    ended: dict[str, list[dict]] = {}
    text = {rid: "" for rid in ids}
    while len(ended) < len(ids):
        f = await c.recv(30)
        rid = f.get("id")
        assert rid in text, f
        if f["type"] == "delta":
            assert rid not in ended, f"delta after the end of {rid}"
            text[rid] += f["text"]
        elif f["type"] in ("done", "error"):
            ended.setdefault(rid, []).append(f)
    assert all(len(v) == 1 and v[0]["type"] == "done" for v in ended.values()), \
        [v for v in ended.values() if len(v) != 1 or v[0]["type"] != "done"][:3]
    assert all(t == TEXT5 for t in text.values())
    # Nothing more arrives for them: the next frame is the pong.
    await c.send({"type": "ping", "n": 1})
    assert (await c.recv())["type"] == "pong"


@ws_test
async def test_missing_id_is_assigned(c, gateway):
    await c.send({"type": "chat", "model": "fast", "prompt": "hi"})
    await c.send({"type": "chat", "model": "fast", "prompt": "hi"})
    frames = []
    while sum(f["type"] in ("done", "error") for f in frames) < 2:
        frames.append(await c.recv())
    starts = [f["id"] for f in frames if f["type"] == "start"]
    assert sorted(starts) == ["r1", "r2"]
    assert sorted(f["id"] for f in frames if f["type"] == "done") == ["r1", "r2"]


@ws_test
async def test_duplicate_id_in_flight(c, gateway):
    await c.send({"type": "chat", "id": "dup", "model": "slow", "prompt": "hi"})
    await c.send({"type": "chat", "id": "dup", "model": "fast", "prompt": "again"})
    frames = await c.recv_until(lambda f: f["type"] == "done" and f["id"] == "dup", timeout=30)
    dup = [f for f in frames if f.get("id") == "dup"]
    errors = [f for f in dup if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["duplicate_id"]
    # The first request was not affected: it streamed its own text to the end.
    assert "".join(f["text"] for f in dup if f["type"] == "delta") == " ".join(f"w{i}" for i in range(20))
    assert sum(f["type"] == "start" for f in dup) == 1
    assert [f["model"] for f in dup if f["type"] == "done"] == ["slow"]
    # The id is free again once the first ended.
    again = await c.request({"type": "chat", "id": "dup", "model": "fast", "prompt": "hi"})
    assert again[-1]["type"] == "done"


BAD_FRAMES = [
    ("not-json", "this is not json", "bad_request"),
    ("json-array", json.dumps([{"type": "ping"}]), "bad_request"),
    ("json-string", json.dumps("chat"), "bad_request"),
    ("no-type", json.dumps({"model": "fast", "prompt": "hi"}), "bad_request"),
    ("unknown-type", json.dumps({"type": "teleport"}), "bad_request"),
    ("no-messages-or-prompt", json.dumps({"type": "chat", "id": "b1", "model": "fast"}), "bad_request"),
    ("messages-not-array", json.dumps({"type": "chat", "id": "b2", "model": "fast", "messages": "hi"}),
     "bad_request"),
    ("max-tokens-string", json.dumps({"type": "chat", "id": "b3", "model": "fast", "prompt": "hi",
                                      "max_tokens": "ten"}), "bad_request"),
    ("id-65-bytes", json.dumps({"type": "chat", "id": "x" * 65, "model": "fast", "prompt": "hi"}), "bad_request"),
    ("cancel-without-id", json.dumps({"type": "cancel"}), "bad_request"),
    ("too-large", json.dumps({"type": "chat", "id": "big", "model": "fast", "prompt": "x" * (MAX_FRAME_BYTES + 1024)}),
     "too_large"),
]


@pytest.mark.parametrize("raw,code", [(r, c) for _, r, c in BAD_FRAMES], ids=[n for n, _, _ in BAD_FRAMES])
def test_bad_frame_gets_error_and_socket_stays_open(gateway, raw, code):
    @ws_test
    async def body(c, gateway):
        await c.send(raw)
        err = await c.recv()
        assert err["type"] == "error", err
        assert err["code"] == code, err
        assert isinstance(err["message"], str) and err["message"]
        await c.send({"type": "ping", "after": "bad"})
        pong = await c.recv()
        assert pong["type"] == "pong" and pong["after"] == "bad", pong
        # And it still serves chats.
        frames = await c.request({"type": "chat", "id": "ok", "model": "fast", "prompt": "hi"})
        assert frames[-1]["type"] == "done"
    body(gateway=gateway)


@ws_test
async def test_bad_frame_does_not_disturb_request_in_flight(c, gateway):
    await c.send({"type": "chat", "id": "keep", "model": "slow", "prompt": "hi"})
    await c.send("{not json")
    frames = await c.recv_until(lambda f: f["type"] == "done" and f.get("id") == "keep", timeout=30)
    assert [f["code"] for f in frames if f["type"] == "error"] == ["bad_request"]
    assert "".join(f["text"] for f in frames if f.get("id") == "keep" and f["type"] == "delta") \
        == " ".join(f"w{i}" for i in range(20))


@ws_test
async def test_unknown_model_is_not_found(c, gateway):
    frames = await c.request({"type": "chat", "id": "nf", "model": "no-such-alias", "prompt": "hi"})
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["code"] == "not_found"


@ws_test
async def test_upstream_failure_is_upstream_error(c, gateway):
    frames = await c.request({"type": "chat", "id": "u1", "model": "broken", "prompt": "hi"})
    assert frames[-1]["type"] == "error"
    assert frames[-1]["code"] == "upstream_error"
    assert not any(f["type"] == "delta" for f in frames)


@ws_test
async def test_fallback_alias(c, gateway):
    frames = await c.request({"type": "chat", "id": "fb", "model": "fallback-ok", "prompt": "hi"})
    done = frames[-1]
    assert done["type"] == "done", done
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == TEXT5
    assert done["attempts"] >= 2


@ws_test
async def test_cut_stream_ends_with_error(c, gateway):
    frames = await c.request({"type": "chat", "id": "cut", "model": "cut", "prompt": "hi"})
    assert frames[-1]["type"] == "error", frames[-1]
    assert frames[-1]["code"] == "upstream_error"
    assert not any(f["type"] == "done" for f in frames)
    assert "".join(f["text"] for f in frames if f["type"] == "delta").startswith("w0")


@ws_test
async def test_tool_call_deltas(c, gateway):
    frames = await c.request({"type": "chat", "id": "t", "model": "tools", "prompt": "weather?",
                              "tools": [{"type": "function", "function": {"name": "get_weather",
                                                                          "parameters": {"type": "object"}}}]})
    done = frames[-1]
    assert done["type"] == "done", done
    assert done["finish_reason"] == "tool_calls"
    calls = [tc for f in frames if f["type"] == "delta" for tc in (f.get("tool_calls") or [])]
    assert calls, frames
    name = "".join((tc.get("function") or {}).get("name") or "" for tc in calls)
    args = "".join((tc.get("function") or {}).get("arguments") or "" for tc in calls)
    assert name
    assert isinstance(json.loads(args), dict)


@ws_test
async def test_cancel_aborts_upstream(c, gateway, sim):
    aborted = sim.stats()["aborted"]
    await c.send({"type": "chat", "id": "L", "model": "long", "prompt": "hi"})
    await c.recv_until(lambda f: f["type"] == "delta" and f["id"] == "L")
    await c.send({"type": "cancel", "id": "L"})
    frames = await c.recv_until(lambda f: f["type"] in ("done", "error") and f.get("id") == "L")
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "cancelled", frames[-1]
    sim.wait_stat("aborted", aborted + 1)
    # Nothing more about L, and the socket still works.
    await c.send({"type": "ping", "k": "after-cancel"})
    rest = await c.recv_until(lambda f: f["type"] == "pong")
    assert all(f.get("id") != "L" or f["type"] == "delta" for f in rest)
    assert not any(f.get("id") == "L" and f["type"] in ("done", "error") for f in rest)


@ws_test
async def test_cancel_unknown_id_is_harmless(c, gateway):
    await c.send({"type": "cancel", "id": "never-started"})
    await c.send({"type": "ping", "k": 1})
    frames = await c.recv_until(lambda f: f["type"] == "pong")
    assert all(f["type"] in ("error", "pong") for f in frames)


def test_closing_socket_aborts_upstream(gateway, sim):
    async def body():
        aborted = sim.stats()["aborted"]
        async with connect(gateway.ws_url) as ws:
            c = Conn(ws)
            await c.recv()
            await c.send({"type": "chat", "id": "bye", "model": "long", "prompt": "hi"})
            await c.recv_until(lambda f: f["type"] == "delta")
        sim.wait_stat("aborted", aborted + 1)
    run(body())


@ws_test
async def test_ping_pong_echoes_fields(c, gateway):
    await c.send({"type": "ping", "nonce": 42, "data": {"a": [1, 2, "x"]}, "s": "é"})
    pong = await c.recv()
    assert pong["type"] == "pong"
    assert pong["nonce"] == 42
    assert pong["data"] == {"a": [1, 2, "x"]}
    assert pong["s"] == "é"


@ws_test
async def test_binary_frame_is_bad_request(c, gateway):
    await c.send(json.dumps({"type": "ping"}).encode())
    err = await c.recv()
    assert err["type"] == "error" and err["code"] == "bad_request", err
    await c.send({"type": "ping", "still": "open"})
    assert (await c.recv())["still"] == "open"


def test_subprotocol_clawgate_v1_is_selected(gateway):
    async def body():
        async with connect(gateway.ws_url, subprotocols=["clawgate.v1"]) as ws:
            assert ws.subprotocol == "clawgate.v1"
            f = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
            assert f["type"] == "welcome" and f["seq"] == 1
    run(body())


@ws_test
async def test_chat_without_model_uses_the_first_alias(c, gateway):
    frames = await c.request({"type": "chat", "id": "nm", "prompt": "hi"})
    assert frames[0]["type"] == "start" and frames[0]["model"] == "fast", frames[0]
    assert frames[-1]["type"] == "done"


@ws_test
async def test_unknown_chat_field_is_bad_request_with_id(c, gateway):
    await c.send({"type": "chat", "id": "typo", "model": "fast", "promt": "hi"})
    err = await c.recv()
    assert err["type"] == "error" and err["code"] == "bad_request" and err.get("id") == "typo", err
    assert "promt" in err["message"]


@ws_test
async def test_missing_upstream_usage_is_estimated(c, gateway):
    frames = await c.request({"type": "chat", "id": "nu", "model": "nousage", "prompt": "hello world"})
    done = frames[-1]
    assert done["type"] == "done", done
    u = done["usage"]
    assert u.get("estimated") is True
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


@ws_test
async def test_max_tokens_reaches_upstream(c, gateway):
    frames = await c.request({"type": "chat", "id": "mt", "model": "fast", "prompt": "hi", "max_tokens": 2})
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == "w0 w1 "
    assert frames[-1]["finish_reason"] == "length"


def test_idle_timeout_after_first_token(timeouts_gateway, sim):
    async def body():
        aborted = sim.stats()["aborted"]
        async with connect(timeouts_gateway.ws_url) as ws:
            c = Conn(ws)
            await c.recv()
            frames = await c.request({"type": "chat", "id": "st", "model": "stall", "prompt": "hi"})
            assert frames[-1]["type"] == "error", frames[-1]
            assert frames[-1]["code"] == "upstream_timeout"
            assert "idle_timeout_ms" in frames[-1]["message"]
            # The first token was relayed; no retry after it (the text would repeat).
            assert "".join(f["text"] for f in frames if f["type"] == "delta") == "w0 "
            assert sum(f["type"] == "start" for f in frames) == 1
        sim.wait_stat("aborted", aborted + 1)
    run(body())


def test_shutdown_ends_requests_in_flight_and_closes_1001(sim, tmp_path, logs):
    cfg = write_config(tmp_path / "shutdown.yaml", sim.port, MAIN_MODELS, {})
    gw = start_gateway(cfg, logs, "clawgate-shutdown")

    async def body():
        async with connect(gw.ws_url) as ws:
            c = Conn(ws)
            await c.recv()
            await c.send({"type": "chat", "id": "L", "model": "long", "prompt": "hi"})
            await c.recv_until(lambda f: f["type"] == "delta")
            gw.proc.p.send_signal(signal.SIGTERM)
            ended = None
            try:
                while ended is None:
                    f = await c.recv(10)
                    if f["type"] in ("done", "error"):
                        ended = f
                await asyncio.wait_for(ws.wait_closed(), 10)
            except ConnectionClosed:
                pass
            assert ended is not None and ended["type"] == "error" and ended["id"] == "L", ended
            assert ws.close_code == 1001, ws.close_code
    try:
        run(body())
    finally:
        gw.proc.stop()


@ws_test
async def test_unicode_and_escapes_round_trip(c, gateway):
    tricky = 'héllo "wörld" \\ back\\slash\nnew line \t tab 🌍 <script>&amp;</script> \u2028'
    for model in ("echo", "echo-pieces"):
        frames = await c.request({"type": "chat", "id": "u", "model": model, "prompt": tricky})
        assert frames[-1]["type"] == "done", frames[-1]
        deltas = [f["text"] for f in frames if f["type"] == "delta"]
        assert "".join(deltas) == tricky
        assert len(deltas) == (1 if model == "echo" else 7)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1])


def test_reader_that_stops_pauses_the_upstream(gateway, sim):
    """Backpressure: a client that stops reading a 300,000-chunk stream is not
    buffered without bound; the gateway pauses the upstream transfer instead."""
    async def body():
        base = sim.stats()
        # max_queue=4: the client library itself stops reading the socket after 4 frames.
        async with connect(gateway.ws_url, max_queue=4) as ws:
            c = Conn(ws)
            await c.recv()
            rss_before = rss_kb(gateway.proc.p.pid)
            await c.send({"type": "chat", "id": "H", "model": "huge", "prompt": "hi"})
            sim.wait_stat("started", base["started"] + 1)
            # Unpaused, the simulator would finish all 300,000 chunks within this window and the
            # gateway would hold tens of megabytes of frames; paused, neither happens.
            loop = asyncio.get_running_loop()
            window_end = loop.time() + 2.0
            while loop.time() < window_end:
                s = sim.stats()
                assert s["completed"] == base["completed"], "the upstream ran to the end while nobody read"
                assert rss_kb(gateway.proc.p.pid) - rss_before < 10 * 1024, "the gateway is buffering the stream"
                await asyncio.sleep(0.1)
            await c.send({"type": "cancel", "id": "H"})
            end = await c.recv_until(lambda f: f["type"] in ("done", "error"), timeout=60)
            assert end[-1]["type"] == "error" and end[-1]["code"] == "cancelled", end[-1]
        sim.wait_stat("aborted", base["aborted"] + 1)
    run(body())


def test_upgrade_from_a_foreign_origin_is_refused(gateway):
    async def body():
        with pytest.raises(InvalidStatus) as e:
            async with connect(gateway.ws_url, origin="http://evil.example", open_timeout=10):
                pass
        assert e.value.response.status_code == 403
    run(body())


def test_upgrade_from_the_gateway_origin_and_without_origin_is_accepted(gateway):
    async def body():
        for origin in (gateway.base, None):
            async with connect(gateway.ws_url, origin=origin) as ws:
                assert json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))["type"] == "welcome"
    run(body())
