"""Benchmark the two monitoring paths side by side, per device, in one run:

  embedded   — what `dcops monitor` does each cycle after polling: store the cycle (SQLite), evaluate the alert
               rules (AlertEngine), render /metrics;
  prometheus — Debian's Prometheus 2.42 scraping that /metrics page and evaluating the generated rules
               (figures from Prometheus' own metrics: scrape_duration_seconds, rule group duration, RSS).

Devices are UPS-like (the ups-rfc1628 profile's metrics, three phases): N = 1,000 and 5,000 by default.
SNMP polling itself is bench_snmp.py's subject and is the same for both paths, so it is left out here.

    python bench/bench_scaleout.py [--devices 1000,5000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _pages import serve  # noqa: E402
from _results import record  # noqa: E402

PROMETHEUS = shutil.which("prometheus")

EMBEDDED = r"""
import json, random, resource, sys, tempfile, time
from pathlib import Path
from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.metrics import render
from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store

n, cycles, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(1)

def polls(ts):
    ps = []
    for i in range(n):
        dev = f"ups-{i:05d}"
        on_batt = rng.random() < 0.01
        s = [Sample("ups_output_source", {}, 5.0 if on_batt else 3.0, "enum", "", state="battery" if on_batt else "normal"),
             Sample("ups_battery_status", {}, 2.0, "enum", "", state="normal"),
             Sample("ups_battery_charge_ratio", {}, rng.uniform(0.4, 1.0), "gauge", "ratio"),
             Sample("ups_battery_runtime_seconds", {}, rng.uniform(300, 3000), "gauge", "seconds"),
             Sample("ups_battery_temperature_celsius", {}, rng.uniform(20, 30), "gauge", "celsius")]
        for ph in "123":
            s += [Sample("ups_output_load_ratio", {"phase": ph}, rng.uniform(0.3, 0.9), "gauge", "ratio"),
                  Sample("ups_output_voltage_volts", {"phase": ph}, rng.uniform(215, 235), "gauge", "volts"),
                  Sample("ups_input_voltage_volts", {"phase": ph}, rng.uniform(215, 235), "gauge", "volts")]
        ps.append(DevicePoll(dev, "ups-rfc1628", ts, True, samples=s))
    return ps

tmp = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
store = Store(tmp / "m.db")
for i in range(n):
    store.register_device(f"ups-{i:05d}", "ups-rfc1628", "ups", f"ups-{i:05d}")
clock = [1_800_000_000.0]
engine = AlertEngine(load_rules(), store, clock=lambda: clock[0])
times = []
for c in range(cycles):
    clock[0] += 30
    ps = polls(clock[0])
    t = time.perf_counter()
    store.write_polls(ps)
    engine.evaluate(ps)
    times.append(time.perf_counter() - t)
t = time.perf_counter()
text = render(store)
render_s = time.perf_counter() - t
Path(out).write_text(text)
print(json.dumps({"cycle_s": sorted(times)[len(times) // 2], "render_s": render_s, "series": text.count("\n"),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded(n: int, cycles: int, page: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", EMBEDDED, str(n), str(cycles), str(page)], capture_output=True,
                          text=True, timeout=3600, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prometheus(page: Path, tmp: Path, scrapes: int = 4) -> dict:
    body = page.read_bytes()
    n_samples = sum(1 for ln in body.decode().splitlines() if ln and not ln.startswith("#"))
    # a scrape of a large page must finish within its interval on a loaded machine (timeout = interval)
    every = 5 if n_samples <= 50_000 else 20

    srv = serve(lambda path: body)
    from dcops.model import load_inventory
    from dcops.monitor.alerts import load_rules
    from dcops.monitor.scaleout import bundle, write
    b = bundle(load_inventory(), load_rules(), exporters=[f"127.0.0.1:{srv.server_port}"], alertmanagers=[],
               scrape_interval=f"{every}s", evaluation_interval=f"{every}s")
    write(b, tmp / "stack")
    port = free_port()
    p = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'stack' / 'prometheus.yml'}",
                          f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    def q(expr):
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr}, timeout=10).json()
        res = r["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        # wait for complete scrapes (up == 1, every sample), then a few more intervals of steady state
        deadline = time.monotonic() + 900
        up = 'up{job="dcops"}'
        while not (q(up) == 1 and (q('scrape_samples_scraped{job="dcops"}') or 0) >= n_samples):
            if time.monotonic() > deadline:
                raise SystemExit(f"Prometheus never completed a scrape of {n_samples} samples in 900 s (up={q(up)})")
            time.sleep(every)
        time.sleep(every * scrapes)
        own = _own_metrics(f"http://127.0.0.1:{port}/metrics")  # Prometheus does not scrape itself here
        return {"scrape_s": q('scrape_duration_seconds{job="dcops"}'),
                "samples": q('scrape_samples_scraped{job="dcops"}'),
                "rules_s": max(v for (name, _), v in own.items() if name == "prometheus_rule_group_last_duration_seconds"),
                "rss_mb": own[("process_resident_memory_bytes", ())] / 2**20}
    finally:
        p.terminate()
        p.wait(20)
        srv.shutdown()


def _own_metrics(url: str) -> dict:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for fam in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for smp in fam.samples:
            out[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", default="1000,5000")
    ap.add_argument("--cycles", type=int, default=5)
    a = ap.parse_args()
    if not PROMETHEUS:
        raise SystemExit("Debian's prometheus is not installed (./bootstrap.sh installs it)")
    figures = {}
    print(f"{'devices':>8} | {'embedded store+alerts':>22} {'render':>8} {'RSS/1k':>8} | "
          f"{'prometheus scrape':>17} {'rules':>8} {'RSS/1k':>8} | {'dev/s emb':>10} {'dev/s prom':>10} ratio")
    for n in map(int, a.devices.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
            page = Path(tmp) / "metrics.txt"
            e = embedded(n, a.cycles, page)
            pr = prometheus(page, Path(tmp))
        emb_rate = n / e["cycle_s"]
        prom_s = (pr["scrape_s"] or 0) + (pr["rules_s"] or 0)
        prom_rate = n / prom_s if prom_s else float("nan")
        print(f"{n:>8,} | {e['cycle_s']:>20.3f} s {e['render_s']:>6.3f} s {e['rss_mb'] / n * 1000:>6.1f} MB | "
              f"{pr['scrape_s']:>15.3f} s {pr['rules_s']:>6.3f} s {pr['rss_mb'] / n * 1000:>6.1f} MB | "
              f"{emb_rate:>10,.0f} {prom_rate:>10,.0f} {prom_rate / emb_rate:5.2f}x")
        figures[f"n{n}"] = {"embedded_cycle_s": round(e["cycle_s"], 4), "embedded_render_s": round(e["render_s"], 4),
                            "embedded_rss_mb": round(e["rss_mb"], 1), "series": e["series"],
                            "prometheus_scrape_s": pr["scrape_s"], "prometheus_rules_s": pr["rules_s"],
                            "prometheus_rss_mb": round(pr["rss_mb"], 1),
                            "embedded_devices_per_s": round(emb_rate), "prometheus_devices_per_s": round(prom_rate)}
    sizes = sorted(int(k[1:]) for k in figures)
    if len(sizes) >= 2:  # memory that grows with devices, without each process' fixed base
        lo, hi = figures[f"n{sizes[0]}"], figures[f"n{sizes[-1]}"]
        span = (sizes[-1] - sizes[0]) / 1000
        figures["embedded_mb_per_1000_devices"] = round((hi["embedded_rss_mb"] - lo["embedded_rss_mb"]) / span, 1)
        figures["prometheus_mb_per_1000_devices"] = round((hi["prometheus_rss_mb"] - lo["prometheus_rss_mb"]) / span, 1)
        print(f"memory per 1,000 more devices: embedded {figures['embedded_mb_per_1000_devices']} MB, "
              f"Prometheus {figures['prometheus_mb_per_1000_devices']} MB")
    path = record("bench_scaleout", figures, notes="per cycle after polling: embedded = SQLite write + AlertEngine; "
                  "prometheus = scrape of the same /metrics + rule evaluation (Prometheus' own metrics); "
                  "UPS-like devices, 14 series each")
    print(f"figures written to {path}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
