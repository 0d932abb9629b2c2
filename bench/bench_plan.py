#!/usr/bin/env python3
"""Benchmark `dcops plan`: the shipped site and a generated inventory N times its size.

    python bench/bench_plan.py                 # site + 10x, best of --repeat runs
    python bench/bench_plan.py --shortcuts     # + the mock-runtime shortcuts one by one (site)
    python bench/bench_plan.py --profile       # + top of a cProfile of the stock mock runtime

Prints wall and CPU seconds (the machine is shared: CPU time is the steadier figure),
resources per second and the ratio to the issue's targets (< 3 s site, < 20 s for 10x).
The 10x inventory is generated into a temporary folder (dcops.cloud.scale) and removed.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcops.cloud.offline import SHORTCUTS  # noqa: E402
from dcops.cloud.runner import make_plan  # noqa: E402
from dcops.cloud.scale import generate  # noqa: E402
from dcops.model import load_inventory  # noqa: E402

from _results import record  # noqa: E402  (bench/_results.py, beside this script)

TARGETS = {"site": 3.0, "10x": 20.0}
#: order in which the shortcuts were tried (each row adds one)
ORDER = ("inline-rpc", "no-stack-trace", "quiet-engine", "lazy-outputs", "skip-none-inputs", "no-input-echo",
         "no-gc-during-run", "no-mock-urn")


def timed(label: str, repeat: int, **kw) -> dict:
    best = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        run = make_plan("prod", **kw)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if best is None or wall < best["wall"]:
            best = {"label": label, "wall": wall, "cpu": cpu, "timings": run.timings, "plan": run.plan,
                    "resources": run.plan["summary"]["resources"],
                    "registrations": run.plan["summary"]["resources"] + run.plan["summary"]["components"],
                    "findings": len(run.plan["findings"])}
    return best


def row(r: dict, target: float | None = None) -> str:
    t = r["timings"]
    s = (f"{r['label']:<26} {r['resources']:>6} res  {r['wall']:6.2f} s wall  {r['cpu']:6.2f} s CPU  "
         f"{r['resources'] / r['wall']:7.0f} res/s   (load {t.get('load', 0):.2f} · mock run {t.get('run', 0):.2f} · "
         f"plan+checks {t.get('check', 0):.2f})")
    if target:
        s += f"   target < {target:.0f} s  ratio {r['wall'] / target:.2f} {'OK' if r['wall'] < target else 'MISSED'}"
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs (default 2)")
    ap.add_argument("--shortcuts", action="store_true", help="measure the mock-runtime shortcuts one by one")
    ap.add_argument("--profile", action="store_true", help="cProfile the stock mock runtime on the site")
    a = ap.parse_args()

    inv = load_inventory()
    print("dcops plan benchmark — offline (pulumi mocks), best of", a.repeat)
    site = timed("site (shipped)", a.repeat, inv=inv)
    print(row(site, TARGETS["site"]))
    with tempfile.TemporaryDirectory(prefix="dcops-bench-plan-") as tmp:
        t = time.perf_counter()
        inv_dir, policy = generate(tmp, a.factor)
        big_inv = load_inventory(inv_dir)
        print(f"  ({a.factor}x inventory generated and validated in {time.perf_counter() - t:.1f} s: "
              f"{len(big_inv.vms)} VMs, {len(big_inv.hosts)} hosts, {len(big_inv.tenants)} tenants)")
        big = timed(f"{a.factor}x (generated)", a.repeat, inv=big_inv, policy=policy)
        print(row(big, TARGETS["10x"] if a.factor == 10 else None))
    per_res = lambda r: 1000 * r["timings"]["run"] / r["registrations"]  # noqa: E731
    ratio = per_res(big) / per_res(site)
    print(f"  mock run per registration: site {per_res(site):.2f} ms, {a.factor}x {per_res(big):.2f} ms "
          f"(ratio {ratio:.2f}{': linear' if ratio < 1.3 else ': check the load average, CPU time is the steadier'})")
    print(f"  load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    for r in (site, big):
        if r["findings"]:
            print(f"  warning: {r['label']} plan has {r['findings']} policy finding(s)")
    if a.factor == 10:
        path = record("bench_plan", {
            "site_resources": site["resources"], "site_s": round(site["wall"], 3),
            "site_cpu_s": round(site["cpu"], 3), "x10_resources": big["resources"],
            "x10_s": round(big["wall"], 3), "x10_cpu_s": round(big["cpu"], 3),
            "target_site_s": TARGETS["site"], "target_x10_s": TARGETS["10x"]},
            notes=f"offline plan under Pulumi mocks, best of {a.repeat}; x10 = generated inventory ten times "
                  f"the site")
        print(f"  figures written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")

    if a.shortcuts:
        print("\nMock-runtime shortcuts, cumulative (site; stock = pulumi.runtime.set_mocks as shipped):")
        stock = timed("stock mock runtime", a.repeat, inv=inv, fast=False)
        print(row(stock))
        on: set[str] = set()
        for name in ORDER:
            on.add(name)
            r = timed(f"+ {name}", a.repeat, inv=inv, fast=frozenset(on))
            print(row(r) + f"   x{stock['wall'] / r['wall']:.2f} vs stock")
        for name in ORDER:
            print(f"  {name:<18} {SHORTCUTS[name]}")

    if a.profile:
        print("\nProfile of the stock mock runtime (site), top 25 by own time:")
        prof = cProfile.Profile()
        prof.enable()
        make_plan("prod", inv=inv, fast=False)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        print("\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:6000])

    # The plan diff (blast radius: classification and replacement propagation) on the 10x plans:
    # an AZ move of every instance of the first tenant, the worst common case for propagation.
    import copy

    from dcops.cloud import diff as plandiff

    old = big["plan"]
    new = copy.deepcopy(old)
    first = next(r["tenant"] for r in new["resources"] if r["kind"] == "compute.Instance")
    moved = 0
    for r in new["resources"]:
        if r["kind"] == "compute.Instance" and r["tenant"] == first:
            r["inputs"]["availabilityZone"] = "az-elsewhere"
            moved += 1
    t, c = time.perf_counter(), time.process_time()
    d = plandiff.diff(old, new)
    text = plandiff.render_text(d)
    print(f"diff {a.factor}x ({len(old['resources'])} resources, {moved} instances moved AZ -> "
          f"{sum(1 for x in d['changed'] if x['action'] == 'replace')} replacements): "
          f"{time.perf_counter() - t:.2f} s wall, {time.process_time() - c:.2f} s CPU, {len(text):,} chars of text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
