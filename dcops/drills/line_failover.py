"""Drill b: fail one leased line, keep the service reachable over the other, measure the outage.

The playbook fails the line on the link balancer (far-end drop by default: carrier stays
up, the balancer's health checks must notice) with an automatic restore armed, while a
probe host opens a new TCP connection to an outside service every 100 ms. The outage is
the span of failed probes after the failure; the balancer must carry the service over the
other line during the failure and both lines again afterwards.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path

from dcops.model import Inventory

from .core import DrillContext, DrillRefused
from .record import Measurement, parse_time

PLAYBOOK = "drills/leased-line-failover.yml"
LAB_INTERNET_HOST = "198.18.0.10"  # RFC 2544 benchmark range: lab-only, never in the inventory


def _lb(inv: Inventory, options: dict) -> str:
    given = list(options.get("targets") or [])
    if len(given) > 1:
        raise DrillRefused(f"leased-line-failover drills one link balancer at a time, not {', '.join(given)}")
    if given and options.get("lb") and options["lb"] != given[0]:
        raise DrillRefused(f"-t {given[0]} and -o lb={options['lb']} name different devices")
    name = options.get("lb") or (given[0] if given else None)
    lbs = [d.name for d in inv.network_devices if d.kind.value == "link_balancer"]
    if name and name not in lbs:
        # never fall back to another device: drilling something the operator did not name is worse than nothing
        raise DrillRefused(f"{name} is not a link balancer in the inventory "
                           f"(link balancers: {', '.join(lbs) or 'none'})")
    name = name or next((d for d in lbs if inv.device(d).drill_enabled), lbs[0] if lbs else None)
    if not name:
        raise DrillRefused("the inventory has no link balancer")
    if len([ln for ln in inv.leased_lines if ln.device == name]) < 2:
        raise DrillRefused(f"{name} has fewer than two leased lines")
    return name


def _probe_host(inv: Inventory, options: dict) -> str:
    name = options.get("probe_host")
    if name:
        inv.vm(name)
        return name
    vm = next((v for v in inv.vms if v.drill_enabled and v.zone == "dmz"), None)
    if vm is None:
        raise DrillRefused("no drill-enabled DMZ VM to probe from; pass -o probe_host=NAME")
    return vm.name


def targets(inv: Inventory, options: dict) -> list[str]:
    return [_lb(inv, options)]


def build_lab(dl, inv: Inventory, names: list[str], options: dict) -> None:
    """lb with two lines to isp1/isp2, an internet host behind both, a probe host behind lb."""
    lb = names[0]
    lines = [ln for ln in inv.leased_lines if ln.device == lb]
    lab = dl.lab
    dl.target(lb, "lb", forwarding=True)
    dl.target(_probe_host(inv, options), "web")
    lab.host("inet")
    lab.exec("inet", ["ip", "addr", "add", f"{LAB_INTERNET_HOST}/32", "dev", "lo"])
    for n, ln in enumerate(lines, start=1):
        isp = f"isp{n}"
        lab.host(isp, forwarding=True)
        plen = ln.address.network.prefixlen
        lab.link("lb", ln.interface, isp, "down0", addr_a=str(ln.address), addr_b=f"{ln.peer}/{plen}")
        lab.link(isp, "up0", "inet", f"up{n}", addr_a=f"100.64.{n}.1/30", addr_b=f"100.64.{n}.2/30")
        lab.route(isp, f"{LAB_INTERNET_HOST}/32", "via", f"100.64.{n}.2")
        lab.route("inet", str(ln.address.network), "via", f"100.64.{n}.1")
        lab.sysctl(isp, "net.ipv4.conf.all.rp_filter", "0")
    lan = inv.device(lb).interfaces[0]
    lab.link("lb", lan.name, "web", "eth1", addr_a=str(lan.address),
             addr_b=f"{lan.address.network.network_address + 10}/{lan.address.network.prefixlen}")
    lab.route("web", "default", "via", str(lan.address.ip))
    lab.sysctl("lb", "net.ipv4.conf.all.rp_filter", "0")
    lab.sysctl("lb", "net.ipv4.fib_multipath_hash_policy", "1")
    lab.nft("lb", "table ip dcops_nat {\n chain post {\n  type nat hook postrouting priority srcnat; policy accept;\n"
            + "".join(f'  oifname "{ln.interface}" masquerade\n' for ln in lines) + " }\n}\n")
    # The link balancer's own health checker (the program the linux platform deploys), run as a
    # process: the drill exercises the real failover logic, not a stand-in.
    cfg = lab.workdir / "lbcheck.json"
    # dead_after_ms: how long the far end may be silent before the checker drops the line (a lab option so a
    # test can widen the window in which probes still hash onto the dead line)
    dead_ms = int(options.get("lb_dead_after_ms", 300))
    cfg.write_text(json.dumps({"device": lb, "interval_ms": 100, "dead_after_ms": dead_ms, "recover_after": 5,
                               "lines": [{"name": ln.name, "interface": ln.interface, "address": str(ln.address.ip),
                                          "gateway": str(ln.peer), "weight": ln.bandwidth_mbps, "table": 101 + i}
                                         for i, ln in enumerate(lines)]}))
    lab.spawn("lb", [sys.executable, "-m", "dcops.net.lbcheck", "--config", str(cfg),
                     "--state", str(lab.workdir / "lbcheck-state.json")], what="lbcheck")
    lab.tcp_server("inet", [80])
    options.setdefault("probe_target", f"{LAB_INTERNET_HOST}:80")
    options.setdefault("probe_http", True)  # the lab service answers with the client address (= the line's NAT)


DEFAULT_SLOW_MS = 250.0  # a new TCP connection to a provincial service normally takes well under 50 ms


def analyse(probes: list[dict], marks: dict, lines: list, max_outage_s: float,
            slow_ms: float = DEFAULT_SLOW_MS) -> dict:
    """Outage and per-phase reachability from the probe log and the playbook's marks.

    A probe counts against the service when it failed *or* took longer than `slow_ms`: a
    handshake that only succeeds after a SYN retransmission is an outage to its user."""
    t_fail = parse_time(marks["line_failed"]).timestamp()
    # the window ends when the restore *starts*: from then on the failed line may carry traffic again
    # after a fault mid-drill some marks are missing: measure up to the end of the probe log
    last = max((p["t"] for p in probes), default=t_fail)
    end = marks.get("line_restoring") or marks.get("line_restored")
    t_restore = parse_time(end).timestamp() if end else last
    back = marks.get("both_lines_back") or marks.get("line_restored")
    t_back = parse_time(back).timestamp() if back else last + 1
    by_addr = {str(ln.address.ip): ln.name for ln in lines}

    def line_of(p):
        parts = (p.get("reply") or "").split()
        return by_addr.get(parts[-1]) if parts else None

    before = [p for p in probes if p["t"] < t_fail]
    during = [p for p in probes if t_fail <= p["t"] < t_restore]
    after = [p for p in probes if p["t"] >= t_back]
    window = [p for p in probes if t_fail - 0.5 <= p["t"] <= t_restore + 5]
    slow = [p for p in window if p["ok"] and p["ms"] > slow_ms]
    failed = [p for p in window if not p["ok"] or p["ms"] > slow_ms]
    outage = 0.0
    if failed:
        outage = max(p["t"] + p["ms"] / 1000 for p in failed) - min(p["t"] for p in failed)
    tail = [p for p in during if p["t"] >= t_restore - 1.0]
    # after the outage, until the restore: the service must be carried by the other line(s) alone
    settled = max((p["t"] + p["ms"] / 1000 for p in failed), default=t_fail + 1.0)
    carried = [p for p in during if p["t"] > settled]
    return {
        "outage_s": round(outage, 3), "failed_probes": len(failed) - len(slow), "slow_probes": len(slow),
        "slow_ms": slow_ms, "probes": len(probes),
        "before_ok": bool(before) and all(p["ok"] for p in before),
        "during_ok_tail": bool(tail) and all(p["ok"] for p in tail),
        "during_lines": sorted({line_of(p) for p in carried if p["ok"] and line_of(p)}),
        "after_ok": bool(after) and all(p["ok"] for p in after),
        "after_lines": sorted({line_of(p) for p in after if p["ok"] and line_of(p)}),
        "max_outage_s": max_outage_s,
    }


def run(ctx: DrillContext) -> None:
    inv, r = ctx.inv, ctx.record
    lb = r.targets[0]["name"]
    lines = [ln for ln in inv.leased_lines if ln.device == lb]
    probe = _probe_host(inv, ctx.options)
    fail_name = ctx.options.get("line") or lines[0].name
    if fail_name not in {ln.name for ln in lines}:
        raise DrillRefused(f"{lb} has no leased line {fail_name!r}")
    max_outage = float(ctx.options.get("max_outage_s", 30))
    slow_ms = float(ctx.options.get("slow_ms", DEFAULT_SLOW_MS))
    revert_s = int(ctx.options.get("revert_after_s", 120))
    out = Path(tempfile.mkdtemp(prefix="dcops-line-"))
    try:
        pb = ctx.playbook(PLAYBOOK, {
            "drill_lb": lb, "drill_probe_host": probe, "drill_line_failover_line_name": fail_name,
            "drill_line_failover_fault": ctx.options.get("fault", "far-end"),
            "drill_line_failover_probe_target": ctx.options.get("probe_target", ""),
            "drill_line_failover_probe_http": str(ctx.options.get("probe_http", "false")).lower() in ("1", "true", "yes"),
            "drill_line_failover_hold_s": int(ctx.options.get("hold_s", 6)),
            "drill_line_failover_pre_s": int(ctx.options.get("pre_s", 2)),
            "drill_line_failover_post_s": int(ctx.options.get("post_s", 4)),
            "drill_line_failover_output_dir": str(out),
            "drill_line_failover_revert_after_s": revert_s,
            "drill_line_failover_back_retries": int(ctx.options.get("back_wait_s", 80)),
        })
        if not ctx.execute:
            return
        marks = pb.custom.get("drill_marks", {}).get(lb, {})
        report = pb.custom.get("drill_lines", {}).get(lb, {})
        for key, what in (("line_failed", f"line {fail_name} failed ({ctx.options.get('fault', 'far-end')})"),
                          ("failover_done", "link balancer dropped the line from the default route"),
                          ("line_restored", f"restore command sent for line {fail_name} (not yet verified)"),
                          ("both_lines_back", "both lines back in the default route (verified)")):
            if key in marks:
                r.event(what, host=lb, at=marks[key])
        _line_state(ctx, lb, fail_name, marks, revert_s)
        log = out / f"{probe}-probe.jsonl"
        if log.exists():
            ctx.artefact("probes.jsonl", log, f"probe log from {probe}: one TCP connection per line")
        if not (log.exists() and "line_failed" in marks):
            if pb.ok:
                r.finding("error", "the playbook ran but left no probe log or marks to measure")
            return
        if not pb.ok:
            r.finding("error", "the drill failed after the line was failed: the figures below cover the probe "
                      "log up to the failure")
        probes = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        a = analyse(probes, marks, lines, max_outage, slow_ms)
        r.details["failover"] = {**a, "line": fail_name, "probe_host": probe, "route": report}
        r.measurements.append(Measurement("outage", a["outage_s"], "s", fail_name, max_outage,
                                          a["outage_s"] <= max_outage,
                                          f"{a['failed_probes']} of {a['probes']} probes failed, {a['slow_probes']} "
                                          f"slower than {slow_ms:g} ms (counted as outage)",
                                          scale="lab namespaces, lab link balancer" if not ctx.production else ""))
        others = [ln.name for ln in lines if ln.name != fail_name]
        r.check("service reachable before the failure", a["before_ok"], host=probe)
        r.check("service reachable over the other line during the failure",
                a["during_ok_tail"] and (not a["during_lines"] or set(a["during_lines"]) <= set(others)),
                f"lines seen: {', '.join(a['during_lines']) or 'n/a'}", host=probe)
        r.check("service reachable after the restore", a["after_ok"], host=probe)
        tx0, tx1 = report.get("tx_before") or [], report.get("tx_after") or []
        moved = {i: int(b) - int(a_) for i, a_, b in zip(report.get("interfaces", []), tx0, tx1)}
        both = all(v > 0 for v in moved.values()) and len(moved) == len(lines)
        if a["after_lines"]:
            both = both and len(a["after_lines"]) == len(lines)
        r.check("both lines carry traffic again", both,
                f"packets sent per line after the restore: {moved}; lines seen by the service: "
                f"{', '.join(a['after_lines']) or 'n/a'}", host=lb)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _line_state(ctx: DrillContext, lb: str, line: str, marks: dict, revert_s: int) -> None:
    """The line's state after the drill, from what was verified — never "restored" on a command alone."""
    r = ctx.record
    if "both_lines_back" in marks:
        r.state("leased line", f"{line} back in the default route (verified)", host=lb)
    elif "line_failed" in marks:
        deadline = parse_time(marks["line_failed"]) + dt.timedelta(seconds=revert_s)
        sent = f"restore command sent at {marks['line_restored']}, " if "line_restored" in marks else ""
        r.state("leased line", f"{line} STILL DOWN or unverified: {sent}not back in the default route",
                host=lb, ok=False, revert_deadline=deadline.isoformat(),
                detail=f"the device's automatic restore fires at {deadline.isoformat()} unless it was disarmed; "
                       "check the route and the line before closing the drill")
    else:
        r.state("leased line", f"{line} not failed (the drill stopped before the fault)", host=lb)
