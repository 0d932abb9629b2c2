#!/usr/bin/env python3
"""SNMP polling benchmark: dcops poller vs Debian's prometheus-snmp-exporter, same agents, same run.

Agents: net-snmp `snmpd` processes on 127.0.0.1 (v2c and v3 authPriv). Workload per device: the
`if-mib` profile (sysUpTime/sysDescr/sysName GETs + 11 ifTable/ifXTable columns walked), which the
bench compiles into an snmp_exporter module so both pollers fetch exactly the same OIDs.

Figure of merit: varbinds fetched per CPU-second of the poller process (per core). The exporter's
count comes from its own `snmp_scrape_pdus_returned`, its CPU time from /proc/<pid>/stat.

    python bench/bench_snmp.py                 # everything (≈ 2–3 min on 2 cores)
    python bench/bench_snmp.py --quick         # shorter phases
    python bench/bench_snmp.py --devices 10000 --skip-exporter
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import record  # noqa: E402  (bench/_results.py, beside this script)

from dcops.monitor.poller import Poller, tune_gc  # noqa: E402
from dcops.monitor.profiles import get_profile  # noqa: E402
from dcops.monitor.snmp.errors import Credentials  # noqa: E402
from dcops.monitor.snmp.v2c import V2cSession  # noqa: E402
from dcops.monitor.targets import Target  # noqa: E402

COMMUNITY = "bench-public"
V3 = dict(user="bench", auth="bench-auth-pass", priv="bench-priv-pass")
CLK = os.sysconf("SC_CLK_TCK")


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK


# ---------------------------------------------------------------- agents

def start_snmpd(n: int, work: Path) -> list[tuple[subprocess.Popen, int]]:
    out = []
    for i in range(n):
        d = work / f"snmpd{i}"
        d.mkdir(parents=True)
        port = free_port()
        (d / "snmpd.conf").write_text(
            f"rocommunity {COMMUNITY} 127.0.0.1\n"
            f"createUser {V3['user']} SHA-256 \"{V3['auth']}\" AES \"{V3['priv']}\"\n"
            f"rouser {V3['user']} priv\n"
            "sysDescr dcops bench agent\nsysName bench\n")
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(d))
        p = subprocess.Popen(["snmpd", "-f", "-C", "-c", str(d / "snmpd.conf"), "-Lf", str(d / "log"),
                              "-p", str(d / "pid"), f"udp:127.0.0.1:{port}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        out.append((p, port))

    wait_ready(out, "snmpd")
    return out


def wait_ready(agents: list[tuple[subprocess.Popen, int]], what: str) -> None:
    """Until every agent answers a v2c GET (10 s at most each); on failure they are stopped."""
    async def ready(port):
        s = V2cSession("127.0.0.1", port, COMMUNITY, timeout=0.5, retries=0)
        for _ in range(40):
            try:
                await s.get(["1.3.6.1.2.1.1.3.0"])
                return
            except Exception:  # noqa: BLE001
                await asyncio.sleep(0.25)
        raise RuntimeError(f"{what} on {port} did not start")

    async def all_ready():
        await asyncio.gather(*(ready(port) for _p, port in agents))

    try:
        asyncio.run(all_ready())
    except BaseException:
        stop([p for p, _ in agents])
        raise


def stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()


# ---------------------------------------------------------------- snmp_exporter

def exporter_module(profile, v3: bool) -> dict:
    """Compile a dcops profile into an snmp_exporter module (same OIDs, same labels)."""
    gets = profile.scalar_oids
    walks = profile.walk_oids
    metrics = []
    for i, oid in enumerate(gets):
        metrics.append({"name": f"scalar_{i}", "oid": oid.rsplit(".", 1)[0], "type": "DisplayString"
                        if oid.startswith("1.3.6.1.2.1.1.1") or oid.startswith("1.3.6.1.2.1.1.5") else "gauge",
                        "help": oid})
    lookups = [{"labels": ["ifIndex"], "labelname": name, "oid": oid, "type": "DisplayString"}
               for name, oid in profile.labels.items()]
    for m in profile.metrics:
        if m.walk:
            metrics.append({"name": m.name, "oid": m.walk, "type": "counter" if m.type == "counter" else "gauge",
                            "help": m.name, "indexes": [{"labelname": "ifIndex", "type": "gauge"}],
                            "lookups": lookups})
    auth = ({"username": V3["user"], "security_level": "authPriv", "password": V3["auth"],
             "auth_protocol": "SHA256", "priv_protocol": "AES", "priv_password": V3["priv"]}
            if v3 else {"community": COMMUNITY})
    return {"version": 3 if v3 else 2, "auth": auth, "max_repetitions": 25, "retries": 1, "timeout": "5s",
            "get": gets, "walk": walks, "metrics": metrics}


IF_COLUMNS = {"ifOperStatus": "1.3.6.1.2.1.2.2.1.8", "ifInErrors": "1.3.6.1.2.1.2.2.1.14",
              "ifOutErrors": "1.3.6.1.2.1.2.2.1.20", "ifHCInOctets": "1.3.6.1.2.1.31.1.1.1.6",
              "ifHCOutOctets": "1.3.6.1.2.1.31.1.1.1.10", "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15"}


def get_workload(if_indexes: list[int]):
    """GET-only workload: explicit instances (6 interface columns x every ifIndex + 3 scalars)."""
    from dcops.monitor.profiles import Metric, Profile
    metrics = [Metric(name=f"{name.lower()}_{i}", oid=f"{col}.{i}", type="counter" if "Octets" in name else "gauge")
               for name, col in IF_COLUMNS.items() for i in if_indexes]
    prof = Profile(name="bench-get", kind="other", info={"sys_descr": "1.3.6.1.2.1.1.1.0",
                                                          "sys_name": "1.3.6.1.2.1.1.5.0"}, metrics=metrics)
    module_metrics = [{"name": "sysUpTime", "oid": "1.3.6.1.2.1.1.3", "type": "gauge", "help": "sysUpTime"},
                      {"name": "sysDescr", "oid": "1.3.6.1.2.1.1.1", "type": "DisplayString", "help": "sysDescr"},
                      {"name": "sysName", "oid": "1.3.6.1.2.1.1.5", "type": "DisplayString", "help": "sysName"}]
    module_metrics += [{"name": name, "oid": col, "type": "counter" if "Octets" in name else "gauge", "help": name,
                        "indexes": [{"labelname": "ifIndex", "type": "gauge"}]} for name, col in IF_COLUMNS.items()]
    return prof, {"get": prof.scalar_oids, "metrics": module_metrics}


def _dump_yaml(obj) -> str:
    from io import StringIO

    from ruamel.yaml import YAML
    buf = StringIO()
    y = YAML()
    y.default_flow_style = False
    y.dump(obj, buf)
    return buf.getvalue()


def bench_exporter(ports: list[int], duration: float, concurrency: int, work: Path, v3: bool,
                   get_only: tuple | None = None) -> dict:
    import httpx
    exe = shutil.which("prometheus-snmp-exporter")
    if not exe:
        return {"skipped": "prometheus-snmp-exporter not installed"}
    module = exporter_module(get_profile("if-mib"), v3)
    if get_only:
        module = {**module, "walk": [], **get_only[1]}
    cfg = work / f"snmp-{'v3' if v3 else 'v2c'}-{'get' if get_only else 'walk'}.yml"
    cfg.write_text(_dump_yaml({"ifmib": module}))
    port = free_port(socket.SOCK_STREAM)
    p = subprocess.Popen([exe, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
                         stdout=subprocess.DEVNULL, stderr=open(work / "exporter.log", "ab"), start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                httpx.get(base + "/metrics", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        counts = {"scrapes": 0, "varbinds": 0, "errors": 0}
        lock = threading.Lock()
        stop_at = [0.0]

        def worker(i: int):
            with httpx.Client(timeout=30) as c:
                k = i
                while time.monotonic() < stop_at[0]:
                    target = f"127.0.0.1:{ports[k % len(ports)]}"
                    k += concurrency
                    try:
                        r = c.get(base + "/snmp", params={"module": "ifmib", "target": target})
                        txt = r.text
                        n = next(float(line.split()[-1]) for line in txt.splitlines()
                                 if line.startswith("snmp_scrape_pdus_returned"))
                        with lock:
                            counts["scrapes"] += 1
                            counts["varbinds"] += int(n)
                    except Exception:  # noqa: BLE001
                        with lock:
                            counts["errors"] += 1

        # warm-up scrape (config load, first engine discovery)
        httpx.get(base + "/snmp", params={"module": "ifmib", "target": f"127.0.0.1:{ports[0]}"}, timeout=30)
        cpu0, t0 = proc_cpu(p.pid), time.monotonic()
        stop_at[0] = t0 + duration
        ths = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        wall = time.monotonic() - t0
        cpu = proc_cpu(p.pid) - cpu0
        return {**counts, "cpu_s": cpu, "wall_s": wall, "varbinds_per_cpu_s": counts["varbinds"] / cpu if cpu else 0,
                "varbinds_per_s": counts["varbinds"] / wall}
    finally:
        stop([p])


# ---------------------------------------------------------------- dcops

def _targets(ports: list[int], n: int, v3: bool, profile: str = "if-mib") -> list[Target]:
    creds = (Credentials("3", user=V3["user"], auth_key=V3["auth"], priv_key=V3["priv"], auth_protocol="SHA256",
                         priv_protocol="AES") if v3 else Credentials("2c", community=COMMUNITY))
    return [Target(f"dev{i}", "127.0.0.1", ports[i % len(ports)], profile, creds) for i in range(n)]


def bench_dcops(ports: list[int], duration: float, concurrency: int, v3: bool, get_only: tuple | None = None,
                store: bool = False) -> dict:
    """Poll the agents round-robin for `duration` s; varbinds per CPU-second of this process.
    store=True: also write every cycle to the SQLite history, as `dcops monitor` does (work the exporter
    leaves to Prometheus)."""
    st = db_dir = None
    if store:
        from dcops.monitor.store import Store
        db_dir = Path(tempfile.mkdtemp(prefix="dcops-bench-db-"))
        st = Store(db_dir / "m.db")

    async def run():
        prof = get_only[0] if get_only else get_profile("if-mib")
        targets = _targets(ports, max(concurrency, len(ports)), v3, prof.name)
        poller = Poller(targets, profiles={prof.name: prof}, concurrency=concurrency, timeout=5, retries=1)
        await poller.poll_all()  # warm-up: sessions, v3 engine discovery
        vb = polls = errs = 0
        cpu0, t0 = time.process_time(), time.monotonic()
        while time.monotonic() - t0 < duration:
            cycle = await poller.poll_all()
            for p in cycle:
                polls += 1
                if not p.reachable:
                    errs += 1
                vb += p.varbinds
            if st is not None:
                st.write_polls(cycle)
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        return {"polls": polls, "errors": errs, "varbinds": vb, "cpu_s": cpu, "wall_s": wall,
                "varbinds_per_cpu_s": vb / cpu if cpu else 0, "varbinds_per_s": vb / wall}

    thresholds = gc.get_threshold()
    tune_gc()  # as Poller.run (`dcops monitor`) does
    try:
        return asyncio.run(run())
    finally:
        gc.set_threshold(*thresholds)  # the pysnmp reference rows keep the interpreter's defaults
        if st is not None:  # leave no database behind in /tmp
            st.close()
            shutil.rmtree(db_dir, ignore_errors=True)


def bench_naive_pysnmp(ports: list[int], duration: float, concurrency: int) -> dict:
    """The naive pysnmp 7 poller: hlapi with MIB lookups, one bulk_walk_cmd per column."""
    import pysnmp.hlapi.v3arch.asyncio as h
    prof = get_profile("if-mib")

    async def poll(eng, port):
        tgt = await h.UdpTransportTarget.create(("127.0.0.1", port), timeout=5, retries=1)
        auth = h.CommunityData(COMMUNITY, mpModel=1)
        n = 0
        e, s, i, vbs = await h.get_cmd(eng, auth, tgt, h.ContextData(),
                                       *[h.ObjectType(h.ObjectIdentity(o)) for o in prof.scalar_oids])
        n += len(vbs)
        for col in prof.walk_oids:
            async for e, s, i, vbs in h.bulk_walk_cmd(eng, auth, tgt, h.ContextData(), 0, 25,
                                                      h.ObjectType(h.ObjectIdentity(col)),
                                                      lexicographicMode=False):
                if e or s:
                    break
                n += len(vbs)
        return n

    async def run():
        eng = h.SnmpEngine()
        sem = asyncio.Semaphore(concurrency)

        async def one(port):
            async with sem:
                return await poll(eng, port)

        await one(ports[0])
        vb = polls = 0
        cpu0, t0 = time.process_time(), time.monotonic()
        while time.monotonic() - t0 < duration:
            res = await asyncio.gather(*(one(ports[i % len(ports)]) for i in range(concurrency)))
            vb += sum(res)
            polls += len(res)
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        return {"polls": polls, "varbinds": vb, "cpu_s": cpu, "wall_s": wall,
                "varbinds_per_cpu_s": vb / cpu if cpu else 0, "varbinds_per_s": vb / wall}

    return asyncio.run(run())


def _shard_cycle(args) -> dict:
    ports, lo, hi, concurrency, v3 = args

    async def run():
        tune_gc()  # as Poller.run (`dcops monitor`) does
        targets = _targets(ports, hi, v3)[lo:hi]
        poller = Poller(targets, concurrency=concurrency, timeout=10, retries=2)
        out = []
        for _ in range(2):  # the first cycle includes SNMPv3 engine discovery of every device
            t0, c0 = time.monotonic(), time.process_time()
            polls = await poller.poll_all()
            out.append({"start": t0, "end": time.monotonic(), "wall_s": time.monotonic() - t0,
                        "cpu_s": time.process_time() - c0, "unreachable": sum(not p.reachable for p in polls),
                        "varbinds": sum(p.varbinds for p in polls)})
        return out

    return asyncio.run(run())


class CpuSampler:
    """CPU-seconds of other processes (the agents) sampled every 0.1 s, to split a time span's CPU."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.samples = pids, []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _now(self) -> tuple[float, float]:
        return time.monotonic(), sum(proc_cpu(p) for p in self.pids)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.samples.append(self._now())

    def __enter__(self):
        self.samples.append(self._now())
        self._th.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._th.join()
        self.samples.append(self._now())

    def between(self, t0: float, t1: float) -> float:
        def at(t):
            import bisect
            i = bisect.bisect_left(self.samples, (t, -1.0))
            if i <= 0:
                return self.samples[0][1]
            if i >= len(self.samples):
                return self.samples[-1][1]
            (ta, ca), (tb, cb) = self.samples[i - 1], self.samples[i]
            return ca + (cb - ca) * (t - ta) / (tb - ta) if tb > ta else cb
        return at(t1) - at(t0)


def bench_many(ports: list[int], devices: int, workers: int, concurrency: int, v3: bool,
               agent_pids: list[int] = (), agent_kind: str = "snmpd") -> dict:
    """Two full poll cycles of `devices` simulated devices, sharded over `workers` processes.
    Besides the cycle's wall time: the CPU of the poller processes and of the agents in that time."""
    from concurrent.futures import ProcessPoolExecutor
    per = (devices + workers - 1) // workers
    shards = [(ports, i * per, min(devices, (i + 1) * per), concurrency, v3) for i in range(workers)]
    load = [round(x, 2) for x in os.getloadavg()]
    with CpuSampler(list(agent_pids)) as agents, ProcessPoolExecutor(workers) as ex:
        res = list(ex.map(_shard_cycle, shards))
    cycles = []
    for c in range(2):  # shards run in parallel: the cycle lasts as long as the slowest shard
        t0, t1 = min(r[c]["start"] for r in res), max(r[c]["end"] for r in res)
        cycles.append({"cycle_wall_s": max(r[c]["wall_s"] for r in res),
                       "poller_cpu_s": sum(r[c]["cpu_s"] for r in res),
                       "agent_cpu_s": agents.between(t0, t1),
                       "unreachable": sum(r[c]["unreachable"] for r in res),
                       "varbinds": sum(r[c]["varbinds"] for r in res)})
    return {"devices": devices, "workers": workers, "v3": v3, "agents": agent_kind, "agent_processes": len(ports),
            "load_average_before": load, "first": cycles[0], "steady": cycles[1]}


def start_responders(n: int, work: Path, snmpd_port: int) -> list[tuple[subprocess.Popen, int]]:
    """`n` bench/snmp_responder.py agents serving the MIB recorded from the snmpd on `snmpd_port`."""
    from snmp_responder import record_mib
    mib = work / "mib.json"
    mib.write_text(json.dumps(asyncio.run(record_mib("127.0.0.1", snmpd_port, COMMUNITY))))
    out = []
    for _ in range(n):
        port = free_port()
        p = subprocess.Popen([sys.executable, str(Path(__file__).with_name("snmp_responder.py")), "--mib", str(mib),
                              "--port", str(port), "--community", COMMUNITY, "--v3-user", V3["user"],
                              "--v3-auth", V3["auth"], "--v3-priv", V3["priv"]],
                             stdout=subprocess.DEVNULL, stderr=open(work / "responder.log", "ab"),
                             start_new_session=True)
        out.append((p, port))

    wait_ready(out, "snmp_responder")
    return out


def check_responder(snmpd_port: int, responder_port: int) -> dict:
    """The poller must read the same series, varbinds and requests from the responder as from the snmpd it
    recorded (v2c and v3 authPriv), or the many-device figure would measure a different workload."""
    async def one(port, v3):
        [t] = _targets([port], 1, v3)
        p = Poller([t], timeout=2, retries=1)
        await p.poll_all()  # engine discovery, walk row hints
        [poll] = await p.poll_all()
        if not poll.reachable:
            raise RuntimeError(f"port {port}: {poll.error}")
        # rates left out: the recorded counters stand still, snmpd's move (and may exceed lo's ifSpeed)
        return poll.varbinds, poll.requests, sorted((x.metric, tuple(sorted(x.labels.items()))) for x in poll.samples
                                                    if not x.metric.endswith(("_per_second", "_ratio")))

    async def run():
        out = {}
        for v3 in (False, True):
            a, b = await one(snmpd_port, v3), await one(responder_port, v3)
            if a != b:
                raise RuntimeError(f"snmp_responder differs from snmpd ({'v3' if v3 else 'v2c'}): "
                                   f"varbinds/requests {a[:2]} vs {b[:2]}, series {len(a[2])} vs {len(b[2])}")
            out["v3" if v3 else "v2c"] = {"varbinds": a[0], "requests": a[1], "series": len(a[2])}
        return out

    return asyncio.run(run())


def bench_site() -> dict:
    """Full poll cycle of the simulated site (every SNMP device of the inventory, snmpsim, v3)."""
    import dcops
    from dcops.model import load_inventory
    from dcops.monitor.sim import sim_devices_from_inventory, start_agents
    from dcops.monitor.targets import apply_sim, targets_from_inventory
    inv = load_inventory(dcops.DEFAULT_INVENTORY)
    h = start_agents(sim_devices_from_inventory(inv))
    try:
        targets = apply_sim(targets_from_inventory(inv, resolve=False), h.targets)

        async def run():
            p = Poller(targets, timeout=5)
            await p.poll_all()
            times = []
            for _ in range(3):
                t0 = time.monotonic()
                polls = await p.poll_all()
                times.append(time.monotonic() - t0)
            return {"devices": len(targets), "cycle_s": min(times), "cycle_s_max": max(times),
                    "unreachable": sum(not x.reachable for x in polls)}

        return asyncio.run(run())
    finally:
        h.stop()


def _if_indexes(port: int) -> list[int]:
    async def run():
        vb = await V2cSession("127.0.0.1", port, COMMUNITY, timeout=2).walk(["1.3.6.1.2.1.2.2.1.1"])
        return sorted(int(v) for v in vb.values())
    return asyncio.run(run())


def _figures(res: dict) -> dict:
    """What the README quotes (bench/results/bench_snmp.json): varbinds per CPU-second and the ratio to the
    exporter measured in the same run, per workload, and the 10,000-device cycle times."""
    out: dict = {}
    for ours, theirs, key in (("dcops_get_v2c", "exporter_get_v2c", "get_v2c"),
                              ("dcops_get_v3", "exporter_get_v3", "get_v3"),
                              ("dcops_v2c", "exporter_v2c", "walk_v2c"), ("dcops_v3", "exporter_v3", "walk_v3")):
        r, x = res.get(ours) or {}, res.get(theirs) or {}
        if r.get("varbinds_per_cpu_s") and x.get("varbinds_per_cpu_s"):
            out[f"{key}_vb_per_cpu_s"] = round(r["varbinds_per_cpu_s"])
            out[f"{key}_exporter_vb_per_cpu_s"] = round(x["varbinds_per_cpu_s"])
            out[f"{key}_ratio"] = round(r["varbinds_per_cpu_s"] / x["varbinds_per_cpu_s"], 2)
            out[f"{key}_errors"] = r.get("errors", 0) + x.get("errors", 0)
    for key in ("dcops_v2c_store", "dcops_v2c_pysnmp", "naive_pysnmp_v2c", "dcops_v3_pysnmp"):
        if (res.get(key) or {}).get("varbinds_per_cpu_s"):
            out[f"{key.removeprefix('dcops_')}_vb_per_cpu_s"] = round(res[key]["varbinds_per_cpu_s"])
    for key in ("many_v2c", "many_v3"):
        m = res.get(key)
        if m:
            out[f"{key}_devices"] = m["devices"]
            out[f"{key}_workers"] = m["workers"]
            out[f"{key}_steady_s"] = round(m["steady"]["cycle_wall_s"], 1)
            out[f"{key}_first_s"] = round(m["first"]["cycle_wall_s"], 1)
            # CPU of the poller processes: on a machine shared with other work, the steadier figure
            out[f"{key}_steady_cpu_s"] = round(m["steady"]["poller_cpu_s"], 1)
            # what the agents took of the same 2 cores during that cycle, and what served the devices
            out[f"{key}_steady_agent_cpu_s"] = round(m["steady"]["agent_cpu_s"], 1)
            out[f"{key}_agents"] = f"{m['agent_processes']} {m['agents']}"
            out[f"{key}_load_before"] = m["load_average_before"][0]
            out[f"{key}_unreachable"] = m["steady"]["unreachable"]
    if "site" in res:
        out["site_devices"] = res["site"]["devices"]
        out["site_cycle_s"] = round(res["site"]["cycle_s"], 2)
    if out:
        out["agents"], out["concurrency"], out["phase_s"] = res["agents"], res["concurrency"], res["duration_s"]
        out["load_average_before"] = res["load_average_before"][0]
        out["load_average_after"] = res["load_average_after"][0]
    return out


def _table(res: dict, rows) -> None:
    print(f"{'poller':42} {'varbinds/CPU-s':>15} {'varbinds/s':>11} {'CPU s':>7} {'errors':>7} {'vs exporter':>12}")
    for key, label, anchor_key in rows:
        r = res.get(key)
        if not r or "skipped" in r:
            if r:
                print(f"{label:42} skipped: {r['skipped']}")
            continue
        anchor = res.get(anchor_key, {}).get("varbinds_per_cpu_s")
        ratio = f"{r['varbinds_per_cpu_s'] / anchor:.2f}x" if anchor else "—"
        print(f"{label:42} {r['varbinds_per_cpu_s']:15.0f} {r['varbinds_per_s']:11.0f} {r['cpu_s']:7.2f} "
              f"{r.get('errors', 0):7d} {ratio:>12}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--many-agents", choices=("responder", "snmpd"), default="responder",
                    help="what serves the many-device cycle: bench/snmp_responder.py (default: the cheapest agent, "
                         "so the cycle measures the poller) or the snmpd agents")
    ap.add_argument("--responders", type=int, default=1, help="responder processes for the many-device cycle (one "
                    "busy process costs less CPU per request than several that sleep and wake)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-exporter", action="store_true")
    ap.add_argument("--skip-many", action="store_true")
    ap.add_argument("--skip-site", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-record", action="store_true", help="do not write bench/results/bench_snmp.json "
                                                              "(--quick never does)")
    a = ap.parse_args()
    if a.quick:
        a.duration = 4
    work = Path(tempfile.mkdtemp(prefix="dcops-bench-"))
    agents = start_snmpd(a.agents, work)
    ports = [port for _p, port in agents]
    responders: list = []
    res: dict = {"agents": a.agents, "duration_s": a.duration, "concurrency": a.concurrency,
                 "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    if_indexes = _if_indexes(ports[0])
    get_only = get_workload(if_indexes)
    res["get_oids_per_device"] = len(get_only[0].scalar_oids)
    try:
        if not a.skip_exporter:
            res["exporter_get_v2c"] = bench_exporter(ports, a.duration, a.concurrency, work, False, get_only)
        res["dcops_get_v2c"] = bench_dcops(ports, a.duration, a.concurrency, False, get_only)
        if not a.skip_exporter:
            res["exporter_get_v3"] = bench_exporter(ports, a.duration, a.concurrency, work, True, get_only)
        res["dcops_get_v3"] = bench_dcops(ports, a.duration, a.concurrency, True, get_only)
        if not a.skip_exporter:
            res["exporter_v2c"] = bench_exporter(ports, a.duration, a.concurrency, work, v3=False)
        res["dcops_v2c"] = bench_dcops(ports, a.duration, a.concurrency, v3=False)
        res["dcops_v2c_store"] = bench_dcops(ports, a.duration, a.concurrency, v3=False, store=True)
        os.environ["DCOPS_SNMP_PYSNMP"] = "1"  # same poller (batched, no MIB lookups) on pysnmp's engine
        try:
            res["dcops_v2c_pysnmp"] = bench_dcops(ports, a.duration, a.concurrency, v3=False)
        finally:
            os.environ.pop("DCOPS_SNMP_PYSNMP")
        res["naive_pysnmp_v2c"] = bench_naive_pysnmp(ports, a.duration, a.concurrency)
        if not a.skip_exporter:
            res["exporter_v3"] = bench_exporter(ports, a.duration, a.concurrency, work, v3=True)
        res["dcops_v3"] = bench_dcops(ports, a.duration, a.concurrency, v3=True)
        os.environ["DCOPS_SNMP_PYSNMP"] = "1"  # the same poller on pysnmp's v3 engine, for reference
        try:
            res["dcops_v3_pysnmp"] = bench_dcops(ports, a.duration, a.concurrency, v3=True)
        finally:
            os.environ.pop("DCOPS_SNMP_PYSNMP")
        if not a.skip_many:
            many = agents
            if a.many_agents == "responder":
                many = responders = start_responders(a.responders, work, ports[0])
                res["responder_check"] = check_responder(ports[0], responders[0][1])
                stop([p for p, _ in agents])  # the snmpd agents idle, but leave the machine to the cycle
            many_ports, pids = [port for _p, port in many], [p.pid for p, _ in many]
            kind = "snmp_responder" if a.many_agents == "responder" else "snmpd"
            res["many_v2c"] = bench_many(many_ports, a.devices, a.workers, 256, False, pids, kind)
            res["many_v3"] = bench_many(many_ports, a.devices, a.workers, 256, True, pids, kind)
    finally:
        stop([p for p, _ in agents + responders])
        shutil.rmtree(work, ignore_errors=True)
    if not a.skip_site:
        res["site"] = bench_site()
    res["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    figures = _figures(res)
    if figures and not a.quick and not a.no_record:
        path = record("bench_snmp", figures, notes=(
            f"{a.agents} snmpd agents, {a.concurrency} devices in flight, {a.duration:g} s per phase; exporter and "
            f"poller in the same run, ratios per CPU-second of each process; load average before "
            f"{res['load_average_before'][0]:.1f}, after {res['load_average_after'][0]:.1f} on {os.cpu_count()} CPUs "
            "shared with other work"))
        print(f"figures written to {path}", file=sys.stderr)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"\nSNMP throughput per core (varbinds per CPU-second of the poller), {a.agents} snmpd agents, "
          f"{a.concurrency} concurrent devices, {a.duration:g} s per phase")
    print(f"\n[GET workload: {res['get_oids_per_device']} instance OIDs per device, batched GETs]")
    _table(res, (("exporter_get_v2c", "prometheus-snmp-exporter v2c", "exporter_get_v2c"),
                 ("dcops_get_v2c", "dcops poller v2c", "exporter_get_v2c"),
                 ("exporter_get_v3", "prometheus-snmp-exporter v3", "exporter_get_v3"),
                 ("dcops_get_v3", "dcops poller v3 authPriv", "exporter_get_v3")))
    print("\n[walk workload: if-mib profile, 3 GETs + 11 ifTable/ifXTable columns by GETBULK]")
    _table(res, (("exporter_v2c", "prometheus-snmp-exporter v2c", "exporter_v2c"),
                 ("dcops_v2c", "dcops poller v2c (BER fast path)", "exporter_v2c"),
                 ("dcops_v2c_store", "  same + SQLite history of every cycle", "exporter_v2c"),
                 ("dcops_v2c_pysnmp", "dcops poller v2c on pysnmp", "exporter_v2c"),
                 ("naive_pysnmp_v2c", "naive pysnmp hlapi v2c", "exporter_v2c"),
                 ("exporter_v3", "prometheus-snmp-exporter v3", "exporter_v3"),
                 ("dcops_v3", "dcops poller v3 authPriv (USM fast path)", "exporter_v3"),
                 ("dcops_v3_pysnmp", "dcops poller v3 authPriv on pysnmp", "exporter_v3")))
    for key in ("many_v2c", "many_v3"):
        if key in res:
            m = res[key]
            f, s_ = m["first"], m["steady"]
            print(f"\n{m['devices']} simulated devices, {'SNMPv3 authPriv' if m['v3'] else 'v2c'} (if-mib profile, "
                  f"{m['agent_processes']} {m['agents']} agents), {m['workers']} poller processes: steady cycle "
                  f"{s_['cycle_wall_s']:.1f} s wall (target ≤ 20 s), poller CPU {s_['poller_cpu_s']:.1f} s, agent CPU "
                  f"{s_['agent_cpu_s']:.1f} s, unreachable {s_['unreachable']}; first cycle (with discovery) "
                  f"{f['cycle_wall_s']:.1f} s; load average {m['load_average_before'][0]:.1f} before")
    if "site" in res:
        s = res["site"]
        print(f"site: {s['devices']} devices (snmpsim, SNMPv3 authPriv) full poll cycle {s['cycle_s']:.2f} s "
              f"(max {s['cycle_s_max']:.2f} s), unreachable {s['unreachable']}")


if __name__ == "__main__":
    main()
