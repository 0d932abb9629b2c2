"""What the cloud should hold, as plain data derived from the inventory, the cloud policy and the stack.

No Pulumi here: the components in `components.py` turn this into resources, and the
checks and tests can reason about it directly. Every collection is sorted so the program
registers resources in the same order on every run.
"""
from __future__ import annotations

import fnmatch
import math
from collections import defaultdict
from dataclasses import dataclass, field

from ..model.schema import BackupPolicy, HostRole, InformationSystem, Inventory, Vm
from .policy import CloudPolicy, parse_ports
from .settings import DrSelection, StackSettings

GB_PER_TB = 1000  # as dcops.model.capacity


@dataclass(frozen=True)
class RuleSpec:
    protocol: str
    port_min: int | None
    port_max: int | None
    remote: str
    service: str


@dataclass(frozen=True)
class SecurityGroupSpec:
    name: str
    zone: str
    system: str | None
    description: str
    rules: tuple[RuleSpec, ...]


@dataclass(frozen=True)
class ServerGroupSpec:
    name: str
    tenant: str
    system: str
    declared_policy: str
    policy: str  # effective: hard anti-affinity degrades to soft when the hosts cannot hold the group
    members: tuple[str, ...]
    hosts: int | None  # distinct hypervisors the members can land on; None when not inventoried
    implicit: bool


@dataclass(frozen=True)
class VmSpec:
    vm: Vm
    system: InformationSystem
    boot_gb: int
    availability_zone: str
    server_group: str | None
    security_groups: tuple[str, ...]
    floating_ip: bool
    metadata: dict[str, str]
    #: DR only: the instance's power state (standby: shutoff) and, per volume role, the production
    #: volume and backup policy its data is restored from
    power_state: str | None = None
    restore_from: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantSpec:
    name: str
    display_name: str
    kind: str
    systems: tuple[str, ...]
    zones: tuple[str, ...]
    security_groups: tuple[str, ...]
    compute_quota: dict[str, int]
    volume_quota: dict[str, int]
    volume_type_quota: dict[str, int]
    network_quota: dict[str, int]


@dataclass(frozen=True)
class AggregateSpec:
    name: str
    availability_zone: str
    hosts: tuple[str, ...]
    metadata: dict[str, str]


@dataclass(frozen=True)
class VolumeTypeSpec:
    name: str
    tier: str
    backend: str
    read_iops: int
    write_iops: int
    capacity_gb: int
    quota_gb: int  # sum of the projects' quotas of this type


@dataclass(frozen=True)
class LoadBalancerSpec:
    name: str
    tenant: str
    system: str
    zone: str
    vip: str
    members: tuple[tuple[str, str], ...]  # (vm, ip)
    listeners: tuple[tuple[str, int], ...]
    health: dict
    floating_ip: bool


@dataclass(frozen=True)
class Note:
    severity: str  # error | warning | info
    code: str
    subject: str
    message: str


@dataclass(frozen=True)
class Desired:
    scope: str
    site: str
    systems: tuple[str, ...]
    zones: tuple[str, ...]
    tenants: tuple[TenantSpec, ...]
    vms: tuple[VmSpec, ...]
    server_groups: tuple[ServerGroupSpec, ...]
    security_groups: tuple[SecurityGroupSpec, ...]
    aggregates: tuple[AggregateSpec, ...]
    volume_types: tuple[VolumeTypeSpec, ...]
    flavors: tuple[tuple[str, int, int, int, dict], ...]  # name, vcpus, ram_mb, disk_gb, extra_specs
    images: tuple[str, ...]
    load_balancers: tuple[LoadBalancerSpec, ...]
    router: bool
    notes: tuple[Note, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------- DR selection

def _replicated(inv: Inventory, system: str) -> bool:
    policies = {p.name: p for p in inv.storage.backup_policies}
    return any(policies[v.backup_policy].replicate_to_dr
               for v in inv.vms_of_system(system) if v.backup_policy in policies)


def dr_systems(inv: Inventory, sel: DrSelection) -> tuple[tuple[str, ...], list[Note]]:
    """The systems the DR stack declares, and notes on systems whose DR signals disagree."""
    chosen, notes = [], []
    for s in inv.systems:
        flag, repl = s.dr_required, _replicated(inv, s.name)
        level_ok = s.security_level >= sel.min_security_level
        rule = level_ok and ((flag and repl) if sel.match == "both" else (flag or repl))
        if s.name in sel.exclude:
            rule = False
        elif s.name in sel.include:
            rule = True
        if rule and inv.vms_of_system(s.name):
            chosen.append(s.name)
        if level_ok and flag != repl and s.name not in sel.include and s.name not in sel.exclude:
            why = ("dr_required but none of its VMs' backup policies replicates to DR"
                   if flag else "its backups replicate to DR but the system is not dr_required")
            notes.append(Note("warning", "dr-signals-disagree", s.name,
                              f"level {s.security_level}: {why}; "
                              f"{'declared' if s.name in chosen else 'not declared'} in DR (match={sel.match})"))
    for name in (*sel.include, *sel.exclude):
        if name not in {s.name for s in inv.systems}:
            notes.append(Note("error", "dr-unknown-system", name, "named in dcops:dr but not in the inventory"))
    return tuple(sorted(chosen)), notes


# ---------------------------------------------------------------- placement

def _flavor_aggregate(policy: CloudPolicy, flavor: str) -> str | None:
    for pattern, agg in sorted(policy.placement.flavors.items()):
        if fnmatch.fnmatchcase(flavor, pattern):
            return agg
    return None


class _Placement:
    """(availability zone, hypervisors the scheduler may choose) for a VM, from aggregates and policy."""

    def __init__(self, inv: Inventory, policy: CloudPolicy):
        self.policy = policy
        self.az_of = {a.name: a.availability_zone for a in inv.aggregates}
        self.hosts_of: dict[str, set[str]] = defaultdict(set)
        for h in inv.hosts:
            if h.role is HostRole.compute and h.aggregate:
                self.hosts_of[h.aggregate].add(h.name)
        self.in_az: dict[str, frozenset[str]] = defaultdict(frozenset)
        for a in inv.aggregates:
            self.in_az[a.availability_zone] |= self.hosts_of[a.name]

    def __call__(self, vm: Vm) -> tuple[str, frozenset[str]]:
        pl = self.policy.placement
        az = self.az_of[pl.zones.get(vm.zone, pl.default_aggregate)]
        pinned = _flavor_aggregate(self.policy, vm.flavor)
        return az, (self.in_az[az] & self.hosts_of[pinned]) if pinned else self.in_az[az]


# ---------------------------------------------------------------- security groups

def _rule(inv: Inventory, policy: CloudPolicy, rule, source: str) -> RuleSpec:
    lo_hi = parse_ports(rule.ports)
    return RuleSpec(rule.protocol, lo_hi[0] if lo_hi else None, lo_hi[1] if lo_hi else None,
                    policy.source_prefix(inv, source), rule.service)


def security_groups(inv: Inventory, policy: CloudPolicy, zones: tuple[str, ...],
                    systems: tuple[str, ...]) -> tuple[SecurityGroupSpec, ...]:
    mgmt = [_rule(inv, policy, r, s) for s in policy.management.sources for r in policy.management.rules]
    out = []
    for z in zones:
        rules = [_rule(inv, policy, r, s) for r in policy.zones.get(z, ()) for s in r.sources]
        out.append(SecurityGroupSpec(f"sg-{z}", z, None, f"zone {z}: {inv.zone(z).display_name}",
                                     tuple(_dedupe(mgmt + rules))))
    for system in systems:
        by_zone = defaultdict(list)
        for r in policy.systems.get(system, ()):
            by_zone[r.zone].extend(_rule(inv, policy, r, s) for s in r.sources)
        for z, rules in sorted(by_zone.items()):
            if z in zones:
                out.append(SecurityGroupSpec(f"sg-{system}-{z}", z, system,
                                             f"{inv.system(system).display_name} in zone {z}",
                                             tuple(_dedupe(rules))))
    return tuple(out)


def _dedupe(rules):
    seen, out = set(), []
    for r in rules:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


# ---------------------------------------------------------------- quotas

def _ceil(x: float) -> int:
    return int(math.ceil(round(x, 6)))


def _pool_headroom(inv: Inventory, vms: list[Vm], headroom: float) -> dict[str, float]:
    """Headroom per SAN pool, lowered where demand x headroom would exceed the pool."""
    demand = defaultdict(float)
    for vm in vms:
        demand[vm.boot_pool] += inv.boot_gb(vm)
        for v in vm.volumes:
            demand[v.pool] += v.size_gb
    out = {}
    for p in inv.storage.san.pools:
        cap = p.capacity_tb * GB_PER_TB
        d = demand.get(p.name, 0.0)
        out[p.name] = max(1.0, min(headroom, cap / d)) if d else headroom
    return out


def _snapshots(policy: BackupPolicy | None, volumes: int) -> int:
    if policy is None or policy.target != "san-snapshot":
        return 0
    return volumes * math.ceil(policy.retention_days / policy.full_every_days)


# ---------------------------------------------------------------- the whole desired state

def desired(inv: Inventory, policy: CloudPolicy, st: StackSettings) -> Desired:
    notes: list[Note] = []
    if st.scope == "dr":
        systems, dr_notes = dr_systems(inv, st.dr)
        notes += dr_notes
    else:
        systems = tuple(sorted(s.name for s in inv.systems))
    selected = set(systems)
    vms = sorted((v for v in inv.vms if v.system in selected), key=lambda v: v.name)
    cloud_zones = [z.name for z in inv.zones if not z.external]
    used_zones = {v.zone for v in vms}
    zones = tuple(z for z in cloud_zones if st.scope == "site" or z in used_zones)
    flavors = {f.name: f for f in inv.flavors}
    policies = {p.name: p for p in inv.storage.backup_policies}

    placement = _Placement(inv, policy)
    # -- server groups: the inventory's HA groups, plus one implicit group per high-level system
    groups: dict[str, list[Vm]] = defaultdict(list)
    implicit: set[str] = set()
    ha = {g.name: g for g in inv.ha_groups}
    vm_group: dict[str, str] = {}
    tenants_of_system: dict[str, set[str]] = defaultdict(set)
    for v in vms:
        tenants_of_system[v.system].add(v.tenant)
    for v in vms:
        sysm = inv.system(v.system)
        if v.ha_group:
            name = v.ha_group
        elif sysm.security_level >= policy.placement.implicit_group_min_level:
            # server groups live in one project: a system spread over tenants gets one per tenant
            name = f"{v.system}-spread" if len(tenants_of_system[v.system]) == 1 else f"{v.system}-{v.tenant}-spread"
            implicit.add(name)
        else:
            continue
        groups[name].append(v)
        vm_group[v.name] = name
    for name, members in sorted(groups.items()):
        if len({m.tenant for m in members}) > 1:
            notes.append(Note("error", "ha-group-tenants", name,
                              "members in several tenants; a server group belongs to one project: "
                              + ", ".join(sorted(f"{m.name} ({m.tenant})" for m in members))))
    server_groups = []
    for name, members in sorted(groups.items()):
        declared = ha[name].policy if name in ha else "anti-affinity"
        hosts = None
        effective = declared
        if st.manage_aggregates:
            cand = frozenset().union(*(placement(m)[1] for m in members))
            hosts = len(cand)
            if declared == "anti-affinity" and len(members) > hosts:
                effective = "soft-anti-affinity"
                notes.append(Note("warning", "anti-affinity-capacity", name,
                                  f"{len(members)} members but only {hosts} hypervisors can host them; declared "
                                  f"soft-anti-affinity (hard anti-affinity would fail with NoValidHost)"))
        if name in implicit:
            notes.append(Note("info", "implicit-server-group", name,
                              f"level-{inv.system(members[0].system).security_level} VMs without an HA group: "
                              f"{', '.join(m.name for m in members)}"))
        server_groups.append(ServerGroupSpec(name, members[0].tenant, members[0].system, declared, effective,
                                             tuple(m.name for m in members), hosts, name in implicit))

    # -- security groups: one per zone, plus per-system extras
    sgs = security_groups(inv, policy, zones, systems)
    sg_names = {sg.name for sg in sgs}

    # -- renames: an old name may be claimed once, and never while a VM still carries it
    current = {v.name for v in inv.vms}
    claimed: dict[str, str] = {}
    for v in inv.vms:
        for old in v.previous_names:
            if old in current:
                notes.append(Note("error", "previous-name-in-use", v.name,
                                  f"previous_names lists {old}, which is still a VM's name"))
            elif old in claimed:
                notes.append(Note("error", "previous-name-claimed-twice", v.name,
                                  f"previous_names lists {old}, also claimed by {claimed[old]}"))
            claimed.setdefault(old, v.name)
    unpinned = sorted({v.image for v in vms} - set(st.image_ids))
    if unpinned:
        notes.append(Note("warning", "image-not-pinned", ", ".join(unpinned),
                          "looked up by name (most recent): new VMs get whatever was uploaded last under that name; "
                          "pin the Glance IDs in dcops:imageIds and bump them in a reviewed change (running boot "
                          "volumes ignore image changes either way)"))

    # -- VMs
    unreplicated: dict[str, list[str]] = defaultdict(list)
    dr_set = set(systems) if st.scope == "dr" else set(dr_systems(inv, st.dr)[0])
    vm_specs = []
    for v in vms:
        sysm = inv.system(v.system)
        az, _ = placement(v)
        az = st.az_map.get(az, az)
        zone = inv.zone(v.zone)
        # a WAF-published system's VMs get no floating IP of their own (a path around the WAF; validate
        # refuses `public` on them): only systems declared `publish: direct` are exposed here
        fip = bool(v.public and st.publishes and zone.kind.value == "dmz" and sysm.publish == "direct")
        if v.public and zone.kind.value != "dmz":
            notes.append(Note("error", "public-outside-dmz", v.name,
                              f"public VM in zone {v.zone}: floating IPs are for DMZ services only; none declared"))
        bp = policies.get(v.backup_policy or "")
        meta = {
            "managed_by": "dcops",
            "site": inv.site.code,
            "tenant": v.tenant,
            "owner": sysm.owner,
            "system": sysm.name,
            "system_name": sysm.display_name,
            "security_level": str(sysm.security_level),
            "backup_policy": v.backup_policy or "none",
            "rpo_hours": f"{bp.rpo_hours:g}" if bp else "none",
            "dr": "true" if sysm.name in dr_set else "false",
            "zone": v.zone,
        }
        if v.name in vm_group:
            meta["server_group"] = vm_group[v.name]
        vm_sgs = tuple(n for n in (f"sg-{v.zone}", f"sg-{v.system}-{v.zone}") if n in sg_names)
        power, restore = None, {}
        if st.scope == "dr":
            power = "shutoff" if st.dr_mode == "standby" else "active"
            if bp and bp.replicate_to_dr:
                restore = {role: f"{v.name}-{role}" for role in ("boot", *(x.name for x in v.volumes))}
            else:
                unreplicated[v.system].append(v.name)
        vm_specs.append(VmSpec(v, sysm, inv.boot_gb(v), az, vm_group.get(v.name), vm_sgs, fip, meta, power, restore))

    for system, names in sorted(unreplicated.items()):
        notes.append(Note("info", "dr-rebuilt-not-restored", system,
                          f"{len(names)} DR VM(s) on backup policies that do not replicate to DR ({', '.join(names)}): "
                          "their DR volumes are rebuilt from the image at failover, not restored (stateless tiers; "
                          "anything else needs a replicating policy)"))

    # -- tenants and their quotas
    h = st.quota_headroom
    pool_h = _pool_headroom(inv, vms, h)
    by_tenant: dict[str, list[VmSpec]] = defaultdict(list)
    for s in vm_specs:
        by_tenant[s.vm.tenant].append(s)
    lbs = _load_balancers(inv, policy, st, vms)
    if st.scope == "dr" and st.dr_mode == "active":
        notes += _dr_waf_targets(inv, systems, vms, lbs)
    fip_vms = {s.vm.name for s in vm_specs if s.floating_ip}
    for lb in lbs:
        exposed = [m for m, _ in lb.members if m in fip_vms]
        if lb.floating_ip and exposed:
            notes.append(Note("info", "lb-members-public", lb.name,
                              f"{len(exposed)} of its members also get their own floating IP (public: true in the "
                              "inventory); behind a load balancer they need none"))
    tenants = []
    for t in inv.tenants:
        specs = by_tenant.get(t.name)
        if not specs:
            continue
        tvms = [s.vm for s in specs]
        per_pool_gb = defaultdict(int)
        per_pool_n = defaultdict(int)
        for vm in tvms:
            per_pool_gb[vm.boot_pool] += inv.boot_gb(vm)
            per_pool_n[vm.boot_pool] += 1
            for vol in vm.volumes:
                per_pool_gb[vol.pool] += vol.size_gb
                per_pool_n[vol.pool] += 1
        vtq = {}
        for pool in sorted(per_pool_gb):
            vtq[f"gigabytes_{pool}"] = max(per_pool_gb[pool], math.floor(per_pool_gb[pool] * pool_h[pool]))
            vtq[f"volumes_{pool}"] = _ceil(per_pool_n[pool] * h)
        tgroups = [g for g in server_groups if g.tenant == t.name]
        snaps = sum(_snapshots(policies.get(vm.backup_policy or ""), 1 + len(vm.volumes)) for vm in tvms)
        t_lbs = [lb for lb in lbs if lb.tenant == t.name]
        fips = sum(s.floating_ip for s in specs) + sum(lb.floating_ip for lb in t_lbs)
        tenants.append(TenantSpec(
            name=t.name, display_name=t.display_name, kind=t.kind,
            systems=tuple(sorted({s.system.name for s in specs})),
            zones=tuple(z for z in zones if any(s.vm.zone == z for s in specs)),
            security_groups=tuple(sorted({g for s in specs for g in s.security_groups})),
            compute_quota={
                "instances": _ceil(len(tvms) * h),
                "cores": _ceil(sum(flavors[v.flavor].vcpus for v in tvms) * h),
                "ram": _ceil(sum(flavors[v.flavor].ram_gb for v in tvms) * 1024 * h),
                "server_groups": _ceil(len(tgroups) * h),
                "server_group_members": _ceil(max((len(g.members) for g in tgroups), default=1) * h),
            },
            volume_quota={
                "gigabytes": sum(v for k, v in vtq.items() if k.startswith("gigabytes_")),
                "volumes": sum(v for k, v in vtq.items() if k.startswith("volumes_")),
                "snapshots": _ceil(snaps * h),
            },
            volume_type_quota=vtq,
            # Floating IPs are public exposure: exactly what the inventory declares, no headroom.
            network_quota={"port": _ceil((len(tvms) + len(t_lbs)) * h), "floatingip": fips},
        ))

    vtypes = []
    san = inv.storage.san
    for p in san.pools:
        quota = sum(t.volume_type_quota.get(f"gigabytes_{p.name}", 0) for t in tenants)
        vtypes.append(VolumeTypeSpec(p.name, p.tier, policy.storage.backend_name.format(san=san.name, pool=p.name),
                                     p.read_iops, p.write_iops, int(p.capacity_tb * GB_PER_TB), quota))

    aggregates = []
    if st.manage_aggregates:
        pinned = {agg: pat for pat, agg in policy.placement.flavors.items()}
        for a in inv.aggregates:
            hosts = tuple(sorted(h.name for h in inv.hosts if h.aggregate == a.name and h.role is HostRole.compute))
            meta = {"pool": a.name.removeprefix("agg-")}
            if a.name in pinned:
                meta["flavors"] = pinned[a.name]
            aggregates.append(AggregateSpec(a.name, st.az_map.get(a.availability_zone, a.availability_zone),
                                            hosts, meta))

    flavor_specs = []
    used_flavors = {v.flavor for v in vms}
    for f in inv.flavors:
        if st.scope == "dr" and f.name not in used_flavors:
            continue
        extra = {}
        agg = _flavor_aggregate(policy, f.name)
        if agg:
            extra["aggregate_instance_extra_specs:pool"] = agg.removeprefix("agg-")
        flavor_specs.append((f.name, f.vcpus, f.ram_gb * 1024, f.disk_gb, extra))

    router = any(s.floating_ip for s in vm_specs) or any(lb.floating_ip for lb in lbs)
    ext = policy.networks.external
    dr_gateway = st.scope == "dr" and st.dr_public.get("gateway")
    if router and ext.gateway is None and inv.zone(ext.zone).gateway is None and not dr_gateway:
        notes.append(Note("warning", "external-without-gateway", ext.zone,
                          "neither the inventory nor cloud_policy networks.external.gateway gives the floating-IP "
                          "network a gateway: the router has no default route, so public DMZ services answer "
                          "only if the perimeter routes return traffic itself"))
    return Desired(
        scope=st.scope, site=inv.site.code, systems=systems, zones=zones, tenants=tuple(tenants),
        vms=tuple(vm_specs), server_groups=tuple(server_groups), security_groups=sgs,
        aggregates=tuple(aggregates), volume_types=tuple(vtypes), flavors=tuple(flavor_specs),
        images=tuple(sorted({v.image for v in vms})), load_balancers=lbs, router=bool(router),
        notes=tuple(sorted(notes, key=lambda n: (n.severity, n.code, n.subject))),
    )


def _dr_waf_targets(inv: Inventory, systems, vms: list[Vm], lbs) -> list[Note]:
    """DR active publishes a WAF-published system through no floating IP (on a VM or a load balancer's VIP, one
    would bypass the WAF): what its WAF pool / link-balancer target has to point at instead is said per system —
    its DR load balancers' VIPs, else its DR DMZ VMs."""
    dmz = {z.name for z in inv.zones if z.kind.value == "dmz"}
    out = []
    for name in systems:
        sysm = inv.system(name)
        web = sorted(f"{v.name} {v.ip}" for v in vms if v.system == name and v.zone in dmz)
        if not (sysm.public and sysm.publish == "waf" and web):
            continue
        vips = sorted(f"{lb.name} VIP {lb.vip}" for lb in lbs if lb.system == name and lb.zone in dmz)
        out.append(Note("warning", "dr-waf-published", name,
                        f"published through the WAF (pool-{name}): DR active gives it no floating IP (one would "
                        f"bypass the WAF); at failover its WAF pool / link-balancer target moves to "
                        f"{', '.join(vips or web)} at DR, behind a WAF neither the inventory nor this program has"))
    return out


def _load_balancers(inv: Inventory, policy: CloudPolicy, st: StackSettings, vms: list[Vm]) -> tuple[LoadBalancerSpec, ...]:
    out = []
    for lb in policy.load_balancers:
        members = [v for v in vms if v.ha_group == lb.ha_group]
        if not members:
            continue
        zone = inv.zone(members[0].zone)
        out.append(LoadBalancerSpec(
            name=lb.name, tenant=members[0].tenant, system=members[0].system, zone=zone.name, vip=str(lb.vip),
            members=tuple((m.name, str(m.ip)) for m in members),
            listeners=tuple((li.protocol, li.port) for li in lb.listeners),
            health=lb.health.model_dump(),
            # a VIP's floating IP is a public path around the WAF, as a VM's would be: only for `publish: direct`
            floating_ip=bool(st.publishes and zone.kind.value == "dmz" and inv.system(members[0].system).public
                             and inv.system(members[0].system).publish == "direct"),
        ))
    return tuple(out)
