"""Drill c: UPS power loss — shutdown order from the inventory within the battery budget.

Least critical first: VMs by security level (Decree 85) ascending; HA groups keep one
member up until everything less critical is down, and groups of level >= 3 keep one member
until the very last VM wave; then hypervisors, backup, storage and control hosts. The
battery budget is the UPS's remaining runtime (SNMP upsEstimatedMinutesRemaining from an
agent address, else the inventory's battery_runtime_min) minus a reserve. Power-on is the
reverse order. Without --execute the drill only prints the plan.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from dcops.model import Inventory
# the planner lives with the model: validate and capacity check the same plan the drill executes
from dcops.model.power import PowerPlan, Wave, plan, render, server_room_ups, timings  # noqa: F401

from .core import DrillContext, DrillRefused
from .record import Measurement, parse_time

PLAYBOOK = "drills/ups-power-loss.yml"
UPS_MIB = {  # RFC 1628 UPS-MIB
    "runtime_min": "1.3.6.1.2.1.33.1.2.3.0",  # upsEstimatedMinutesRemaining
    "seconds_on_battery": "1.3.6.1.2.1.33.1.2.2.0",  # upsSecondsOnBattery
    "output_source": "1.3.6.1.2.1.33.1.4.1.0",  # upsOutputSource: 3 normal, 5 battery
}


def pick_ups(inv: Inventory, name: str | None = None) -> str:
    upses = [f for f in inv.facility if f.kind.value == "ups"]
    if name:
        if name not in {u.name for u in upses}:
            raise DrillRefused(f"{name} is not a UPS in the inventory")
        return name
    if not upses:
        raise DrillRefused("the inventory has no UPS")
    return server_room_ups(inv)


async def _snmp_get(host: str, port: int, community: str, oids: list[str]) -> dict[str, int]:
    from pysnmp.hlapi.v3arch.asyncio import (CommunityData, ContextData, ObjectIdentity, ObjectType, SnmpEngine,
                                             UdpTransportTarget, get_cmd)
    engine = SnmpEngine()
    try:
        target = await UdpTransportTarget.create((host, port), timeout=2, retries=1)
        err, status, _, binds = await get_cmd(engine, CommunityData(community, mpModel=1), target, ContextData(),
                                              *(ObjectType(ObjectIdentity(o)) for o in oids))
        if err or status:
            raise RuntimeError(str(err or status.prettyPrint()))
        return {str(n): int(v) for n, v in binds}
    finally:
        engine.close_dispatcher()


def read_ups(agent: str, community: str) -> dict:
    """Runtime, time on battery and output source from a (simulated) UPS over SNMP v2c."""
    host, _, port = agent.rpartition(":")
    if not host:
        host, port = agent, "161"
    values = asyncio.run(_snmp_get(host, int(port), community, list(UPS_MIB.values())))
    by_oid = {v: k for k, v in UPS_MIB.items()}
    return {by_oid[o]: v for o, v in values.items() if o in by_oid}


def targets(inv: Inventory, options: dict) -> list[str]:
    """What the drill acts on: the given names, else every drill-enabled VM and host, in plan order."""
    names = list(options.get("targets") or [])
    if not names:
        names = [v.name for v in inv.vms if v.drill_enabled] + [h.name for h in inv.hosts if h.drill_enabled]
    known = {v.name for v in inv.vms} | {h.name for h in inv.hosts}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DrillRefused(f"not VMs or hosts of the inventory: {', '.join(unknown)}")
    return names


def _runtime(inv: Inventory, ups: str, options: dict, record) -> tuple[float, str]:
    agent = options.get("ups_agent")
    if agent:
        community = options.get("ups_community") or "public"
        v = read_ups(agent, community)
        record.details["ups_snmp"] = v
        on_battery = v.get("output_source") == 5
        record.event("UPS read over SNMP", detail=f"{agent}: {v}")
        if not on_battery:
            record.finding("warning", f"UPS {ups} reports output source {v.get('output_source')} (5 = battery): "
                           "the drill simulates the power loss")
        return float(v["runtime_min"]), f"SNMP {agent} upsEstimatedMinutesRemaining"
    return float(inv.facility_device(ups).battery_runtime_min), "inventory battery_runtime_min"


def _waves_for(p_waves: list[Wave], names: set[str]) -> tuple[list[str], list[int], dict[str, str]]:
    order, sizes, wave_of = [], [], {}
    for w in p_waves:
        members = [m for m in w.members if m in names]
        if members:
            order += members
            sizes.append(len(members))
            for m in members:
                wave_of[m] = w.name
    return order, sizes, wave_of


def run(ctx: DrillContext) -> None:
    inv, r = ctx.inv, ctx.record
    ups = pick_ups(inv, ctx.options.get("ups"))
    runtime, source = _runtime(inv, ups, ctx.options, r)
    p = plan(inv, ups, runtime, source)
    r.details["plan"] = p.to_dict()
    r.details["plan_text"] = render(p)
    r.mode = "execute" if ctx.execute else "plan"
    r.event("shutdown plan computed", detail=f"{len(p.shutdown)} waves, ends at {p.end_s:.0f} s of {p.budget_s:.0f} s")
    r.measurements.append(Measurement("planned_shutdown_duration", p.end_s, "s", ups, p.budget_s, p.fits,
                                      f"battery {runtime:g} min ({source}) minus reserve", measured_in="model"))
    if not p.fits:
        late = [w.name for w in p.shutdown if not w.within_budget]
        r.finding("error", f"the shutdown plan does not fit the battery budget: {', '.join(late)} end too late")
    for prop, ok in _plan_properties(inv, p).items():
        r.check(f"plan: {prop}", ok)
    names = {t["name"] for t in r.targets}
    sd_order, sd_sizes, wave_of = _waves_for(p.shutdown, names)
    on_order, on_sizes, _ = _waves_for(p.power_on, names)
    extravars = {"drill_ups_shutdown_order": sd_order, "drill_ups_shutdown_waves": sd_sizes,
                 "drill_ups_poweron_order": on_order, "drill_ups_poweron_waves": on_sizes, "drill_ups_name": ups}
    r.details["extravars"] = extravars  # what the playbook gets (also for an AWX job template)
    if not ctx.execute:
        return
    r.details["executed"] = {"shutdown_order": sd_order, "shutdown_waves": sd_sizes, "power_on_order": on_order}
    pb = ctx.playbook(PLAYBOOK, extravars, check=False)
    marks = pb.custom.get("drill_marks", {})
    t0 = min((parse_time(m["shutdown_start"]) for m in marks.values() if "shutdown_start" in m), default=None)
    downs = sorted(((parse_time(m["down"]), n) for n, m in marks.items() if "down" in m))
    ups_ = sorted(((parse_time(m["up"]), n) for n, m in marks.items() if "up" in m))
    for t, n in downs:
        r.event(f"{n} is down ({wave_of.get(n)})", host=n, at=t.isoformat())
    for t, n in ups_:
        r.event(f"{n} is back up", host=n, at=t.isoformat())
    if t0 and downs:
        elapsed = (downs[-1][0] - t0).total_seconds()
        r.measurements.append(Measurement("shutdown_duration", round(elapsed, 3), "s", "drill targets",
                                          p.budget_s - p.grace_s, elapsed <= p.budget_s - p.grace_s,
                                          "first shutdown command → last target down",
                                          scale=f"{len(sd_order)} of {len(p.order())} machines of the plan"))
    seen = [n for _, n in downs]
    r.check("targets went down in plan order", _respects(seen, sd_order, sd_sizes),
            f"observed: {', '.join(seen)}")
    r.check("every target came back", sorted(n for _, n in ups_) == sorted(on_order),
            f"back: {len(ups_)} of {len(on_order)}")
    if ups_ and downs:
        r.measurements.append(Measurement("power_on_duration", round((ups_[-1][0] - downs[-1][0]).total_seconds(), 3),
                                          "s", "drill targets", detail="last down → last back up",
                                          scale=f"{len(on_order)} of {len(p.order())} machines of the plan"))


def _respects(seen: list[str], order: list[str], sizes: list[int]) -> bool:
    """Observed down-times respect the waves: nobody of a later wave before someone of an earlier one."""
    wave, i = {}, 0
    for w, size in enumerate(sizes):
        for n in order[i:i + size]:
            wave[n] = w
        i += size
    idx = [wave.get(n, -1) for n in seen]
    return len(seen) == len(order) and idx == sorted(idx)


def _plan_properties(inv: Inventory, p: PowerPlan) -> dict[str, bool]:
    """The rules the order must keep, checked on the plan itself."""
    pos = {m: i for i, w in enumerate(p.shutdown) for m in w.members}
    level = {vm.name: inv.vm_security_level(vm) for vm in inv.vms}
    vms = [v for v in pos if v in level]
    first_pos: dict[int, int] = {}
    last_pos: dict[int, int] = {}
    for v in vms:
        if not _is_keeper(p, v):
            first_pos[level[v]] = min(first_pos.get(level[v], pos[v]), pos[v])
            last_pos[level[v]] = max(last_pos.get(level[v], pos[v]), pos[v])
    less_critical_first = all(last_pos[a] <= first_pos[b] for a in last_pos for b in first_pos if a < b)
    groups: dict[str, list[str]] = {}
    for vm in inv.vms:
        if vm.ha_group:
            groups.setdefault(vm.ha_group, []).append(vm.name)
    ha_ok = True
    for g, members in groups.items():
        if len(members) < 2:
            continue
        last = max(pos[m] for m in members)
        lvl = max(level[m] for m in members)
        less = [v for v in vms if level[v] < lvl]
        if any(pos[v] > last for v in less):
            ha_ok = False
        if lvl >= 3 and any(pos[v] > last for v in vms):
            ha_ok = False
    hosts_after_vms = all(pos[h.name] > max(pos[v] for v in vms) for h in inv.hosts) if vms else True
    return {"less critical VMs go first": less_critical_first,
            "no HA group loses its last member before everything less critical (level >= 3: before any VM)": ha_ok,
            "physical hosts only after every VM": hosts_after_vms,
            "network devices stay on": not any(d.name in pos for d in inv.network_devices)}


def _is_keeper(p: PowerPlan, name: str) -> bool:
    return any(name in w.members for w in p.shutdown if w.name.endswith("ha-last"))


def build_lab(dl, inv: Inventory, names: list[str], options: dict) -> None:
    """One namespace host per target, a lab Redfish BMC in the control namespace, a lab power button."""
    import json
    for i, n in enumerate(names):
        dl.target(n, f"p{i}")
    lab = dl.lab
    cfg = {"prefix": dl.prefix, "lab": lab.name, "authorized_key": dl.key.public,
           "hosts": {n: {"short": t.short, "address": t.mgmt_ip} for n, t in dl.targets.items()}}
    path = lab.workdir / "redfish.json"
    path.write_text(json.dumps(cfg))
    port = 8000
    lab.spawn("ctl", [sys.executable, "-m", "dcops.drills.labkit.redfish", "--config", str(path), "--port", str(port)],
              what="redfish")
    lab.wait_listening("ctl", port)
    # lab hosts have their own (empty) /root, so the button runs with the system Python, stdlib only
    from .labkit import poweroff
    button = f"/usr/bin/python3 {Path(poweroff.__file__)} --delay 0 --ns-prefix {dl.prefix}"
    for n in dl.targets:
        dl.extra_vars[n].update({"dcops_power_on_method": "redfish",
                                 "dcops_redfish_url": f"http://127.0.0.1:{port}/redfish/v1/Systems/{n}",
                                 "drill_power_shutdown_command": button})
