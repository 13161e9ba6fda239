"""The official OpenAI Python SDK against the gateway's OpenAI door."""

import json

import openai
import pytest

from conftest import SIM_KEY

TEXT5 = "w0 w1 w2 w3 w4"


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=gateway.base + "/v1", api_key="unused", max_retries=0, timeout=30)


def test_non_stream_completion(client):
    r = client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    assert r.object == "chat.completion"
    assert r.model == "fast"
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == TEXT5
    assert choice.finish_reason == "stop"
    assert r.usage is not None
    assert r.usage.prompt_tokens > 0
    assert r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_stream_with_usage(client):
    stream = client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks, "no chunks"
    content_chunks = [c for c in chunks if c.choices]
    assert content_chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in content_chunks)
    assert text == TEXT5
    finish = [c.choices[0].finish_reason for c in content_chunks if c.choices[0].finish_reason]
    assert finish == ["stop"]
    # With include_usage, the last chunk has no choices and carries the usage.
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    assert all(c.model == "fast" for c in chunks)
    assert len({c.id for c in chunks}) == 1


def test_stream_without_usage_has_no_usage_chunk(client):
    chunks = list(client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True))
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == TEXT5


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-alias", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 404
    assert e.value.code == "not_found"
    assert e.value.response.headers.get("x-request-id")


def test_empty_messages_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="fast", messages=[])
    assert e.value.status_code == 400
    assert e.value.code == "bad_request"


def test_wrong_type_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"max_tokens": "ten"})
    assert e.value.code == "bad_request"


def test_upstream_429_without_fallback_is_upstream_error(client):
    # The provider's own 429 is not the gateway's rate limit: after retries it is
    # reported as upstream_error / 502 (docs/protocol.md, "Errors").
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="ratelimited", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 502
    assert e.value.code == "upstream_error"
    assert isinstance(e.value.body, dict) and e.value.body.get("type") == "api_error"


def test_upstream_500_without_fallback_is_upstream_error(client):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="broken", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 502
    assert e.value.code == "upstream_error"


def test_fallback_alias_succeeds_with_fallback_text(client):
    r = client.chat.completions.create(model="fallback-ok", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == TEXT5


def test_fallback_alias_streams_fallback_text(client):
    chunks = list(client.chat.completions.create(model="fallback-ok", stream=True,
                                                 messages=[{"role": "user", "content": "hi"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT5


def test_cut_stream_raises(client):
    stream = client.chat.completions.create(model="cut", messages=[{"role": "user", "content": "hi"}], stream=True)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")
    # The chunks that arrived before the cut were relayed as they came, not withheld.
    text = "".join(received)
    assert text.startswith("w0")
    assert "w0 w1 w2 w3 w4 w5 w6 w7".startswith(text.rstrip())
    assert "w7" not in text


def test_midstream_error_raises(client):
    stream = client.chat.completions.create(model="midstream-error", stream=True,
                                            messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_x_request_id_header(client):
    raw = client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    rid = raw.headers.get("x-request-id")
    assert rid and len(rid) <= 64
    assert raw.parse().choices[0].message.content == TEXT5
    raw2 = client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    assert raw2.headers.get("x-request-id") != rid


def test_echo_sends_the_last_user_message_upstream(client, sim):
    r = client.chat.completions.create(model="echo", messages=[
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "the second question"},
    ])
    assert r.choices[0].message.content == "the second question"
    stats = sim.stats()
    body = stats["lastRequestBody"]
    if isinstance(body, str):
        body = json.loads(body)
    assert body["model"] == "sim-echo"
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    # The gateway sends the provider's key, read from env:SIM_KEY; never the client's.
    assert stats["lastAuthorization"] == f"Bearer {SIM_KEY}"


def test_tool_call_stream_reassembles(client):
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    stream = client.chat.completions.create(model="tools", messages=[{"role": "user", "content": "weather?"}],
                                            tools=tools, stream=True)
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for tc in choice.delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
            if tc.id:
                slot["id"] = tc.id
            if tc.function and tc.function.name:
                slot["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                slot["arguments"] += tc.function.arguments
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert len(calls) >= 1
    call = calls[min(calls)]
    assert call["id"]
    assert call["name"]
    assert isinstance(json.loads(call["arguments"]), dict)


def test_tool_call_non_stream(client):
    r = client.chat.completions.create(model="tools", messages=[{"role": "user", "content": "weather?"}])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls
    assert isinstance(json.loads(choice.message.tool_calls[0].function.arguments), dict)


def test_models_list(client):
    ids = {m.id for m in client.models.list()}
    assert {"fast", "cut", "ratelimited", "fallback-ok", "tools", "echo", "long"} <= ids


def test_first_token_timeout_is_upstream_timeout(timeouts_gateway, sim):
    c = openai.OpenAI(base_url=timeouts_gateway.base + "/v1", api_key="unused", max_retries=0, timeout=30)
    aborted = sim.stats()["aborted"]
    with pytest.raises(openai.APIStatusError) as e:
        c.chat.completions.create(model="slowfirst", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 504
    assert e.value.code == "upstream_timeout"
    # The gateway gave up on the upstream rather than leaving it running.
    sim.wait_stat("aborted", aborted + 1)
    # The same gateway still serves a fast alias.
    assert c.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}]) \
        .choices[0].message.content == TEXT5


def test_estimated_usage_when_upstream_sends_none(client):
    chunks = list(client.chat.completions.create(model="nousage", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT5
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_idle_timeout_mid_stream_raises(timeouts_gateway):
    c = openai.OpenAI(base_url=timeouts_gateway.base + "/v1", api_key="unused", max_retries=0, timeout=30)
    stream = c.chat.completions.create(model="stall", messages=[{"role": "user", "content": "hi"}], stream=True)
    text = []
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            if chunk.choices:
                text.append(chunk.choices[0].delta.content or "")
    assert "".join(text) == "w0 "
    assert "idle_timeout_ms" in str(e.value)


TRICKY = 'héllo "wörld" \\ back\\slash\nnew line \t tab 🌍 <script>&amp;</script> \u2028'


def test_unicode_and_escapes_round_trip(client):
    r = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": TRICKY}])
    assert r.choices[0].message.content == TRICKY
    for model in ("echo", "echo-pieces"):
        chunks = list(client.chat.completions.create(model=model, stream=True,
                                                     messages=[{"role": "user", "content": TRICKY}]))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TRICKY


def test_concurrent_streams(client):
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        chunks = client.chat.completions.create(model="fast", stream=True,
                                                messages=[{"role": "user", "content": f"hi {i}"}])
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with ThreadPoolExecutor(max_workers=30) as pool:
        texts = list(pool.map(one, range(60)))
    assert texts == [TEXT5] * 60
