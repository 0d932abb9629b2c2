"""Benchmark the national view: many provinces remote-writing to one central VictoriaMetrics.

docs/scaleout.md's third topology — a Prometheus (or vmagent) per province, remote-writing to a central store —
measured at its real width rather than described: one Prometheus 2.42 in agent mode scrapes P province pages
(each labelled with its own `site`, D UPS-like devices each, the same 14 series per device as
bench_scaleout.py) and remote-writes everything to Debian's `victoria-metrics` 1.79, as P provincial
Prometheus servers would. The provincial side's own cost per device is bench_scaleout.py's figure; this bench
measures the centre: samples ingested per second, VictoriaMetrics CPU-seconds per million samples, resident
memory per active series and per device, bytes on disk per sample (after a forced flush: fresh small parts
compress worse than merged ones, so this is pessimistic), and the latency of a national query (UPS on battery,
counted per province).

    python bench/bench_central.py [--provinces 63] [--devices 50,200] [--minutes 3]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _pages import serve  # noqa: E402
from _results import record  # noqa: E402

PROMETHEUS = shutil.which("prometheus")
VICTORIA = shutil.which("victoria-metrics")
SCRAPE_S = 15
SERIES_PER_DEVICE = 14


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def province_page(site: str, devices: int, rng: random.Random) -> bytes:
    """One province's /metrics: D UPS-like devices (the ups-rfc1628 profile's series), values that move."""
    out = []
    for i in range(devices):
        d = f'device="{site}-ups-{i:03d}",kind="ups"'
        batt = rng.random() < 0.01
        out.append(f'dcops_ups_output_source{{{d},ups_output_source="battery"}} {1 if batt else 0}')
        out.append(f'dcops_ups_output_source{{{d},ups_output_source="normal"}} {0 if batt else 1}')
        out.append(f"dcops_ups_battery_charge_ratio{{{d}}} {rng.uniform(0.4, 1.0):.3f}")
        out.append(f"dcops_ups_battery_runtime_seconds{{{d}}} {rng.randint(300, 3000)}")
        out.append(f"dcops_ups_battery_temperature_celsius{{{d}}} {rng.uniform(20, 30):.1f}")
        for ph in "123":
            out.append(f'dcops_ups_output_load_ratio{{{d},phase="{ph}"}} {rng.uniform(0.3, 0.9):.3f}')
            out.append(f'dcops_ups_output_voltage_volts{{{d},phase="{ph}"}} {rng.uniform(215, 235):.1f}')
            out.append(f'dcops_ups_input_voltage_volts{{{d},phase="{ph}"}} {rng.uniform(215, 235):.1f}')
    return ("\n".join(out) + "\n").encode()


def serve_provinces(devices: int):
    rng = random.Random(7)
    lock = threading.Lock()

    def page(path: str) -> bytes:
        with lock:  # one generator, pages asked for concurrently
            return province_page(path.rsplit("/", 1)[-1], devices, rng)

    return serve(page)


def metrics(url: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families
    out: dict = {}
    for fam in text_string_to_metric_families(httpx.get(url, timeout=30).text):
        for smp in fam.samples:
            out[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return out


def total(m: dict, name: str, **labels) -> float:
    return sum(v for (n, lab), v in m.items() if n == name and all(dict(lab).get(k) == x for k, x in labels.items()))


def wait_http(url: str, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{what} did not answer on {url} within {timeout:.0f} s")


def run(provinces: int, devices: int, minutes: float, tmp: Path) -> dict:
    sites = [f"p{i:02d}" for i in range(1, provinces + 1)]
    srv = serve_provinces(devices)
    vm_port, prom_port = free_port(), free_port()
    vm_url = f"http://127.0.0.1:{vm_port}"
    procs = []
    try:
        procs.append(subprocess.Popen([VICTORIA, f"-httpListenAddr=127.0.0.1:{vm_port}",
                                       f"-storageDataPath={tmp / 'vm'}", "-retentionPeriod=1d",
                                       "-search.latencyOffset=1s"],
                                      stdout=subprocess.DEVNULL, stderr=open(tmp / "vm.log", "w")))
        wait_http(f"{vm_url}/health", "VictoriaMetrics")
        cfg = {"global": {"scrape_interval": f"{SCRAPE_S}s", "scrape_timeout": "10s"},
               "scrape_configs": [{"job_name": "provinces", "static_configs": [
                   {"targets": [f"127.0.0.1:{srv.server_port}"],
                    "labels": {"site": s, "__metrics_path__": f"/p/{s}"}} for s in sites]}],
               "remote_write": [{"url": f"{vm_url}/api/v1/write"}]}
        (tmp / "agent.yml").write_text(yaml.safe_dump(cfg))
        procs.append(subprocess.Popen([PROMETHEUS, "--enable-feature=agent", f"--config.file={tmp / 'agent.yml'}",
                                       f"--storage.agent.path={tmp / 'agent'}",
                                       f"--web.listen-address=127.0.0.1:{prom_port}"],
                                      stdout=subprocess.DEVNULL, stderr=open(tmp / "agent.log", "w")))
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", "Prometheus (agent mode)")
        expected = provinces * devices * SERIES_PER_DEVICE

        def active() -> int:
            httpx.get(f"{vm_url}/internal/force_flush", timeout=30)
            r = httpx.get(f"{vm_url}/api/v1/query", params={"query": 'count({__name__=~"dcops_.+"})'},
                          timeout=60).json()["data"]["result"]
            return int(float(r[0]["value"][1])) if r else 0

        end = time.monotonic() + 300
        while active() < expected:  # every province's every series has arrived once
            if time.monotonic() > end:
                raise SystemExit(f"only {active()} of {expected} series reached VictoriaMetrics in 300 s")
            time.sleep(SCRAPE_S / 3)
        m0, t0 = metrics(f"{vm_url}/metrics"), time.monotonic()
        time.sleep(minutes * 60)
        httpx.get(f"{vm_url}/internal/force_flush", timeout=60)
        m1, t1 = metrics(f"{vm_url}/metrics"), time.monotonic()
        rows = total(m1, "vm_rows_inserted_total") - total(m0, "vm_rows_inserted_total")
        cpu = total(m1, "process_cpu_seconds_total") - total(m0, "process_cpu_seconds_total")
        q = 'count by (site) (dcops_ups_output_source{ups_output_source="battery"} == 1)'
        lat = []
        for _ in range(5):
            t = time.perf_counter()
            httpx.get(f"{vm_url}/api/v1/query", params={"query": q}, timeout=60).raise_for_status()
            lat.append(time.perf_counter() - t)
        series = active()
        rss = total(m1, "process_resident_memory_bytes") / 2**20
        disk = total(m1, "vm_data_size_bytes", type="storage/small") + total(m1, "vm_data_size_bytes", type="storage/big")
        index = total(m1, "vm_data_size_bytes", type="indexdb")
        stored = total(m1, "vm_rows", type="storage/small") + total(m1, "vm_rows", type="storage/big")
        return {"provinces": provinces, "devices_per_province": devices, "devices": provinces * devices,
                "series": series, "samples_per_s": round(rows / (t1 - t0)),
                "cpu_s_per_million_samples": round(cpu / rows * 1e6, 2) if rows else None,
                "rss_mb": round(rss, 1), "bytes_per_sample_on_disk": round(disk / stored, 2) if stored else None,
                "index_bytes_per_series": round(index / series) if series else None,
                "national_query_ms": round(sorted(lat)[len(lat) // 2] * 1000, 1), "window_s": round(t1 - t0)}
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        srv.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--provinces", type=int, default=63)
    ap.add_argument("--devices", default="50,200", help="devices per province, comma-separated sizes")
    ap.add_argument("--minutes", type=float, default=3.0, help="steady-state window measured per size")
    a = ap.parse_args()
    if not (PROMETHEUS and VICTORIA):
        raise SystemExit("Debian's prometheus and victoria-metrics are needed (./bootstrap.sh installs them)")
    figures: dict = {}
    print(f"{'provinces':>9} {'devices':>8} {'series':>9} | {'samples/s':>9} {'CPU-s/M':>8} {'RSS':>8} "
          f"{'B/sample':>8} | {'national query':>14}")
    for d in map(int, a.devices.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-central-") as tmp:
            r = run(a.provinces, d, a.minutes, Path(tmp))
        figures[f"d{d}"] = r
        print(f"{r['provinces']:>9} {r['devices']:>8,} {r['series']:>9,} | {r['samples_per_s']:>9,} "
              f"{r['cpu_s_per_million_samples']:>8} {r['rss_mb']:>6.0f}MB {r['bytes_per_sample_on_disk']:>8} | "
              f"{r['national_query_ms']:>11.1f} ms")
    sizes = sorted(int(k[1:]) for k in figures)
    if len(sizes) >= 2:  # what one more device costs the centre, without the process' fixed base
        lo, hi = figures[f"d{sizes[0]}"], figures[f"d{sizes[-1]}"]
        figures["central_mb_per_1000_devices"] = round(
            (hi["rss_mb"] - lo["rss_mb"]) / ((hi["devices"] - lo["devices"]) / 1000), 1)
        print(f"central memory per 1,000 more devices: {figures['central_mb_per_1000_devices']} MB")
    path = record("bench_central", figures, notes=(
        f"{a.provinces} provinces scraped by one Prometheus 2.42 in agent mode every {SCRAPE_S} s and remote-written "
        f"to one victoria-metrics 1.79; UPS-like devices, {SERIES_PER_DEVICE} series each; "
        f"{a.minutes:g} min steady state per size; disk bytes after a forced flush (unmerged parts)"))
    print(f"figures written to {path}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
