#!/usr/bin/env python3
"""Drive clawgate-bench: start the simulator and the gateway, run every scenario of issue 3
direct (client -> simulator) and via the gateway (client -> gateway -> simulator), interleaved
and repeated, and write JSON plus a markdown table to bench-results/.

Only the standard library; every process listens on 127.0.0.1 and every run is bounded in time.
"""
import argparse, datetime, json, os, platform, re, shutil, signal, socket, statistics
import subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """(cpu seconds used, rss bytes, open fds) of a process from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / tick
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return cpu, rss, fds


def tree_rss(pid):
    """RSS of a process and all its descendants, in bytes (a Python server may fork workers)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except OSError:
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += proc_stat(p)[1]
        except OSError:
            pass
        todo += children.get(p, [])
    return total


# Where each process runs, per scenario (the client always on CPU 0). Chosen so that direct
# and via pay the same cross-core wake-ups, which on these VMs cost 0.1-2 ms at the tail
# (measured: client and simulator on different cores, p99 1.0-2.0 ms; same core, 0.3 ms):
#  - split: the gateway has a core to itself, so throughput rows measure its CPU cost;
#  - one-core: at concurrency 1 only one process runs at a time; no cross-core hop on either side;
#  - servers: the client alone, simulator and gateway together: one client<->server hop each way
#    on both sides, for open-loop load that needs more than one core.
LAYOUTS = {
    "split": dict(sim="0", gateway="1", text="client and simulator on CPU 0, gateway on CPU 1"),
    "one-core": dict(sim="0", gateway="0", text="client, simulator and gateway all on CPU 0"),
    "servers": dict(sim="1", gateway="1", text="client on CPU 0, simulator and gateway on CPU 1"),
}


def pin(cpus):
    return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


class Server:
    """A child process that prints its port on one line of stdout when ready."""

    def __init__(self, argv, pattern, name):
        self.name = name
        t0 = time.perf_counter()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.time() + 20
        self.port = None
        while time.time() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            m = re.search(pattern, line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.stop()
            raise RuntimeError(f"{name} did not report its port: {argv}")
        self.ready_s = time.perf_counter() - t0

    @property
    def pid(self):
        return self.p.pid

    def stat(self):
        return proc_stat(self.p.pid)

    def stop(self):
        stop_process(self.p)


def stop_process(p):
    """SIGTERM, then SIGKILL after 5 s."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def http_get_status(port, path, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            data = s.recv(64)
            return int(data.split()[1]) if data.startswith(b"HTTP/") else None
    except OSError:
        return None


def write_config(path, sim_port):
    with open(path, "w") as f:
        f.write(f"""providers:
  sim: {{kind: openai_compatible, base_url: "http://127.0.0.1:{sim_port}/v1"}}
models:
  one: {{deployments: [{{provider: sim, model: sim-t1}}]}}
  fast: {{deployments: [{{provider: sim, model: sim-t100-d20}}]}}
  flat: {{deployments: [{{provider: sim, model: sim-t50000}}]}}
  flat100: {{deployments: [{{provider: sim, model: sim-t2000}}]}}
  flat-q: {{deployments: [{{provider: sim, model: sim-t5000}}]}}
limits: {{max_connections: 20000, max_inflight: 20000}}
""")


# ---------------------------------------------------------------- one run

def run_bench(args, sub, url, model, extra, timeout, pid_to_watch=None):
    argv = pin(args.client_cpus) + [args.bench_bin, sub, "--url", url, "--model", model, "--quiet"] + extra
    before = proc_stat(pid_to_watch) if pid_to_watch else None
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"clawgate-bench failed ({p.returncode}): {' '.join(argv)}\n{p.stderr[-2000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if before:
        after = proc_stat(pid_to_watch)
        r["gateway_cpu_s"] = round(after[0] - before[0], 3)
        r["gateway_rss_mb"] = round(after[1] / 2**20, 1)
        r["gateway_fds"] = after[2]
    r["argv"] = " ".join(argv)
    r["process_wall_s"] = round(wall, 3)
    return r


# ---------------------------------------------------------------- scenarios

def scenarios(q):
    """Each scenario: a direct run (client -> simulator) and a via run (client -> gateway ->
    simulator), each (client kind, model, clawgate-bench flags). --quick shrinks every run to
    about a second so CI can smoke the whole harness."""
    d, w = ("1", "0.5") if q else ("10", "1")
    # Streams of 100 tokens at 20 ms (2 s): the first wave (connection set-up included) is warm-up.
    n = "100" if q else "500"
    waves = ["-c", n, "--warmup-requests", n, "-r", n if q else "1500", "--check-text"]
    # Four requests back to back per round, not one: a single long request made the figure
    # depend on one request's first-connection effects.
    flat_sim, flat_alias = ("sim-t5000", "flat-q") if q else ("sim-t50000", "flat")

    def same(kind, sim_model, alias, flags):
        """The same load direct (the simulator's model) and via (the gateway's alias for it)."""
        return dict(direct=(kind, sim_model, flags), via=(kind, alias, flags))

    def chat(*flags):
        return same("rest", "sim-t1", "one", list(flags) + ["-d", d, "--warmup", w])

    return [
        # At concurrency 1 only one process runs at a time, so one core holds all three and
        # neither side pays a cross-core wake-up: the added figure is the gateway's own cost.
        dict(name="rest-c1", title="non-streamed chat, concurrency 1 (all on one core)", layout="one-core",
             **chat("-c", "1")),
        # The same with the gateway alone on the other core: via pays four cross-core wake-ups
        # per request that direct does not, shown so nothing is hidden.
        dict(name="rest-c1-split", title="non-streamed chat, concurrency 1 (gateway on its own core)", **chat("-c", "1")),
        dict(name="rest-c1-servers", title="non-streamed chat, concurrency 1 (client alone, simulator and gateway share a core)",
             layout="servers", **chat("-c", "1")),
        dict(name="rest-c50", title="non-streamed chat, concurrency 50", **chat("-c", "50")),
        dict(name="rate-2000", title="fixed offered rate 2,000 req/s (client alone, simulator and gateway share a core)",
             layout="servers", **chat("--rate", "2000")),
        dict(name="rate-2000-split", title="fixed offered rate 2,000 req/s (gateway on its own core)",
             **chat("--rate", "2000")),
        # The simulator speaks the hub's frames too (SimulatorHub.swift): WS rows compare like
        # with like.
        dict(name="ws-500", title=f"{n} concurrent streams, 100 tokens at 20 ms (WS hub both ways)",
             **same("ws", "sim-t100-d20", "fast", waves)),
        # The same 500 streams in steady state: first chats spread over one chat's length, so
        # starts never bunch up (the row above starts all 500 in the same millisecond).
        dict(name="ws-500-steady", title=f"{n} concurrent streams, 100 tokens at 20 ms, starts spread (WS hub both ways)",
             **same("ws", "sim-t100-d20", "fast", waves + ["--stagger", "2"])),
        dict(name="sse-500", title=f"{n} concurrent SSE streams, 100 tokens at 20 ms (SSE both ways)",
             **same("rest-sse", "sim-t100-d20", "fast", waves)),
        dict(name="relay-1", title=f"flat-out relay, 1 stream, 4 x {flat_sim[5:]} chunks (SSE both ways)",
             **same("rest-sse", flat_sim, flat_alias, ["-c", "1", "-r", "4"])),
        dict(name="relay-1-ws", title=f"flat-out relay, 1 stream, 4 x {flat_sim[5:]} chunks (WS hub both ways)",
             **same("ws", flat_sim, flat_alias, ["-c", "1", "-r", "4"])),
        dict(name="relay-100", title="flat-out relay, 100 streams x 2,000 chunks (SSE both ways)",
             **same("rest-sse", "sim-t2000", "flat100", ["-c", "100", "-r", "100"])),
        dict(name="relay-100-ws", title="flat-out relay, 100 streams x 2,000 chunks (WS hub both ways)",
             **same("ws", "sim-t2000", "flat100", ["-c", "100", "-r", "100"])),
    ]


def bench_argv(kind, port, model, extra):
    if kind == "rest":
        return "rest", f"http://127.0.0.1:{port}/v1/chat/completions", model, extra
    if kind == "rest-sse":
        return "rest", f"http://127.0.0.1:{port}/v1/chat/completions", model, ["--stream"] + extra
    return "ws", f"ws://127.0.0.1:{port}/v1/ws", model, extra


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def g(r, *path):
    for k in path:
        if r is None:
            return None
        r = r.get(k)
    return r


def summarise(name, title, direct, via):
    """Median over rounds of the direct and via figures, and of their per-round differences."""
    def m(runs, *path):
        return median([g(r, *path) for r in runs])

    def added_per_round(*path):
        return [round(g(v, *path) - g(d, *path), 3) for d, v in zip(direct, via)
                if g(v, *path) is not None and g(d, *path) is not None]

    def added(*path):
        return median(added_per_round(*path))

    s = dict(name=name, title=title, rounds=len(via))
    for side, runs in (("direct", direct), ("via", via)):
        s[side] = dict(
            throughput_rps=m(runs, "throughput_rps"), chunks_per_s=m(runs, "chunks_per_s"),
            latency_p50=m(runs, "latency_ms", "p50"), latency_p99=m(runs, "latency_ms", "p99"),
            ttft_p50=m(runs, "ttft_ms", "p50"), ttft_p99=m(runs, "ttft_ms", "p99"),
            errors=sum(r["errors"] for r in runs), completed=sum(r["completed"] for r in runs),
            client_cpu_pct=m(runs, "client_cpu_pct"),
            distinct_texts=sorted({r["distinct_texts"] for r in runs}),
            text_bytes_per_reply=median([r["text_bytes"] / r["completed"] for r in runs if r["completed"]]),
        )
    s["via"]["gateway_cpu_s"] = m(via, "gateway_cpu_s")
    s["via"]["gateway_rss_mb"] = max((r.get("gateway_rss_mb", 0) for r in via), default=None)
    s["via"]["reported_overhead_p50"] = m(via, "reported_overhead_ms", "p50")
    s["via"]["reported_overhead_p99"] = m(via, "reported_overhead_ms", "p99")
    s["via"]["gateway_cpu_us_per_request"] = median([r["gateway_cpu_s"] * 1e6 / (r["completed"] + r.get("warmup_ended", 0))
                                                     for r in via if r.get("gateway_cpu_s") and r.get("completed")])
    # Per relayed token, warm-up streams included (the gateway's CPU covers them too): the
    # streaming rows' efficiency figure, which the client's own noise does not move.
    s["via"]["gateway_cpu_us_per_token"] = median([
        r["gateway_cpu_s"] * 1e6 / ((r["completed"] + r.get("warmup_ended", 0)) * r["chunks"] / r["completed"])
        for r in via if r.get("gateway_cpu_s") and r.get("completed") and r.get("chunks")])
    chunks = [r["chunks"] / r["gateway_cpu_s"] for r in via if r.get("gateway_cpu_s")]
    s["via"]["chunks_per_gateway_cpu_s"] = median(chunks)
    td, tv = s["direct"]["throughput_rps"], s["via"]["throughput_rps"]
    s["throughput_ratio"] = tv / td if td else None
    cd, cv = s["direct"]["chunks_per_s"], s["via"]["chunks_per_s"]
    s["chunks_ratio"] = cv / cd if cd else None
    s["added_latency_p50"] = added("latency_ms", "p50")
    s["added_latency_p99"] = added("latency_ms", "p99")
    s["added_ttft_p50"] = added("ttft_ms", "p50")
    s["added_ttft_p99"] = added("ttft_ms", "p99")
    # A tail percentile of one round can move by milliseconds on a shared machine: the table
    # shows each round's figure beside the median so a reader sees the spread.
    s["added_latency_p99_rounds"] = added_per_round("latency_ms", "p99")
    s["added_ttft_p99_rounds"] = added_per_round("ttft_ms", "p99")
    return s


# ---------------------------------------------------------------- special scenarios

def idle_sessions(args, gw, n):
    """Open n idle hub sessions and read the gateway's RSS while they are held."""
    base_cpu, base_rss, base_fds = gw.stat()
    argv = pin(args.client_cpus) + [args.bench_bin, "idle-ws", "--url", f"ws://127.0.0.1:{gw.port}/v1/ws",
                                    "--sessions", str(n), "--hold", "1" if args.quick else "3", "--quiet"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    held = None
    deadline = time.time() + 120
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        if line.startswith("holding"):
            time.sleep(1.0)
            held = gw.stat()
            cpu1 = held[0]
            time.sleep(1.0)
            idle_cpu = gw.stat()[0] - cpu1
            break
    out, err = p.communicate(timeout=60)
    r = json.loads(out.strip().splitlines()[-1])
    res = dict(name=f"idle-{n}", sessions_requested=n, sessions_open=r["sessions_open"], errors=r["errors"],
               error_kinds=r["error_kinds"], connect_s=r["connect_s"],
               gateway_rss_before_mb=round(base_rss / 2**20, 1))
    if held:
        res.update(gateway_rss_mb=round(held[1] / 2**20, 1), gateway_fds=held[2],
                   gateway_idle_cpu_s_per_s=round(idle_cpu, 3),
                   per_session_kb=round((held[1] - base_rss) / 1024 / max(1, r["sessions_open"]), 2))
    return res


def cold_start(args, config, tries):
    """Exec to first /readyz 200, polled every ~0.5 ms from here."""
    times = []
    for _ in range(tries):
        argv = pin(args.gateway_cpus) + [args.gateway_bin, "serve", "--config", config, "--listen", "127.0.0.1:0"]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = p.stdout.readline()
        m = re.search(r"ready on http://127\.0\.0\.1:(\d+)", line) or re.search(r"listen=127\.0\.0\.1:(\d+)", line)
        while not m and line:
            line = p.stdout.readline()
            m = re.search(r"ready on http://127\.0\.0\.1:(\d+)", line)
        port = int(m.group(1)) if m else None
        t_line = time.perf_counter() - t0
        ok = None
        while port and time.perf_counter() - t0 < 5:
            if http_get_status(port, "/readyz") == 200:
                ok = time.perf_counter() - t0
                break
            time.sleep(0.0005)
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
        times.append(dict(ready_line_ms=round(t_line * 1000, 2), readyz_ms=round(ok * 1000, 2) if ok else None))
    return dict(name="cold-start", tries=times,
                readyz_ms_median=round(median([t["readyz_ms"] for t in times]) or 0, 2),
                readyz_ms_max=max((t["readyz_ms"] or 1e9) for t in times))


# ---------------------------------------------------------------- peer

def start_litellm(args, sim_port, workdir):
    # Kept beside the results (gitignored) so a second run does not reinstall.
    venv = os.path.join(args.out, ".litellm-venv")
    if not os.path.exists(os.path.join(venv, "bin", "litellm")):
        log("installing litellm[proxy] into", venv)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "litellm[proxy]"], check=True, timeout=900)
    cfg = os.path.join(workdir, "litellm.yaml")
    with open(cfg, "w") as f:
        f.write(f"""model_list:
  - model_name: one
    litellm_params: {{model: openai/sim-t1, api_base: "http://127.0.0.1:{sim_port}/v1", api_key: sk-bench}}
""")
    port = free_port()
    argv = pin(args.gateway_cpus) + [os.path.join(venv, "bin", "litellm"), "--config", cfg, "--port", str(port),
                                     "--host", "127.0.0.1", "--num_workers", "1"]
    # No network here: use the bundled model cost map instead of fetching it. The proxy refuses
    # to start without a master key; a random one per run, sent by the client.
    args.peer_key = "sk-bench-" + os.urandom(16).hex()
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False",
               LITELLM_MASTER_KEY=args.peer_key)
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "litellm.log"), "w"), env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        if http_get_status(port, "/health/liveliness") == 200:
            return p, port
        time.sleep(0.5)
    p.kill()
    raise RuntimeError("litellm proxy did not come up")


def run_litellm(args, sim_port, work):
    """The non-streamed scenarios against LiteLLM's proxy (one worker) on the same simulator."""
    lp, lport = start_litellm(args, sim_port, work)
    out = []
    try:
        for name, extra in (("peer rest-c1", ["-c", "1", "-d", "10", "--warmup", "2"]),
                            ("peer rest-c50", ["-c", "50", "-d", "10", "--warmup", "2"])):
            r = run_bench(args, "rest", f"http://127.0.0.1:{lport}/v1/chat/completions", "one",
                          extra + ["--grace", "30", "--api-key", args.peer_key], timeout=120)
            r["name"] = name
            r["peer_rss_mb"] = round(tree_rss(lp.pid) / 2**20, 1)
            out.append(r)
            log(name, r["throughput_rps"], g(r, "latency_ms", "p50"))
    finally:
        lp.terminate()
        lp.wait(10)
    return out


# ---------------------------------------------------------------- reference proxy

class HAProxy:
    """HAProxy in HTTP mode, one thread, in front of the same simulator: a bare L7 relay that
    parses each request's head and reuses its upstream connections but reads no body. Run as a
    third side of the scenarios it can carry, it shows what *any* proxy hop costs on this
    machine and layout, so the gateway's own share of its added figure can be told apart."""

    def __init__(self, args, sim_port, cpus, workdir):
        exe = shutil.which("haproxy")
        if not exe:
            raise RuntimeError("haproxy is not installed")
        self.port = free_port()
        cfg = os.path.join(workdir, "haproxy.cfg")
        # maxconn 8000: 500 streams need ~1,000 fds, and haproxy asks for about 2 x maxconn of
        # them; this machine's hard limit is 20,000. No logging: the gateway logs nothing per
        # request either.
        with open(cfg, "w") as fh:
            fh.write(f"""global
  nbthread 1
  maxconn 8000
defaults
  mode http
  option http-keep-alive
  # Each chunk forwarded at once, as the gateway does: without it HAProxy sends with
  # MSG_MORE, and a stream's first small chunk waits ~200 ms.
  option http-no-delay
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 60s
frontend bench
  bind 127.0.0.1:{self.port}
  default_backend sim
backend sim
  server sim 127.0.0.1:{sim_port}
""")
        self.p = subprocess.Popen(pin(cpus) + [exe, "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(workdir, "haproxy.log"), "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError("haproxy exited at start; see " + os.path.join(workdir, "haproxy.log"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("haproxy did not start listening")

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        stop_process(self.p)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- report

def f(v, nd=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}"


def spread(per_round):
    return f" (rounds {', '.join(f(x) for x in per_round)})" if len(per_round) > 1 else ""


def cells(s, proxy):
    """A summary's direct and via cells, ratio and added figures, by the kind of scenario;
    `proxy` names whose CPU the via side's figure is."""
    d, v = s["direct"], s["via"]
    if s["name"].startswith("relay"):
        return (f"{f(d['chunks_per_s'], 0)} chunks/s",
                f"{f(v['chunks_per_s'], 0)} chunks/s ({f(v['chunks_per_gateway_cpu_s'], 0)} per {proxy} CPU-s)",
                f(s["chunks_ratio"], 2), "", "")
    if s["name"] in ("ws-500", "ws-500-steady", "sse-500"):
        return (f"TTFT p50 {f(d['ttft_p50'])} / p99 {f(d['ttft_p99'])} ms",
                f"TTFT p50 {f(v['ttft_p50'])} / p99 {f(v['ttft_p99'])} ms; texts {v['distinct_texts']} vs {d['distinct_texts']}; "
                f"{proxy} {f(v['gateway_cpu_us_per_token'], 1)} µs CPU/token",
                f(s["throughput_ratio"], 2), f"{f(s['added_ttft_p50'])} ms TTFT",
                f"{f(s['added_ttft_p99'])} ms TTFT{spread(s['added_ttft_p99_rounds'])}")
    return (f"{f(d['throughput_rps'], 0)} req/s, p50 {f(d['latency_p50'])} p99 {f(d['latency_p99'])} ms",
            f"{f(v['throughput_rps'], 0)} req/s, p50 {f(v['latency_p50'])} p99 {f(v['latency_p99'])} ms; "
            f"{proxy} {f(v['gateway_cpu_us_per_request'], 0)} µs CPU/request",
            f(s["throughput_ratio"], 2), f"{f(s['added_latency_p50'])} ms",
            f"{f(s['added_latency_p99'])} ms{spread(s['added_latency_p99_rounds'])}")


def markdown(meta, rows, idle, cold, peer):
    out = [f"# Clawgate benchmark — {meta['date']}", "",
           f"- machine: {meta['machine']}", f"- command: `{meta['command']}`",
           f"- pinning: {meta['pinning']}", f"- rounds: {meta['rounds']} (direct and via interleaved; figures are medians over rounds)", "",
           "| scenario | direct | via gateway | ratio | added p50 | added p99 | errors (d/v) |",
           "|---|---|---|---|---|---|---|"]
    for s in rows:
        d, v = s["direct"], s["via"]
        dv, vv, ratio, a50, a99 = cells(s, "gateway")
        out.append(f"| {s['title']} | {dv} | {vv} | {ratio} | {a50} | {a99} | {d['errors']}/{v['errors']} |")
    out.append("")
    if idle:
        out.append(f"Idle sessions: {idle['sessions_open']:,} of {idle['sessions_requested']:,} open, gateway RSS "
                   f"{idle.get('gateway_rss_before_mb')} MB before → {idle.get('gateway_rss_mb')} MB held "
                   f"({idle.get('per_session_kb')} KB/session), {idle.get('gateway_fds')} fds, idle CPU "
                   f"{idle.get('gateway_idle_cpu_s_per_s')} s/s, errors {idle['errors']} {idle['error_kinds'] or ''}")
    if cold:
        out.append(f"Cold start to /readyz 200: median {cold['readyz_ms_median']} ms, max {cold['readyz_ms_max']} ms "
                   f"over {len(cold['tries'])} starts")
    refs = [s for s in rows if s.get("haproxy")]
    if refs:
        out += ["", "Reference: HAProxy (HTTP mode, 1 thread) on the gateway's core, a third side of the same rounds — "
                "what a bare L7 relay adds on this machine and layout:", "",
                "| scenario | via HAProxy | ratio | added p50 | added p99 | Clawgate added p50 / p99 (same rounds) | errors |",
                "|---|---|---|---|---|---|---|"]
        for s in refs:
            _, vv, ratio, a50, a99 = cells(s["haproxy"], "HAProxy")
            _, _, _, ours50, ours99 = cells(s, "gateway")
            ours = f"{ours50} / {ours99}" if ours50 else ""
            out.append(f"| {s['title']} | {vv} | {ratio} | {a50} | {a99} | {ours} | {s['haproxy']['via']['errors']} |")
    if peer:
        out += ["", "Peer (LiteLLM proxy, 1 worker) — same simulator, same client:", "",
                "| scenario | throughput | p50 | p99 | errors | RSS |", "|---|---|---|---|---|---|"]
        for r in peer:
            out.append(f"| {r['name']} | {f(r['throughput_rps'], 1)} req/s | {f(g(r, 'latency_ms', 'p50'))} ms | "
                       f"{f(g(r, 'latency_ms', 'p99'))} ms | {r['errors']} | {r.get('peer_rss_mb')} MB |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, ".build", "release"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="seconds-long smoke: 1 round, short runs, small idle count")
    ap.add_argument("--only", default="", help="comma-separated scenario names (rest-c1,...,idle,cold)")
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--peer", default="", help="comma-separated: 'litellm' (LiteLLM's proxy, its own runs) and/or "
                    "'haproxy' (HAProxy as a third side of every scenario: what a bare L7 relay adds)")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--trace-dir", default="", help="write every recorded request's start, TTFT and latency per run "
                    "(clawgate-bench --trace) to SCENARIO-SIDE-rROUND.tsv in this folder")
    args = ap.parse_args()

    args.bench_bin = os.path.join(args.bin_dir, "clawgate-bench")
    args.gateway_bin = os.path.join(args.bin_dir, "clawgate")
    args.sim_bin = os.path.join(args.bin_dir, "clawgate-sim")
    ncpu = os.cpu_count() or 1
    if args.no_pin or ncpu < 2:
        args.client_cpus = args.sim_cpus = args.gateway_cpus = None
        pinning = "none"
    else:
        args.client_cpus = args.sim_cpus = "0"
        args.gateway_cpus = "1"
        pinning = ("per scenario (taskset; see each row): throughput rows put client and simulator on CPU 0 and "
                   "the gateway alone on CPU 1")
    if args.quick:
        args.rounds = 1
        args.idle = min(args.idle, 500)
    only = set(filter(None, args.only.split(",")))
    os.makedirs(args.out, exist_ok=True)
    if args.trace_dir:
        os.makedirs(args.trace_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="clawgate-bench-")
    stamp = datetime.datetime.now(datetime.timezone.utc)
    meta = dict(date=stamp.strftime("%Y-%m-%d %H:%M UTC"),
                machine=f"{platform.node()} {platform.machine()}, {ncpu} CPUs, Linux {platform.release()}",
                command=" ".join(["python3", "bench/bench.py"] + sys.argv[1:]), pinning=pinning, rounds=args.rounds)
    log("clawgate bench:", meta)

    config = os.path.join(work, "gateway.yaml")

    def start_servers(sim_cpus, gateway_cpus):
        sim = Server(pin(sim_cpus) + [args.sim_bin, "--listen", "127.0.0.1:0"], r"listening on 127\.0\.0\.1:(\d+)", "sim")
        write_config(config, sim.port)
        gw = Server(pin(gateway_cpus) + [args.gateway_bin, "serve", "--config", config, "--listen", "127.0.0.1:0"],
                    r"ready on http://127\.0\.0\.1:(\d+)", "gateway")
        return sim, gw

    peers = set(filter(None, args.peer.split(",")))
    unknown = peers - {"litellm", "haproxy"}
    if unknown:
        ap.error(f"unknown --peer {', '.join(sorted(unknown))}: expected litellm and/or haproxy")
    if "haproxy" in peers and not shutil.which("haproxy"):
        ap.error("--peer haproxy needs haproxy: make bench PEER=haproxy installs it (apt), or apt-get install haproxy")
    sim, gw = start_servers(args.sim_cpus, args.gateway_cpus)
    rows, idle, cold, peer, ref = [], None, None, [], None
    try:
        for sc in scenarios(args.quick):
            if only and sc["name"] not in only:
                continue
            direct, via = [], []
            layout = LAYOUTS[sc.get("layout", "split")] if args.gateway_cpus is not None else None
            # Fresh servers per scenario: one scenario's leftovers must not load the next (after
            # the 500-stream rows, 500 idle pooled upstream connections made every poll() of
            # the gateway and the simulator scan 500 more fds: 7 us per relayed chunk, not 1.4).
            gw.stop()
            sim.stop()
            if ref:
                ref.stop()
            sim, gw = start_servers(layout["sim"] if layout else None, layout["gateway"] if layout else None)
            sides = [("direct", sim, "direct", None), ("via", gw, "via", gw)]
            if "haproxy" in peers:
                # The reference proxy carries the direct load (the simulator's model names) on
                # the gateway's core, as a third side of every round.
                ref = HAProxy(args, sim.port, layout["gateway"] if layout else None, work)
                sides.append(("haproxy", ref, "direct", ref))
            runs = {side[0]: [] for side in sides}
            for rnd in range(args.rounds):
                # Each side leads in turn, so none always runs first in a round.
                order = sides[rnd % len(sides):] + sides[:rnd % len(sides)]
                for side, server, load, watched in order:
                    kind, model, extra = sc[load]
                    sub, url, model, extra = bench_argv(kind, server.port, model, extra)
                    if args.trace_dir:
                        extra = extra + ["--trace", os.path.join(args.trace_dir, f"{sc['name']}-{side}-r{rnd + 1}.tsv")]
                    r = run_bench(args, sub, url, model, extra, timeout=180,
                                  pid_to_watch=watched.pid if watched else None)
                    runs[side].append(r)
                    log(f"{sc['name']:<14} round {rnd + 1} {side:<7} rps {r['throughput_rps']:>10} "
                        f"p50 {g(r, 'latency_ms', 'p50')} p99 {g(r, 'latency_ms', 'p99')} "
                        f"ttft99 {g(r, 'ttft_ms', 'p99')} chunks/s {r['chunks_per_s']} err {r['errors']} "
                        f"client cpu {r['client_cpu_pct']}%" + (f" proxy cpu {r.get('gateway_cpu_s')}s" if watched else ""))
            direct, via = runs["direct"], runs["via"]
            s = summarise(sc["name"], sc["title"], direct, via)
            s["layout"] = layout["text"] if layout else "none"
            s["runs"] = dict(runs)
            if "haproxy" in runs:
                s["haproxy"] = summarise(sc["name"], sc["title"], direct, runs["haproxy"])
            rows.append(s)
        if not only or "idle" in only:
            # A fresh gateway: glibc keeps the heap the load scenarios grew.
            gw.stop()
            sim.stop()
            sim, gw = start_servers(args.sim_cpus, args.gateway_cpus)
            time.sleep(0.5)
            idle = idle_sessions(args, gw, args.idle)
            log("idle:", idle)
        if not only or "cold" in only:
            cold = cold_start(args, config, 2 if args.quick else 10)
            log("cold start:", cold)
        if "litellm" in peers:
            try:
                peer = run_litellm(args, sim.port, work)
            except Exception as e:  # the peer is optional: keep our own results
                log("peer failed:", e)
                peer = [dict(name="peer failed: " + str(e)[:200], throughput_rps=None, errors=-1)]
    finally:
        if ref:
            ref.stop()
        gw.stop()
        sim.stop()
    doc = dict(meta=meta, scenarios=rows, idle=idle, cold_start=cold, peer=peer)
    name = stamp.strftime("bench-%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    with open(os.path.join(args.out, name + ".json"), "w") as fh:
        json.dump(doc, fh, indent=1)
    md = markdown(meta, rows, idle, cold, peer)
    for path in (os.path.join(args.out, name + ".md"), os.path.join(args.out, "latest.md")):
        with open(path, "w") as fh:
            fh.write(md)
    print(md)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
