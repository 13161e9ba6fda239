#!/usr/bin/env python3
"""Soak: a steady mixed load through the gateway for --minutes, sampling the gateway's RSS,
open fds and CPU every --every seconds. Passes when, after the warm-up fifth of the run,
RSS stays within +-5 % of its first post-warm-up sample, fds do not grow (median of the last five
samples vs the first five, 5 fds of jitter allowed), and no request failed.

Load (all on 127.0.0.1): 100 WebSocket hub connections each streaming 100-token replies at
20 ms/token back to back (~50 chats/s, ~5,000 chunks/s) plus 200 non-streamed REST requests/s
open-loop.
"""
import argparse, datetime, json, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin-dir", default=os.path.join(bench.ROOT, ".build", "release"))
    ap.add_argument("--out", default=os.path.join(bench.ROOT, "bench-results"))
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--no-pin", action="store_true")
    args = ap.parse_args()
    args.bench_bin = os.path.join(args.bin_dir, "clawgate-bench")
    pin_client = pin_gw = None
    if not args.no_pin and (os.cpu_count() or 1) >= 2:
        pin_client, pin_gw = "0", "1"
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="clawgate-soak-")
    seconds = args.minutes * 60
    sim = bench.Server(bench.pin(pin_client) + [os.path.join(args.bin_dir, "clawgate-sim"), "--listen", "127.0.0.1:0"],
                       r"listening on 127\.0\.0\.1:(\d+)", "sim")
    config = os.path.join(work, "gateway.yaml")
    bench.write_config(config, sim.port)
    gw = bench.Server(bench.pin(pin_gw) + [os.path.join(args.bin_dir, "clawgate"), "serve", "--config", config,
                                           "--listen", "127.0.0.1:0"], r"ready on http://127\.0\.0\.1:(\d+)", "gateway")
    loads = [
        bench.pin(pin_client) + [args.bench_bin, "ws", "--url", f"ws://127.0.0.1:{gw.port}/v1/ws", "--model", "fast",
                                 "-c", "100", "-d", str(seconds), "--check-text", "--quiet"],
        bench.pin(pin_client) + [args.bench_bin, "rest", "--url", f"http://127.0.0.1:{gw.port}/v1/chat/completions",
                                 "--model", "one", "--rate", "200", "-d", str(seconds), "--quiet"],
    ]
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for a in loads]
    samples = []
    t0 = time.time()
    try:
        while any(p.poll() is None for p in procs):
            if gw.p.poll() is not None or sim.p.poll() is not None:
                raise SystemExit(f"soak: gateway exited ({gw.p.returncode}) or simulator exited ({sim.p.returncode}) "
                                 f"after {time.time() - t0:.0f} s; negative = killed by that signal")
            cpu, rss, fds = gw.stat()
            samples.append(dict(t=round(time.time() - t0, 1), rss_mb=round(rss / 2**20, 2), fds=fds, cpu_s=round(cpu, 2)))
            print(f"soak t={samples[-1]['t']:>7}s rss={samples[-1]['rss_mb']} MB fds={fds} cpu={cpu:.1f}s", file=sys.stderr, flush=True)
            time.sleep(args.every)
        results = [json.loads(p.stdout.read().strip().splitlines()[-1]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        gw.stop()
        sim.stop()
    after = [s for s in samples if s["t"] >= seconds / 5]
    base = after[0] if after else samples[-1]
    rss_dev = max(abs(s["rss_mb"] - base["rss_mb"]) / base["rss_mb"] for s in after) if after else 0
    # fds move by a few as upstream connections come and go: compare medians of the first and
    # last five post-warm-up samples and allow that jitter.
    fd_growth = (statistics.median(s["fds"] for s in after[-5:]) - statistics.median(s["fds"] for s in after[:5])
                 if after else 0)
    errors = sum(r["errors"] for r in results)
    verdict = dict(rss_within_5pct=rss_dev <= 0.05, rss_max_deviation_pct=round(rss_dev * 100, 2),
                   fd_growth=fd_growth, errors=errors, ok=rss_dev <= 0.05 and fd_growth <= 5 and errors == 0)
    doc = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               minutes=args.minutes, verdict=verdict, samples=samples, runs=results)
    name = datetime.datetime.now(datetime.timezone.utc).strftime("soak-%Y%m%d-%H%M%S.json")
    with open(os.path.join(args.out, name), "w") as f:
        json.dump(doc, f, indent=1)
    print(json.dumps(dict(verdict=verdict, ws=dict(completed=results[0]["completed"], errors=results[0]["errors"],
                                                   distinct_texts=results[0]["distinct_texts"]),
                          rest=dict(completed=results[1]["completed"], errors=results[1]["errors"],
                                    p99_ms=bench.g(results[1], "latency_ms", "p99"))), indent=1))
    sys.exit(0 if verdict["ok"] else 1)


if __name__ == "__main__":
    main()
