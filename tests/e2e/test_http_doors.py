"""The plain HTTP doors with the standard library's http.client."""

import http.client
import json

from conftest import MAX_BODY_BYTES, WEB_DIR, start_gateway

TEXT5 = "w0 w1 w2 w3 w4"


def request(gw, method, path, body=None, headers=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection(gw.host, gw.port, timeout=15)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    if own:
        conn.close()
    return r, data


def assert_openai_error(r, data, status, code, type_):
    assert r.status == status, (r.status, data)
    assert r.getheader("Content-Type", "").startswith("application/json")
    assert r.getheader("x-request-id")
    body = json.loads(data)
    err = body["error"]
    assert err["code"] == code, err
    assert err["type"] == type_, err
    assert isinstance(err["message"], str) and err["message"]
    assert "param" in err


def test_healthz(gateway):
    r, data = request(gateway, "GET", "/healthz")
    assert r.status == 200
    assert json.loads(data) == {"status": "ok"}
    assert r.getheader("x-request-id")


def test_readyz_with_providers(gateway):
    r, data = request(gateway, "GET", "/readyz")
    assert r.status == 200
    assert json.loads(data)["status"] == "ok"


def test_readyz_without_providers_is_503(tmp_path, logs):
    cfg = tmp_path / "empty.yaml"
    cfg.write_text("listen: 127.0.0.1:0\n")
    gw = start_gateway(cfg, logs, "clawgate-noproviders")
    try:
        r, data = request(gw, "GET", "/readyz")
        assert r.status == 503
        assert "provider" in data.decode().lower()
        r, data = request(gw, "GET", "/healthz")
        assert r.status == 200
    finally:
        gw.proc.stop()


def test_models_list_format(gateway):
    r, data = request(gateway, "GET", "/v1/models")
    assert r.status == 200
    assert r.getheader("Content-Type", "").startswith("application/json")
    body = json.loads(data)
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert {"fast", "cut", "ratelimited", "fallback-ok", "tools", "echo", "long"} <= set(ids)
    assert len(ids) == len(set(ids))
    for m in body["data"]:
        assert m["object"] == "model"
        assert isinstance(m["created"], int)
        assert isinstance(m["owned_by"], str)


def test_unknown_v1_path_is_404(gateway):
    r, data = request(gateway, "GET", "/v1/does-not-exist")
    assert_openai_error(r, data, 404, "not_found", "not_found_error")


def test_wrong_method_is_404(gateway):
    r, data = request(gateway, "GET", "/v1/chat/completions")
    assert_openai_error(r, data, 404, "not_found", "not_found_error")


def test_body_over_limit_is_413(gateway):
    big = {"model": "fast", "messages": [{"role": "user", "content": "x" * (MAX_BODY_BYTES + 1024)}]}
    r, data = request(gateway, "POST", "/v1/chat/completions", big)
    assert_openai_error(r, data, 413, "too_large", "invalid_request_error")


def test_non_json_body_is_400(gateway):
    r, data = request(gateway, "POST", "/v1/chat/completions", b"this is {not json",
                      {"Content-Type": "application/json"})
    assert_openai_error(r, data, 400, "bad_request", "invalid_request_error")


def test_missing_messages_is_400(gateway):
    r, data = request(gateway, "POST", "/v1/chat/completions", {"model": "fast"})
    assert_openai_error(r, data, 400, "bad_request", "invalid_request_error")


def test_unknown_model_is_404(gateway):
    r, data = request(gateway, "POST", "/v1/chat/completions",
                      {"model": "nope", "messages": [{"role": "user", "content": "hi"}]})
    assert_openai_error(r, data, 404, "not_found", "not_found_error")


def parse_sse(data: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    events = []
    for block in data.decode().split("\n\n"):
        payload = [line[len("data:"):].lstrip() for line in block.splitlines() if line.startswith("data:")]
        if payload:
            events.append("\n".join(payload))
    return events


def test_stream_is_chunked_sse_and_connection_is_reused(gateway):
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=15)
    try:
        r, data = request(gateway, "POST", "/v1/chat/completions",
                          {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                          conn=conn)
        assert r.status == 200
        assert r.getheader("Transfer-Encoding", "").lower() == "chunked"
        assert r.getheader("Content-Type", "").startswith("text/event-stream")
        assert r.getheader("x-request-id")
        events = parse_sse(data)
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == TEXT5
        sock = conn.sock
        assert sock is not None, "the gateway closed the connection after a streamed response"
        # A second request on the same connection.
        r2, data2 = request(gateway, "POST", "/v1/chat/completions",
                            {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}, conn=conn)
        assert r2.status == 200
        assert json.loads(data2)["choices"][0]["message"]["content"] == TEXT5
        assert conn.sock is sock
        r3, _ = request(gateway, "GET", "/healthz", conn=conn)
        assert r3.status == 200
        assert conn.sock is sock
    finally:
        conn.close()


def test_x_request_ids_differ(gateway):
    ids = {request(gateway, "GET", "/healthz")[0].getheader("x-request-id") for _ in range(3)}
    assert len(ids) == 3


def test_root_serves_web_index(gateway):
    r, data = request(gateway, "GET", "/")
    assert r.status == 200
    assert r.getheader("Content-Type", "").startswith("text/html")
    assert data == (WEB_DIR / "index.html").read_bytes()
    # The page keeps the browser policy headers (API answers carry only nosniff).
    assert "frame-ancestors 'none'" in r.getheader("content-security-policy", "")
    assert r.getheader("x-frame-options", "").lower() == "deny"
    assert r.getheader("x-content-type-options") == "nosniff"


def test_static_script_and_style(gateway):
    r, data = request(gateway, "GET", "/app.js")
    assert r.status == 200
    assert "javascript" in r.getheader("Content-Type", "")
    assert data == (WEB_DIR / "app.js").read_bytes()
    r, data = request(gateway, "GET", "/style.css")
    assert r.status == 200
    assert r.getheader("Content-Type", "").startswith("text/css")


def test_static_path_traversal_is_refused(gateway):
    for path in ("/../Makefile", "/..%2fMakefile", "/%2e%2e/%2e%2e/etc/passwd", "/../../../../etc/passwd"):
        r, data = request(gateway, "GET", path)
        assert r.status in (400, 403, 404), (path, r.status)
        assert b"root:" not in data and b".PHONY" not in data


def test_rest_client_disconnect_aborts_upstream(gateway, sim):
    aborted = sim.stats()["aborted"]
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=15)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(
        {"model": "long", "stream": True, "messages": [{"role": "user", "content": "hi"}]}),
        headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    assert b"data:" in r.read1(256)
    conn.sock.shutdown(2)
    conn.close()
    sim.wait_stat("aborted", aborted + 1)


def test_stream_without_usage_option_has_no_usage(gateway):
    r, data = request(gateway, "POST", "/v1/chat/completions",
                      {"model": "nousage", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    events = parse_sse(data)
    assert events[-1] == "[DONE]"
    assert all(json.loads(e).get("usage") is None for e in events[:-1])


def test_cross_site_post_from_a_foreign_origin_is_403(gateway):
    # A web page may send a "simple" text/plain POST cross-site with no CORS preflight;
    # the browser marks it with Origin, and the gateway refuses it.
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    conn.request("POST", "/v1/chat/completions",
                 body='{"model":"fast","messages":[{"role":"user","content":"x"}]}',
                 headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 403
    assert body["error"]["code"] == "forbidden"
    # The gateway's own page may post.
    conn.request("POST", "/v1/chat/completions",
                 body='{"model":"fast","messages":[{"role":"user","content":"x"}]}',
                 headers={"Content-Type": "application/json", "Origin": gateway.base})
    r = conn.getresponse()
    r.read()
    assert r.status == 200


def test_h2c_upgrade_serves_get_and_refuses_bodies_clearly(gateway):
    import subprocess
    get = subprocess.run(["curl", "-s", "--http2", "-i", gateway.base + "/v1/models"],
                         capture_output=True, text=True, timeout=20)
    assert "HTTP/2 200" in get.stdout
    assert '"object":"list"' in get.stdout
    post = subprocess.run(["curl", "-s", "--http2", "-i", gateway.base + "/v1/chat/completions",
                           "-H", "Content-Type: application/json",
                           "-d", '{"model":"fast","messages":[{"role":"user","content":"x"}]}'],
                          capture_output=True, text=True, timeout=20)
    assert post.stdout.startswith("HTTP/1.1 400")
    assert "h2c" in post.stdout and '"code":"bad_request"' in post.stdout
