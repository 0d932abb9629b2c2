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
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from dcops.model import Inventory

from .core import DrillContext, DrillRefused
from .record import Measurement, parse_time

PLAYBOOK = "drills/ups-power-loss.yml"
DATA = Path(__file__).parent / "data" / "power.yaml"
UPS_MIB = {  # RFC 1628 UPS-MIB
    "runtime_min": "1.3.6.1.2.1.33.1.2.3.0",  # upsEstimatedMinutesRemaining
    "seconds_on_battery": "1.3.6.1.2.1.33.1.2.2.0",  # upsSecondsOnBattery
    "output_source": "1.3.6.1.2.1.33.1.4.1.0",  # upsOutputSource: 3 normal, 5 battery
}


def timings(path: Path = DATA) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@dataclass
class Wave:
    name: str
    reason: str
    members: list[str]
    kind: str  # vm | compute | backup | storage | control
    start_s: float = 0.0
    duration_s: float = 0.0
    within_budget: bool = True


@dataclass
class PowerPlan:
    ups: str
    runtime_min: float
    runtime_source: str
    budget_s: float
    grace_s: float
    shutdown: list[Wave] = field(default_factory=list)
    power_on: list[Wave] = field(default_factory=list)
    stays_on: list[str] = field(default_factory=list)

    @property
    def end_s(self) -> float:
        return max((w.start_s + w.duration_s for w in self.shutdown), default=self.grace_s)

    @property
    def fits(self) -> bool:
        return all(w.within_budget for w in self.shutdown)

    def order(self) -> list[str]:
        return [m for w in self.shutdown for m in w.members]

    def to_dict(self) -> dict:
        return {"ups": self.ups, "runtime_min": self.runtime_min, "runtime_source": self.runtime_source,
                "budget_s": self.budget_s, "grace_s": self.grace_s, "end_s": self.end_s, "fits": self.fits,
                "shutdown": [asdict(w) for w in self.shutdown], "power_on": [asdict(w) for w in self.power_on],
                "stays_on": self.stays_on}


def pick_ups(inv: Inventory, name: str | None = None) -> str:
    upses = [f for f in inv.facility if f.kind.value == "ups"]
    if name:
        if name not in {u.name for u in upses}:
            raise DrillRefused(f"{name} is not a UPS in the inventory")
        return name
    if not upses:
        raise DrillRefused("the inventory has no UPS")
    return max(upses, key=lambda u: u.capacity_kva or 0).name  # the one feeding the server room


def plan(inv: Inventory, ups: str, runtime_min: float, runtime_source: str, data: dict | None = None) -> PowerPlan:
    data = data or timings()
    sd, par = data["shutdown_s"], data["parallel"]
    budget = runtime_min * 60 * (1 - data["reserve_fraction"])
    p = PowerPlan(ups, runtime_min, runtime_source, round(budget, 1), data["on_battery_grace_s"])
    level = {vm.name: inv.vm_security_level(vm) for vm in inv.vms}
    groups: dict[str, list[str]] = {}
    for vm in inv.vms:
        if vm.ha_group:
            groups.setdefault(vm.ha_group, []).append(vm.name)
    # The member each HA group keeps running longest: the first by name (…-01, the primary).
    keeper = {g: sorted(m)[0] for g, m in groups.items() if len(m) > 1}
    keepers = set(keeper.values())
    waves: list[Wave] = []
    for lvl in sorted(set(level.values())):
        members = sorted(v for v, lv in level.items() if lv == lvl and v not in keepers)
        if members:
            waves.append(Wave(f"vm-level-{lvl}", f"security level {lvl}: VMs without HA and HA members "
                              "other than the group's last one", members, "vm"))
        if lvl < 3:
            last = sorted(v for v in keepers if level[v] == lvl)
            if last:
                waves.append(Wave(f"vm-level-{lvl}-ha-last", f"last member of level-{lvl} HA groups, once "
                                  "everything less critical is down", last, "vm"))
    final = sorted(v for v in keepers if level[v] >= 3)
    if final:
        waves.append(Wave("vm-ha-last", "one member of every HA group of level >= 3, kept until last", final, "vm"))
    for role in data["host_role_order"]:
        hosts = sorted(h.name for h in inv.hosts if h.role.value == role)
        if hosts:
            waves.append(Wave(f"hosts-{role}", f"{role} hosts, after every VM", hosts, role))
    t = float(p.grace_s)
    for w in waves:
        limit = par["vm"] if w.kind == "vm" else par["host"]
        w.start_s = t
        w.duration_s = float(math.ceil(len(w.members) / limit) * sd[w.kind])
        t += w.duration_s
        w.within_budget = t <= budget
    p.shutdown = waves
    on = data["power_on_s"]
    p.power_on = [Wave(f"on-{w.name}", f"power on in reverse order ({w.reason})", list(w.members), w.kind)
                  for w in reversed(waves)]
    t = 0.0
    for w in p.power_on:
        limit = par["vm"] if w.kind == "vm" else par["host"]
        w.start_s, w.duration_s = t, float(math.ceil(len(w.members) / limit) * on[w.kind])
        t += w.duration_s
    p.stays_on = sorted(d.name for d in inv.network_devices)
    return p


def render(p: PowerPlan) -> str:
    def mmss(s):
        return f"{int(s // 60):02d}:{int(s % 60):02d}"
    lines = [f"UPS {p.ups}: {p.runtime_min:g} min runtime ({p.runtime_source}); budget {mmss(p.budget_s)} "
             f"after reserve; plan ends at {mmss(p.end_s)} — {'FITS' if p.fits else 'DOES NOT FIT'}",
             f"  00:00  on battery; wait {int(p.grace_s)} s for mains before shedding load"]
    for i, w in enumerate(p.shutdown, 1):
        flag = "" if w.within_budget else "  !! beyond budget"
        shown = ", ".join(w.members[:6]) + (f", … (+{len(w.members) - 6})" if len(w.members) > 6 else "")
        lines.append(f"  {mmss(w.start_s)}  wave {i} {w.name} ({len(w.members)}, ~{int(w.duration_s)} s): {shown}{flag}")
    lines.append(f"  stays on until the battery ends: {', '.join(p.stays_on)}")
    lines.append("Power-on order: " + " → ".join(f"{w.name[3:]} ({len(w.members)})" for w in p.power_on))
    return "\n".join(lines)


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
