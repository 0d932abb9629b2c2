"""The UPS power-loss shutdown plan: which machines go down in which wave, and whether the last wave
ends inside the battery budget. One planner for `dcops validate`/`capacity` (the budget as a capacity
row, an error when an inventory change breaks it) and the UPS power-loss drill (which executes it).

Least critical first: VMs by security level (Decree 85) ascending; HA groups keep one member up until
everything less critical is down, and groups of level >= 3 keep one member until the very last VM wave;
then hypervisors, backup, storage and control hosts. Timings are data (dcops/model/data/power.yaml)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from .schema import Inventory

DATA = Path(__file__).parent / "data" / "power.yaml"


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
    reserve_fraction: float = 0.0

    @property
    def end_s(self) -> float:
        return max((w.start_s + w.duration_s for w in self.shutdown), default=self.grace_s)

    @property
    def fits(self) -> bool:
        return all(w.within_budget for w in self.shutdown)

    def order(self) -> list[str]:
        return [m for w in self.shutdown for m in w.members]

    def late_waves(self) -> list[str]:
        return [w.name for w in self.shutdown if not w.within_budget]

    def to_dict(self) -> dict:
        return {"ups": self.ups, "runtime_min": self.runtime_min, "runtime_source": self.runtime_source,
                "budget_s": self.budget_s, "grace_s": self.grace_s, "end_s": self.end_s, "fits": self.fits,
                "shutdown": [asdict(w) for w in self.shutdown], "power_on": [asdict(w) for w in self.power_on],
                "stays_on": self.stays_on}


def server_room_ups(inv: Inventory) -> str | None:
    """The UPS the plan runs against: the largest (the one feeding the server room)."""
    upses = [f for f in inv.facility if f.kind.value == "ups"]
    return max(upses, key=lambda u: (u.capacity_kva or 0, u.name)).name if upses else None


def shipped_plan(inv: Inventory, data: dict | None = None) -> PowerPlan | None:
    """The plan against the server-room UPS's declared battery runtime (what validate and capacity show)."""
    ups = server_room_ups(inv)
    if ups is None:
        return None
    return plan(inv, ups, float(inv.facility_device(ups).battery_runtime_min), "inventory battery_runtime_min", data)


def plan(inv: Inventory, ups: str, runtime_min: float, runtime_source: str, data: dict | None = None) -> PowerPlan:
    data = data or timings()
    sd, par = data["shutdown_s"], data["parallel"]
    budget = runtime_min * 60 * (1 - data["reserve_fraction"])
    p = PowerPlan(ups, runtime_min, runtime_source, round(budget, 1), data["on_battery_grace_s"],
                  reserve_fraction=data["reserve_fraction"])
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


def budget_message(p: PowerPlan) -> str:
    """The one sentence validate prints when the plan no longer fits (numbers an operator can act on)."""
    return (f"UPS {p.ups} shutdown plan does not fit the battery: plan {p.end_s:.0f} s vs battery {p.budget_s:.0f} s "
            f"({p.runtime_min:g} min runtime minus {p.reserve_fraction:.0%} reserve); "
            f"{', '.join(p.late_waves())} end too late — add battery, shorten timings in "
            f"dcops/model/data/power.yaml or move VMs to fewer waves")


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
