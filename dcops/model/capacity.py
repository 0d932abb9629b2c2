"""Capacity of the cloud, the SAN, the tape library and the UPS battery against what the inventory asks of them."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from . import power
from .schema import HostRole, Inventory


@dataclass(frozen=True)
class Resource:
    name: str
    unit: str
    demand: float
    supply: float
    #: supply left after losing the largest host (N+1); None where it does not apply
    supply_n1: float | None = None

    @property
    def used_pct(self) -> float:
        return 100.0 * self.demand / self.supply if self.supply else math.inf

    @property
    def fits(self) -> bool:
        return self.demand <= self.supply

    @property
    def fits_n1(self) -> bool | None:
        return None if self.supply_n1 is None else self.demand <= self.supply_n1


@dataclass(frozen=True)
class Report:
    compute: tuple[Resource, ...]
    san: tuple[Resource, ...]
    tape: Resource
    compute_hosts: int
    largest_host: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: the UPS power-loss shutdown plan's end against the battery budget (None without a UPS)
    ups: Resource | None = None
    ups_plan: "power.PowerPlan | None" = None

    @property
    def rows(self) -> tuple[Resource, ...]:
        return (*self.compute, *self.san, self.tape, *((self.ups,) if self.ups else ()))

    def as_dict(self) -> dict:
        def row(r: Resource) -> dict:
            d = asdict(r)
            d.update(used_pct=round(r.used_pct, 1), fits=r.fits, fits_n1=r.fits_n1)
            return d
        return {"compute_hosts": self.compute_hosts, "largest_host": self.largest_host,
                "compute": [row(r) for r in self.compute], "san": [row(r) for r in self.san],
                "tape": row(self.tape), "notes": list(self.notes),
                "ups": None if self.ups is None else {**row(self.ups), "ups": self.ups_plan.ups,
                                                      "late_waves": self.ups_plan.late_waves()}}


def _round(x: float) -> float:
    return round(x, 2)


def vm_volume_gb(inv: Inventory) -> dict[str, float]:
    """GB allocated per SAN pool (boot + data volumes)."""
    per_pool: dict[str, float] = {p.name: 0.0 for p in inv.storage.san.pools}
    for vm in inv.vms:
        per_pool[vm.boot_pool] = per_pool.get(vm.boot_pool, 0.0) + inv.boot_gb(vm)
        for vol in vm.volumes:
            per_pool[vol.pool] = per_pool.get(vol.pool, 0.0) + vol.size_gb
    return per_pool


def tape_demand_tb(inv: Inventory) -> float:
    """Native tape TB held at steady state: full sets × retention plus daily incrementals."""
    cap = inv.site.capacity
    policies = {p.name: p for p in inv.storage.backup_policies}
    total_gb = 0.0
    for vm in inv.vms:
        policy = policies.get(vm.backup_policy or "")
        if policy is None or policy.target != "tape":
            continue
        data_gb = (inv.boot_gb(vm) + sum(v.size_gb for v in vm.volumes)) * cap.data_fill_ratio
        # one more full than retention strictly needs: the oldest set expires only after the next full lands
        fulls = math.ceil(policy.retention_days / policy.full_every_days) + 1
        incrementals = (policy.retention_days - fulls + 1) if policy.incremental_daily else 0
        total_gb += data_gb * (fulls + max(incrementals, 0) * policy.change_rate)
    return total_gb / 1000.0 / inv.storage.tape.compression_ratio


def compute(inv: Inventory) -> Report:
    cap = inv.site.capacity
    hosts = [h for h in inv.hosts if h.role is HostRole.compute]
    flavors = {f.name: f for f in inv.flavors}
    vcpu = sum(flavors[v.flavor].vcpus for v in inv.vms if v.flavor in flavors)
    ram = sum(flavors[v.flavor].ram_gb for v in inv.vms if v.flavor in flavors)

    def cores(h):
        return max(h.cpu_cores - cap.reserved_host_cores, 0) * cap.overcommit.cpu

    def mem(h):
        return max(h.ram_gb - cap.reserved_host_ram_gb, 0) * cap.overcommit.ram

    largest = max(hosts, key=lambda h: (h.ram_gb, h.cpu_cores, h.name), default=None)
    sup_cpu = sum(cores(h) for h in hosts)
    sup_ram = sum(mem(h) for h in hosts)
    compute_rows = (
        Resource("vCPU", "vCPU", vcpu, _round(sup_cpu), _round(sup_cpu - cores(largest)) if largest else None),
        Resource("RAM", "GB", ram, _round(sup_ram), _round(sup_ram - mem(largest)) if largest else None),
    )

    per_pool = vm_volume_gb(inv)
    thin = cap.san_thin_provisioning_ratio
    san_rows = [Resource(f"SAN pool {p.name} ({p.tier})", "TB", _round(per_pool.get(p.name, 0) / 1000),
                         _round(p.capacity_tb * thin)) for p in inv.storage.san.pools]
    san_rows.append(Resource("SAN allocated (thin)", "TB", _round(sum(per_pool.values()) / 1000),
                             _round(inv.storage.san.usable_tb * thin)))
    tape = Resource("Tape (retention sets)", "TB", _round(tape_demand_tb(inv)),
                    _round(inv.storage.tape.capacity_tb))
    plan = power.shipped_plan(inv)
    ups = None if plan is None else Resource(f"UPS shutdown plan ({plan.ups})", "s", plan.end_s, plan.budget_s)
    return Report(compute_rows, tuple(san_rows), tape, len(hosts), largest.name if largest else "-",
                  ups=ups, ups_plan=plan)
