#!/usr/bin/env python3
"""Network pipeline benchmarks, against the issue's targets.

    python bench/bench_net.py                  # all three
    python bench/bench_net.py --only render    # render | push | failover

render    time to render each configured device of the shipped inventory (+ the lab stand-in);
          target < 1 s per device.
push      a full transaction (connect, backup, lock+load, diff, commit-confirm, verify over a fresh
          session, confirm, backup of the confirmed config) to 1 lab firewall, then to 10 in parallel; target: 10 < 3x one.
          Real sshd + nftables in network namespaces (needs root).
failover  the link balancer losing leased line 1 at the far end (no carrier loss seen locally):
          gap in new connections, and the health checker's detection time; target < 1 s.

Wall-clock figures; the machine is shared, so each is the median of --repeat runs.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcops.model import load_inventory  # noqa: E402
from dcops.net import fleet, render  # noqa: E402

from _results import record  # noqa: E402  (bench/_results.py, beside this script)

TARGETS = {"render_s": 1.0, "push_ratio": 3.0, "failover_s": 1.0}


def line(label: str, value: float, unit: str, target: float, better: str = "lower") -> str:
    ratio = value / target
    ok = ratio < 1 if better == "lower" else ratio > 1
    return f"  {label:<34} {value:>9.3f} {unit:<3}  target < {target:g} {unit:<3}  ratio {ratio:5.2f}  {'OK' if ok else 'MISSED'}"


def bench_render(repeat: int) -> dict:
    inv = load_inventory()
    print("render (per device, Jinja2 + aerleon; context built once per run)")
    times: dict[str, list[float]] = {}
    ctx_times = []
    for _ in range(repeat):
        t = time.perf_counter()
        ctx = render.RenderContext.build(inv)
        ctx_times.append(time.perf_counter() - t)
        for d in render.configured_devices(inv):
            t = time.perf_counter()
            render.render_device(ctx, d)
            times.setdefault(d.name, []).append(time.perf_counter() - t)
        fw, topo = fleet.stand_in(inv)
        c2 = render.RenderContext.build(inv, topology=topo)
        t = time.perf_counter()
        render.render_device(c2, fw)
        times.setdefault(fw.name, []).append(time.perf_counter() - t)
    from dcops.net import lint
    lint_times = []
    for _ in range(repeat):
        t = time.perf_counter()
        lint.lint(inv)
        lint_times.append(time.perf_counter() - t)
    out = {k: statistics.median(v) for k, v in times.items()}
    print(line("context (policy, objects, topology)", statistics.median(ctx_times), "s", TARGETS["render_s"]))
    print(line("lint gate (whole policy, once)", statistics.median(lint_times), "s", TARGETS["render_s"]))
    for k, v in out.items():
        print(line(k, v, "s", TARGETS["render_s"]))
    total = statistics.median(ctx_times) + statistics.median(lint_times) + sum(out.values())
    print(f"  {'whole fleet (cold context)':<34} {total:>9.3f} s")
    return {"per_device_s": out, "context_s": statistics.median(ctx_times), "lint_s": statistics.median(lint_times),
            "fleet_s": total}


def _children_cpu(pids: list[int]) -> float:
    """CPU seconds of reaped children of these processes (sshd listeners → sessions, shells, nft)."""
    import os
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(f[13]) + int(f[14])  # cutime + cstime
    return total / tick


def _fw_lab(lab, n: int):
    """A management namespace wired to n firewall namespaces, each with its own sshd."""
    from dcops.net.connect import Endpoint
    lab.host("op")
    eps = []
    for i in range(n):
        short = f"fw{i}"
        lab.host(short, forwarding=True)
        # inside the management zone (10.10.0.0/23): the rendered ruleset only admits SSH from there
        lab.link("op", f"m{i}", short, "mgmt0", addr_a=f"10.10.1.{4 * i + 2}/30", addr_b=f"10.10.1.{4 * i + 1}/30")
        ep = lab.start_sshd(short, address=f"10.10.1.{4 * i + 1}", private_dirs=["/var/lib/dcops"])
        eps.append(Endpoint(ep.address, "root", 22, str(ep.key), None, lab.ns("op"), host_key_check=False))
        listeners.append(ep.pid)
    return eps


listeners: list[int] = []


def bench_push(repeat: int) -> dict:
    from dcops.lab import Lab
    from dcops.net.push import Pusher, Target
    inv = load_inventory()
    fw, topo = fleet.stand_in(inv)
    base = render.render_device(render.RenderContext.build(inv, topology=topo), fw).config
    # two different, realistic rulesets so every push has a diff to commit
    variants = [base, base.replace('"SNMP from management"', '"SNMP from the NOC"')]
    print(f"push (full transaction, {len(base.splitlines())}-line nftables ruleset, real sshd per namespace)")
    with Lab(f"dcnb{secrets.token_hex(2)}-") as lab:
        eps = _fw_lab(lab, 10)
        backups = Path(tempfile.mkdtemp(prefix="dcops-bench-backups-"))
        k = 0

        cpu: dict[int, list[tuple[float, float]]] = {1: [], 10: []}

        def run(n: int) -> float:
            nonlocal k
            k += 1
            targets = [Target(f"fw{i}", "linux", variants[k % 2], eps[i], "nft") for i in range(n)]
            d0, c0 = _children_cpu(listeners), time.process_time()
            t = time.perf_counter()
            rep = Pusher(backups, commit=True, confirm_timeout=60, connect_timeout=10).run(targets)
            wall = time.perf_counter() - t
            time.sleep(0.3)  # let the listeners reap their session processes
            cpu.setdefault(n, []).append((_children_cpu(listeners) - d0, time.process_time() - c0))
            if not rep.ok:
                raise SystemExit(f"push failed: {rep.summary()}")
            return wall
        run(10)  # warm-up: first commit on every device, from the empty ruleset
        one = statistics.median(run(1) for _ in range(repeat))
        ten = statistics.median(run(10) for _ in range(repeat))
    import os
    dev1 = statistics.median(c[0] for c in cpu[1])
    cli1 = statistics.median(c[1] for c in cpu[1])
    dev10 = statistics.median(c[0] for c in cpu[10])
    cli10 = statistics.median(c[1] for c in cpu[10])
    print(f"  {'1 device':<34} {one:>9.3f} s   (CPU: devices {dev1:.2f} s, pusher {cli1:.2f} s)")
    print(f"  {'10 devices in parallel':<34} {ten:>9.3f} s   (CPU: devices {dev10:.2f} s, pusher {cli10:.2f} s)")
    print(line("10 parallel / 1 (ratio)", ten / one, "x", TARGETS["push_ratio"]))
    print(f"  machine: {os.cpu_count()} CPUs shared by all ten 'devices' and the pusher; "
          f"load average {os.getloadavg()[0]:.1f}")
    return {"one_s": one, "ten_s": ten, "ratio": ten / one, "device_cpu_one_s": dev1, "device_cpu_ten_s": dev10,
            "pusher_cpu_one_s": cli1, "pusher_cpu_ten_s": cli10, "loadavg": os.getloadavg()[0]}


def bench_failover(repeat: int) -> dict:
    from dcops.lab import Lab, state
    from dcops.lab.cli import _start_lbcheck
    from dcops.lab.datacentre import build, spec_from_inventory
    from dcops.lab.prober import outage
    from dcops.net.push import Pusher
    inv = load_inventory()
    print("leased-line failover (far-end failure, new connections every 10 ms through the firewall and lb)")
    gaps, detections = [], []
    with Lab(f"dcnf{secrets.token_hex(2)}-") as lab:
        spec = spec_from_inventory(inv)
        meta = build(lab, spec)
        meta["lbcheck"] = _start_lbcheck(lab, inv, spec.lb_name)
        with state.edit(lab.name) as st:
            st["meta"].update(meta)
        targets = [fleet.target(m) for m in fleet.members(inv, lab=lab.name)]
        rep = Pusher(Path(tempfile.mkdtemp(prefix="dcops-bench-backups-")), commit=True).run(targets)
        if not rep.ok:
            raise SystemExit(f"push failed: {rep.summary()}")
        st_file = Path(meta["lbcheck"]["state"])
        z = next(z for z in spec.zones if z.zone == "app")
        mirror_nets = [ipaddress.ip_network(n) for n in fleet.render.objects.load(inv).networks["SYS_HA_TANG_APP"]]
        src = next(a.split("/")[0] for a in z.addresses if any(ipaddress.ip_address(a.split("/")[0]) in n for n in mirror_nets))
        line1 = spec.lines[0]
        for i in range(repeat):
            out = lab.workdir / f"prober{i}.json"
            pid = lab.spawn("app", [sys.executable, "-m", "dcops.lab.prober", "--target", f"{spec.internet_host}:80",
                                    "--duration", "3", "--source", src, "--out", str(out)], what="prober")
            time.sleep(1.0)
            cut = time.time()
            lab.cut_link(line1.isp, "down0")
            while not out.exists():
                time.sleep(0.1)
            records = json.loads(out.read_text())
            gaps.append(outage(records, cut))
            tr = json.loads(st_file.read_text())["lines"][line1.name]["transitions"]
            detections.append(tr[-1]["at"] - cut)
            lab.restore_link(line1.isp, "down0")
            lab.stop(pid)
            while not json.loads(st_file.read_text())["lines"][line1.name]["up"]:
                time.sleep(0.1)
            time.sleep(0.5)
    gap, det = statistics.median(gaps), statistics.median(detections)
    print(line("new-connection outage (median)", gap, "s", TARGETS["failover_s"]))
    print(line("health-check detection (median)", det, "s", TARGETS["failover_s"]))
    print(f"  runs: outage {', '.join(f'{g * 1000:.0f}' for g in gaps)} ms; "
          f"detection {', '.join(f'{d * 1000:.0f}' for d in detections)} ms")
    return {"outage_s": gap, "detection_s": det, "runs": gaps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("render", "push", "failover"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = {}
    if a.only in (None, "render"):
        results["render"] = bench_render(a.repeat)
    if a.only in (None, "push"):
        results["push"] = bench_push(max(3, a.repeat // 2))
    if a.only in (None, "failover"):
        results["failover"] = bench_failover(a.repeat)
    if a.json:
        print(json.dumps(results, indent=1))
    if a.only is None:  # the README's figures come from here (dcops docs refresh)
        r, push, fo = results["render"], results["push"], results["failover"]
        path = record("bench_net", {
            "render_min_s": round(min(r["per_device_s"].values()), 3),
            "render_max_s": round(max(r["per_device_s"].values()), 3), "lint_s": round(r["lint_s"], 3),
            "push_one_s": round(push["one_s"], 3), "push_ten_s": round(push["ten_s"], 3),
            "push_ratio": round(push["ratio"], 2), "failover_outage_s": round(fo["outage_s"], 3),
            "failover_detection_s": round(fo["detection_s"], 3)},
            notes=f"lab namespaces on this machine (not production evidence); medians of {a.repeat} runs")
        print(f"figures written to {path}")


if __name__ == "__main__":
    main()
