"""The `clawgate` command line: `check` and `serve`'s refusals."""

import json
import re
import signal
import socket
import subprocess

import pytest

from conftest import MAIN_MODELS, REPO, binary, gateway_env, start_gateway, write_config

LITERAL_SECRET = "sk-literal-secret-do-not-echo-1234567890"


def clawgate(*args, timeout=20):
    try:
        return subprocess.run([binary("clawgate"), *args], capture_output=True, text=True, env=gateway_env(),
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"clawgate {' '.join(args)} did not exit within {timeout}s: {e.stdout!r} {e.stderr!r}")


def assert_ok(stdout):
    # `ok`, optionally followed by a one-line summary: `ok: 1 provider(s), ...`.
    first = stdout.strip().splitlines()[0]
    assert first == "ok" or first.startswith("ok:"), stdout


def test_check_good_config(tmp_path):
    cfg = write_config(tmp_path / "good.yaml", 9, MAIN_MODELS, {"max_frame_bytes": 65536})
    r = clawgate("check", "--config", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    assert_ok(r.stdout)


def test_check_yaml_config_with_comments(tmp_path):
    cfg = tmp_path / "hand.yaml"
    cfg.write_text(
        "# a hand-written config\n"
        "listen: 127.0.0.1:8787\n"
        "providers:\n"
        "  sim: { kind: openai_compatible, base_url: http://127.0.0.1:9/v1, api_key: env:SIM_KEY }\n"
        "models:\n"
        "  fast:\n"
        "    strategy: fallback\n"
        "    deployments:\n"
        "      - { provider: sim, model: sim-t5, input_per_mtok: 1.0, output_per_mtok: 2.0 }\n"
        "limits:\n"
        "  first_token_timeout_ms: 1000\n")
    r = clawgate("check", "--config", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    assert_ok(r.stdout)


def test_check_reports_every_problem_with_its_path(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "listen: 127.0.0.1:8787\n"
        "providers:\n"
        f"  sim: {{ kind: openai_compatible, base_url: http://127.0.0.1:9/v1, api_key: {LITERAL_SECRET} }}\n"
        "models:\n"
        "  fast:\n"
        "    deployments:\n"
        "      - { provider: nosuchprovider, model: sim-t5 }\n"
        "limits:\n"
        "  max_frame_byte: 65536\n")
    r = clawgate("check", "--config", str(cfg))
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "ok" != r.stdout.strip()
    assert "providers.sim.api_key" in out
    assert "models.fast.deployments[0].provider" in out
    assert "limits.max_frame_byte" in out
    # One line per problem, each `path: problem (expected ...)`.
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) >= 3
    assert all("expected" in line for line in lines if "providers.sim.api_key" in line
               or "deployments[0].provider" in line or "max_frame_byte" in line)
    # A secret pasted by mistake is never echoed back.
    assert LITERAL_SECRET not in out


@pytest.mark.parametrize("key", ["auth", "tls", "redaction", "cache", "sessions"])
def test_check_refuses_contract_keys_not_built_yet(tmp_path, key):
    cfg = write_config(tmp_path / "planned.yaml", 9, MAIN_MODELS, {})
    config = json.loads(cfg.read_text())
    config[key] = {"enabled": True}
    cfg.write_text(json.dumps(config))
    r = clawgate("check", "--config", str(cfg))
    assert r.returncode != 0
    assert key in r.stdout + r.stderr


def test_check_unset_env_secret(tmp_path):
    cfg = tmp_path / "env.yaml"
    cfg.write_text("providers:\n"
                   "  sim: { kind: openai_compatible, base_url: http://127.0.0.1:9/v1,"
                   " api_key: env:CLAWGATE_TEST_SURELY_UNSET }\n")
    r = clawgate("check", "--config", str(cfg))
    assert r.returncode != 0
    assert "CLAWGATE_TEST_SURELY_UNSET" in r.stdout + r.stderr


def test_serve_refuses_bad_config(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("limits:\n  max_frame_bytes: lots\n")
    r = clawgate("serve", "--config", str(cfg), "--listen", "127.0.0.1:0")
    assert r.returncode != 0
    assert "limits.max_frame_bytes" in r.stdout + r.stderr
    assert "clawgate ready" not in r.stdout


def test_serve_on_a_taken_port_reports_lws_errors(tmp_path):
    # lws's own error lines pass the log filter in front of it (LwsLogFilter): the reason the
    # port could not be used is still printed, next to the gateway's message.
    cfg = write_config(tmp_path / "taken.yaml", 9, MAIN_MODELS, {})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = clawgate("serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}")
    assert r.returncode != 0
    assert "clawgate ready" not in r.stdout
    assert f"could not listen on 127.0.0.1:{port}" in r.stderr
    assert re.search(rf"E: ERROR on binding fd \d+ to port {port}", r.stderr), r.stderr


def test_serve_non_loopback_without_credentials_refuses(tmp_path):
    cfg = write_config(tmp_path / "open.yaml", 9, MAIN_MODELS, {})
    r = clawgate("serve", "--config", str(cfg), "--listen", "0.0.0.0:0")
    out = (r.stdout + r.stderr).lower()
    assert r.returncode != 0
    assert "clawgate ready" not in out
    assert "credential" in out or "--insecure" in out


def test_readme_config_example_is_valid(tmp_path):
    readme = (REPO / "README.md").read_text()
    m = re.search(r"```yaml\n(.*?)```", readme, re.S)
    assert m, "README.md has no yaml example"
    cfg = tmp_path / "readme.yaml"
    cfg.write_text(m.group(1))
    env = dict(gateway_env(), OPENAI_API_KEY="sk-test-not-a-real-key")
    r = subprocess.run([binary("clawgate"), "check", "--config", str(cfg)], capture_output=True, text=True,
                       env=env, stdin=subprocess.DEVNULL, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_ok(r.stdout)


def test_serve_stops_on_sigterm(tmp_path, logs, sim):
    cfg = write_config(tmp_path / "stop.yaml", sim.port, MAIN_MODELS, {})
    gw = start_gateway(cfg, logs, "clawgate-sigterm")
    gw.proc.p.send_signal(signal.SIGTERM)
    try:
        code = gw.proc.p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        gw.proc.stop()
        pytest.fail("clawgate serve did not stop within 10 s of SIGTERM")
    assert code == 0, gw.proc.stderr()
    gw.proc.stop()
