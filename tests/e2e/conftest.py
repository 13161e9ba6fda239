"""End-to-end fixtures: the real `clawgate-sim` and `clawgate serve` binaries.

The binaries are the debug build (`swift build --show-bin-path`), or those in
$CLAWGATE_BIN_DIR when set. Each process is started once per session, its
listening port read from the line it prints when ready, and stopped at teardown.
No fixed sleeps anywhere: every wait polls a condition against a deadline.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB_DIR = REPO / "web"
SIM_KEY = "sim-test-key-0123456789"
START_TIMEOUT_S = 30.0

# Prices of the `fast` alias, checked against `done.cost_usd`.
FAST_INPUT_PER_MTOK = 1.0
FAST_OUTPUT_PER_MTOK = 2.0
# Frame and body limits of the main gateway (small, so "too large" is cheap to send).
MAX_FRAME_BYTES = 65536
MAX_BODY_BYTES = 65536
# Timeouts of the timeouts gateway: `slowfirst` waits 3 s for its first byte,
# `stall` waits 1 s between chunks.
FIRST_TOKEN_TIMEOUT_MS = 400
IDLE_TIMEOUT_MS = 400


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


_bin_dir: Path | None = None


def bin_dir() -> Path:
    global _bin_dir
    if _bin_dir is None:
        env = os.environ.get("CLAWGATE_BIN_DIR")
        if env:
            _bin_dir = Path(env)
        else:
            out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, check=True,
                                 capture_output=True, text=True, timeout=120)
            _bin_dir = Path(out.stdout.strip())
    return _bin_dir


def binary(name: str) -> str:
    path = bin_dir() / name
    if not path.is_file():
        pytest.fail(f"{path} not found: run `swift build` first")
    return str(path)


class Proc:
    """A child process whose stdout lines are read on a thread (so it never blocks on
    a full pipe) and whose stderr goes to a file shown when something goes wrong."""

    def __init__(self, argv, env=None, log_dir: Path | None = None, name="proc"):
        self.argv = argv
        self.name = name
        log_dir = log_dir or Path("/tmp")
        self.stderr_path = log_dir / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout_seen: list[str] = []
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=self._stderr, env=env, text=True, bufsize=1)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def stderr(self) -> str:
        self._stderr.flush()
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def wait_line(self, pattern: str, timeout=START_TIMEOUT_S) -> re.Match:
        """Returns the match of the first stdout line matching `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                pytest.fail(f"{self.name}: no line matching {pattern!r} within {timeout}s\n"
                            f"argv: {self.argv}\nstdout: {self.stdout_seen}\nstderr:\n{self.stderr()}")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                code = self.p.wait()
                pytest.fail(f"{self.name} exited with {code} before it was ready\n"
                            f"argv: {self.argv}\nstdout: {self.stdout_seen}\nstderr:\n{self.stderr()}")
            self.stdout_seen.append(line)
            m = rx.search(line)
            if m:
                return m

    def stop(self, timeout=10.0):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._stderr.close()


class Sim:
    def __init__(self, proc: Proc, port: int):
        self.proc = proc
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def stats(self) -> dict:
        with urllib.request.urlopen(self.base + "/sim/stats", timeout=5) as r:
            return json.loads(r.read())

    def wait_stat(self, key: str, at_least: int, timeout=10.0) -> dict:
        def check():
            s = self.stats()
            return s if s[key] >= at_least else None
        return wait_for(check, timeout, what=f"sim stat {key} >= {at_least}")


class Gateway:
    def __init__(self, proc: Proc, host: str, port: int, config_path: Path):
        self.proc = proc
        self.host = host
        self.port = port
        self.config_path = config_path
        self.base = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}/v1/ws"


def sim_deployment(model: str, **extra) -> dict:
    return {"deployments": [dict({"provider": "sim", "model": model}, **extra)]}


def write_config(path: Path, sim_port: int, models: dict, limits: dict) -> Path:
    config = {
        "listen": "127.0.0.1:0",
        "providers": {
            "sim": {"kind": "openai_compatible", "base_url": f"http://127.0.0.1:{sim_port}/v1",
                    "api_key": "env:SIM_KEY"},
        },
        "models": models,
        "limits": limits,
    }
    # JSON is valid YAML; it keeps the tests free of a YAML library.
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def gateway_env() -> dict:
    env = dict(os.environ)
    env["SIM_KEY"] = SIM_KEY
    return env


def start_gateway(config: Path, log_dir: Path, name: str, listen="127.0.0.1:0") -> Gateway:
    proc = Proc([binary("clawgate"), "serve", "--config", str(config), "--listen", listen,
                 "--web", str(WEB_DIR)], env=gateway_env(), log_dir=log_dir, name=name)
    m = proc.wait_line(r"clawgate ready on http://([^\s:]+|\[[^\]]+\]):(\d+)")
    return Gateway(proc, m.group(1), int(m.group(2)), config)


MAIN_MODELS = {
    "fast": sim_deployment("sim-t5", input_per_mtok=FAST_INPUT_PER_MTOK, output_per_mtok=FAST_OUTPUT_PER_MTOK),
    "default": sim_deployment("sim"),
    "cut": sim_deployment("sim-cut3"),
    "midstream-error": sim_deployment("sim-err2"),
    "ratelimited": sim_deployment("sim-e429"),
    "broken": sim_deployment("sim-e500"),
    "fallback-ok": dict(sim_deployment("sim-e500"), fallbacks=["fast"]),
    "tools": sim_deployment("sim-tools"),
    "echo": sim_deployment("sim-echo"),
    "echo-pieces": sim_deployment("sim-echo-t7"),
    "slow": sim_deployment("sim-t20-d20"),
    "long": sim_deployment("sim-t2000-d5"),
    "nousage": sim_deployment("sim-t5-nousage"),
    "huge": sim_deployment("sim-t300000"),
}


@pytest.fixture(scope="session")
def logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def sim(logs):
    proc = Proc([binary("clawgate-sim"), "--listen", "127.0.0.1:0"], log_dir=logs, name="clawgate-sim")
    m = proc.wait_line(r"clawgate-sim listening on [^\s:]+:(\d+)")
    yield Sim(proc, int(m.group(1)))
    proc.stop()


@pytest.fixture(scope="session")
def gateway(sim, tmp_path_factory, logs):
    """The main gateway: every behaviour alias, small frame and body limits."""
    cfg = write_config(tmp_path_factory.mktemp("gw") / "clawgate.yaml", sim.port, MAIN_MODELS,
                       {"max_frame_bytes": MAX_FRAME_BYTES, "max_body_bytes": MAX_BODY_BYTES})
    gw = start_gateway(cfg, logs, "clawgate-main")
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="session")
def timeouts_gateway(sim, tmp_path_factory, logs):
    """A second gateway whose first-token and idle timeouts trip on `sim-f3000` and `sim-t5-d1000`."""
    models = {"slowfirst": sim_deployment("sim-f3000"), "stall": sim_deployment("sim-t5-d1000"),
              "fast": MAIN_MODELS["fast"]}
    cfg = write_config(tmp_path_factory.mktemp("gw-timeouts") / "clawgate.yaml", sim.port, models,
                       {"first_token_timeout_ms": FIRST_TOKEN_TIMEOUT_MS, "idle_timeout_ms": IDLE_TIMEOUT_MS})
    gw = start_gateway(cfg, logs, "clawgate-timeouts")
    yield gw
    gw.proc.stop()
