#!/usr/bin/env python3
"""NOC page under load: the new server (Starlette on uvicorn) vs the old one (stdlib http.server,
the code before issue 12, taken from git), same database, same run.

Data: `--devices` devices (default 200: 1/5 UPS, 1/5 cooling, 2/5 sensors, 1/5 network) with
`--days` of history written through dcops' own Store: one poll cycle every 5 minutes for the older
days and every minute for the last two, then `Store.maintain()` rolls them up (5-minute and hourly
rollups) and drops raw samples older than two days, as the monitor does.

During the measurement a writer process plays the monitor: a whole poll cycle for every device,
written through Store.write_polls every `--write-every` seconds.

Load: 1, 10 and 50 concurrent logged-in clients (asyncio + httpx, one client = one session) on
the overview, a UPS page at 1 h / 1 day / 30 days, the lines page and /api/status; each cell runs
`--seconds`. Reported: p50/p95/p99 latency, requests/s, errors, response size, and the server
process's own CPU time per request (from /proc: robust to whatever else the machine runs; the
load generator shares the same cores).

    python bench/bench_noc.py                     # ≈ 15 min on the 2-core build machine
    python bench/bench_noc.py --devices 50 --days 7 --seconds 3 --quick
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dcops.monitor.poller import DevicePoll  # noqa: E402
from dcops.monitor.profiles import Sample  # noqa: E402
from dcops.monitor.store import Store  # noqa: E402

OLD_REV = "52f1fa6"  # the dashboard before issue 12 (http.server)
PAGES = [("overview", "/"), ("ups_1h", "/device/kg-ups-001?range=1h"), ("ups_1d", "/device/kg-ups-001?range=1d"),
         ("ups_30d", "/device/kg-ups-001?range=30d"), ("lines", "/lines"), ("api_status", "/api/status")]
USER, PASSWORD = "bench", "bench-password-123"


def devices(n: int) -> list[tuple[str, str, str]]:
    out = []
    for i in range(n):
        k = ("ups", "cooling", "sensor", "sensor", "network")[i % 5]
        name = {"ups": "kg-ups", "cooling": "kg-crac", "sensor": "kg-env", "network": "kg-sw"}[k] + f"-{i // 5 + 1:03d}"
        out.append((name, {"ups": "ups-rfc1628", "cooling": "liebert-cooling", "sensor": "apc-netbotz",
                           "network": "if-mib"}[k], k))
    out.append(("kg-lb-01", "if-mib", "network"))  # the leased lines of the inventory
    return out


def samples(kind: str, ts: float, rnd: random.Random) -> list[Sample]:
    w = (ts % 86400) / 86400
    if kind == "ups":
        s = [Sample("ups_output_source", {}, 3, "enum", "", state="normal"),
             Sample("ups_battery_charge_ratio", {}, 1.0, "gauge", "ratio"),
             Sample("ups_battery_runtime_seconds", {}, 1800 + rnd.random() * 60, "gauge", "seconds"),
             Sample("ups_battery_temperature_celsius", {}, 24 + rnd.random(), "gauge", "celsius")]
        for p in ("1", "2", "3"):
            s += [Sample("ups_output_load_ratio", {"phase": p}, 0.3 + 0.2 * w + rnd.random() / 50, "gauge", "ratio"),
                  Sample("ups_output_voltage_volts", {"phase": p}, 229 + rnd.random() * 2, "gauge", "volts"),
                  Sample("ups_input_voltage_volts", {"phase": p}, 228 + rnd.random() * 4, "gauge", "volts")]
        return s
    if kind == "cooling":
        return [Sample("cooling_air_temperature_celsius", {"sensor": "supply_air"}, 18 + rnd.random(), "gauge", "celsius"),
                Sample("cooling_air_temperature_celsius", {"sensor": "return_air"}, 26 + rnd.random(), "gauge", "celsius"),
                Sample("cooling_humidity_ratio", {"sensor": "return_air"}, 0.45 + rnd.random() / 50, "gauge", "ratio"),
                Sample("cooling_fan_speed_rpm", {"fan": "1"}, 1400 + rnd.random() * 20, "gauge", "rpm")]
    if kind == "sensor":
        return [Sample("env_temperature_celsius", {"sensor": f"s{j}"}, 24 + 3 * w + rnd.random(), "gauge", "celsius")
                for j in range(2)] + [Sample("env_humidity_ratio", {"sensor": "s0"}, 0.5, "gauge", "ratio"),
                                      Sample("env_contact_alarm", {"contact": "door"}, 0, "enum", "", state="normal")]
    out = []
    for j, ifn in enumerate(("wan1", "wan2", "ge-0/0/3")):
        lab = {"ifName": ifn}
        if ifn.startswith("wan"):
            lab["line"] = ("isp1-vnpt", "isp2-viettel")[j]
        out += [Sample("if_oper_status", lab, 1, "enum", "", state="up"),
                Sample("if_in_utilisation_ratio", lab, 0.2 + 0.5 * w, "gauge", "ratio"),
                Sample("if_out_utilisation_ratio", lab, 0.1 + 0.3 * w, "gauge", "ratio"),
                Sample("if_in_bytes_per_second", lab, (0.2 + 0.5 * w) * 37.5e6, "gauge", "bytes_per_second"),
                Sample("if_out_bytes_per_second", lab, (0.1 + 0.3 * w) * 37.5e6, "gauge", "bytes_per_second")]
    return out


def cycle(devs, ts: float, rnd: random.Random) -> list[DevicePoll]:
    return [DevicePoll(n, p, ts, True, samples=samples(k, ts, rnd), info={"sys_name": n}) for n, p, k in devs]


def build_history(db: Path, n_devices: int, days: float) -> dict:
    t0 = time.monotonic()
    st = Store(db)
    devs = devices(n_devices)
    meta = {n: (n, k) for n, _p, k in devs}
    rnd = random.Random(12)
    now = int(time.time()) // 60 * 60
    stamps = list(range(int(now - days * 86400), now - 2 * 86400, 300)) + list(range(now - 2 * 86400, now, 60))
    batch = 50
    for i in range(0, len(stamps), batch):
        with st.db():  # several cycles per transaction: the history is written faster than real time
            for ts in stamps[i:i + batch]:
                st.write_polls(cycle(devs, ts, rnd), meta)
    write_s = time.monotonic() - t0
    out = st.maintain(now)
    conn = st.db().conn
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("samples", "rollup_5m", "rollup_1h")}
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    st.close()
    return {"devices": len(devs), "series": sum(len(samples(k, 0, rnd)) for _n, _p, k in devs), "cycles": len(stamps),
            "write_s": round(write_s, 1), "total_s": round(time.monotonic() - t0, 1), "rows": counts,
            "maintain": out, "db_mb": round(db.stat().st_size / 1e6, 1)}


WRITER = r"""
import random, sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
import bench_noc as b
from dcops.monitor.store import Store
st = Store(sys.argv[3]); devs = b.devices(int(sys.argv[4])); meta = {n: (n, k) for n, _p, k in devs}
rnd = random.Random(1); every = float(sys.argv[5]); n = 0
while True:
    t = time.monotonic(); st.write_polls(b.cycle(devs, time.time(), rnd), meta); n += 1
    print(f"cycle {n} {time.monotonic() - t:.3f}", flush=True)
    time.sleep(max(0.0, every - (time.monotonic() - t)))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tree: Path, db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-m", "dcops.monitor", "dashboard-user", USER, "--role", "admin", "--db", str(db),
                    "--password-env", "BENCH_PW"], env={**env, "BENCH_PW": PASSWORD}, check=True,
                   capture_output=True, cwd=tree)  # cwd: `-m` puts it first on sys.path
    fh = open(log, "ab")
    p = subprocess.Popen([sys.executable, "-m", "dcops.monitor", "dashboard", "--db", str(db), "--port", str(port),
                          "--session-minutes", "600"], env=env, stdout=fh, stderr=subprocess.STDOUT,
                         start_new_session=True, cwd=tree)
    url = f"http://127.0.0.1:{port}"
    import httpx
    for _ in range(200):
        try:
            httpx.get(url + "/login", timeout=1)
            return p, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{tree} server did not start: {log.read_text()[-800:]}")


async def login(url: str):
    import httpx
    c = httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=1))
    r = await c.get("/login")
    form = {"username": USER, "password": PASSWORD, "next": "/"}
    if 'name="csrf" value="' in r.text:
        form["csrf"] = r.text.split('action="/login"')[1].split('name="csrf" value="')[1].split('"')[0]
    r = await c.post("/login", data=form)
    if r.status_code != 303:
        raise RuntimeError(f"login failed: {r.status_code}")
    return c


CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """utime + stime of the server process (its own CPU, whatever else the machine runs)."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK


async def cell(clients, path: str, seconds: float, pid: int | None = None) -> dict:
    lat, errors, sizes = [], 0, []
    cpu0 = cpu_s(pid) if pid else 0.0
    stop = time.monotonic() + seconds

    async def worker(c):
        nonlocal errors
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                r = await c.get(path)
                ok = r.status_code == 200
                sizes.append(len(r.content))
            except Exception:  # noqa: BLE001 - timeouts and resets are errors of the server under test
                ok = False
            lat.append(time.perf_counter() - t)
            if not ok:
                errors += 1
    t0 = time.monotonic()
    await asyncio.gather(*(worker(c) for c in clients))
    took = time.monotonic() - t0
    lat.sort()

    def q(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else None
    cpu_ms = round((cpu_s(pid) - cpu0) * 1000 / max(len(lat), 1), 2) if pid else None
    return {"n": len(lat), "rps": round(len(lat) / took, 1), "p50": q(0.50), "p95": q(0.95), "p99": q(0.99),
            "errors": errors, "kb": round(sum(sizes) / len(sizes) / 1024, 1) if sizes else None,
            "server_cpu_ms": cpu_ms}


async def measure(url: str, levels, seconds: float, pid: int) -> dict:
    clients = [await login(url) for _ in range(max(levels))]
    out = {}
    try:
        for name, path in PAGES:
            for c in levels:
                await cell(clients[:1], path, 0.5)  # warm
                out[f"{name}@{c}"] = await cell(clients[:c], path, seconds, pid)
                print(f"  {name:<11} {c:>3} clients: {out[f'{name}@{c}']}", flush=True)
    finally:
        for c in clients:
            await c.aclose()
    return out


def old_tree(tmp: Path) -> Path:
    tree = tmp / "old"
    tree.mkdir()
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_REV, "dcops", "monitors", "inventory"],
                          capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=arch, check=True)
    return tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--write-every", type=float, default=10)
    ap.add_argument("--levels", default="1,10,50")
    ap.add_argument("--skip-old", action="store_true")
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated database here")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "noc.json")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-noc-"))
    procs: list[subprocess.Popen] = []
    try:
        db = a.keep or tmp / "noc.db"
        if a.keep and db.exists():
            hist = {"reused": str(db)}
        else:
            print(f"writing {a.days:g} days of history for {a.devices} devices through Store …", flush=True)
            hist = build_history(db, a.devices, a.days)
        print("history:", hist, flush=True)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(ROOT), str(ROOT / "bench"), str(db),
                                   str(a.devices), str(a.write_every)], stdout=open(tmp / "writer.log", "wb"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(writer)
        results = {"history": hist, "levels": levels, "seconds": a.seconds, "write_every": a.write_every,
                   "cpus": os.cpu_count(), "load_before": os.getloadavg()}
        trees = [("new", ROOT)] + ([] if a.skip_old else [("old", old_tree(tmp))])
        for label, tree in trees:
            p, url = start(tree, db, tmp / f"{label}.log")
            procs.append(p)
            print(f"{label} server ({tree}) on {url}", flush=True)
            results[label] = asyncio.run(measure(url, levels, a.seconds, p.pid))
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        cycles = (tmp / "writer.log").read_text().split()
        results["writer_cycles"] = cycles.count("cycle")
        results["load_after"] = os.getloadavg()
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(results, indent=1))
        print_table(results)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def print_table(r: dict) -> None:
    print("\n| page | clients | new p50 / p95 / p99 ms | old p50 / p95 / p99 ms | p95 old/new | errors new / old "
          "| server CPU ms/request new / old | KB new / old |")
    print("|---|---:|---|---|---:|---|---|---|")
    for name, _path in PAGES:
        for c in r["levels"]:
            n = r["new"][f"{name}@{c}"]
            o = r.get("old", {}).get(f"{name}@{c}")
            ratio = f"{o['p95'] / n['p95']:.1f}×" if o and n["p95"] else "—"
            old = f"{o['p50']} / {o['p95']} / {o['p99']}" if o else "—"
            print(f"| {name} | {c} | {n['p50']} / {n['p95']} / {n['p99']} | {old} | {ratio} | "
                  f"{n['errors']} / {o['errors'] if o else '—'} | {n['server_cpu_ms']} / "
                  f"{o['server_cpu_ms'] if o else '—'} | {n['kb']} / {o['kb'] if o else '—'} |")


if __name__ == "__main__":
    main()
