"""Checks that span items: references, uniqueness, addressing and capacity."""
from __future__ import annotations

import ipaddress
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable

from . import bacula, capacity, power
from .errors import Loc, Problem
from .loader import Loaded
from .schema import FacilityKind, Inventory, ZoneKind


class _Collector:
    def __init__(self, loaded: Loaded):
        self.sources = loaded.sources
        self.broken = loaded.broken
        self.problems: list[Problem] = []

    def error(self, where: "Loc | tuple", msg: str, kind: str = "") -> None:
        self.problems.append(Problem(self._resolve(where), msg, "error", kind))

    def warn(self, where: "Loc | tuple", msg: str) -> None:
        self.problems.append(Problem(self._resolve(where), msg, "warning"))

    def _resolve(self, where: "Loc | tuple") -> Loc:
        # Places are (section, key, *path) until a problem needs them: finding a line costs a parse.
        return where if isinstance(where, Loc) else self.sources.at(*where)

    @staticmethod
    def at(section: str, key, *path) -> tuple:
        return (section, key, *path)

    def ref(self, known: Iterable[str], target_section: str, value: str | None, what: str,
            section: str, key, *path) -> None:
        """Report a dangling reference unless the target exists or failed its own schema check."""
        if value is None or value in known or (target_section, value) in self.broken \
                or (target_section, "*") in self.broken:
            return
        self.error(self.at(section, key, *path), f"unknown {what} '{value}'")


def run(loaded: Loaded, profiles_dir: Path, platforms_dir: Path) -> list[Problem]:
    inv = loaded.inventory
    if inv is None:
        return []
    c = _Collector(loaded)
    _unique_names(inv, c)
    _references(inv, c, profiles_dir, platforms_dir)
    _addressing(inv, c)
    _rules(inv, c)
    _public_agrees(inv, c)
    if inv.storage is not None:  # a DR site's inventory has no storage of its own
        _backup_policies(inv, c)
    if inv.storage is not None and not any(p.severity == "error" for p in loaded.problems + c.problems):
        _capacity(inv, c)  # a DR site's inventory has no hosts or storage of its own to size
    return c.problems


def _unique_names(inv: Inventory, c: _Collector) -> None:
    for section in ("aggregates", "flavors", "images", "tenants", "systems", "ha_groups", "zones",
                    "leased_lines"):
        seen: dict[str, int] = {}
        for i, item in enumerate(getattr(inv, section)):
            if item.name in seen:
                c.error(c.at(section, i, "name"),
                        f"duplicate {section[:-1].replace('_', ' ')} name '{item.name}'")
            seen.setdefault(item.name, i)
    # Hosts, VMs and devices share one DNS namespace.
    seen_host: dict[str, str] = {}
    for section, items in (("hosts", inv.hosts), ("vms", inv.vms), ("network_devices", inv.network_devices),
                           ("facility", inv.facility)):
        for i, item in enumerate(items):
            prev = seen_host.get(item.name)
            if prev:
                c.error(c.at(section, i, "name"),
                        f"duplicate hostname '{item.name}' (also in {prev})")
            else:
                seen_host[item.name] = section
    if inv.storage is None:
        return
    for i, pol in enumerate(inv.storage.backup_policies):
        if [p.name for p in inv.storage.backup_policies].index(pol.name) != i:
            c.error(c.at("storage", None, "backup_policies", i, "name"), f"duplicate backup policy '{pol.name}'")
    for i, pool in enumerate(inv.storage.san.pools):
        if [p.name for p in inv.storage.san.pools].index(pool.name) != i:
            c.error(c.at("storage", None, "san", "pools", i, "name"), f"duplicate SAN pool '{pool.name}'")


def _references(inv: Inventory, c: _Collector, profiles_dir: Path, platforms_dir: Path) -> None:
    names = lambda items: {i.name for i in items}  # noqa: E731
    tenants, systems, zones = names(inv.tenants), names(inv.systems), names(inv.zones)
    flavors, images, groups = names(inv.flavors), names(inv.images), names(inv.ha_groups)
    storage = inv.storage
    aggregates, pools = names(inv.aggregates), names(storage.san.pools) if storage else set()
    policies = names(storage.backup_policies) if storage else set()
    devices = names(inv.network_devices)
    fabrics = zones | {"san", "bmc"}

    for i, s in enumerate(inv.systems):
        c.ref(tenants, "tenants", s.owner, "tenant", "systems", i, "owner")
    for i, g in enumerate(inv.ha_groups):
        c.ref(systems, "systems", g.system, "information system", "ha_groups", i, "system")
    for i, h in enumerate(inv.hosts):
        c.ref(aggregates, "aggregates", h.aggregate, "aggregate", "hosts", i, "aggregate")
        for j, nic in enumerate(h.nics):
            c.ref(fabrics, "zones", nic.network, "network", "hosts", i, "nics", j, "network")
    for i, vm in enumerate(inv.vms):
        c.ref(tenants, "tenants", vm.tenant, "tenant", "vms", i, "tenant")
        c.ref(systems, "systems", vm.system, "information system", "vms", i, "system")
        c.ref(zones, "zones", vm.zone, "zone", "vms", i, "zone")
        c.ref(flavors, "flavors", vm.flavor, "flavor", "vms", i, "flavor")
        c.ref(images, "images", vm.image, "image", "vms", i, "image")
        c.ref(policies, "storage", vm.backup_policy, "backup policy", "vms", i, "backup_policy")
        c.ref(groups, "ha_groups", vm.ha_group, "HA group", "vms", i, "ha_group")
        c.ref(pools, "storage", vm.boot_pool, "SAN pool", "vms", i, "boot_pool")
        for j, vol in enumerate(vm.volumes):
            c.ref(pools, "storage", vol.pool, "SAN pool", "vms", i, "volumes", j, "pool")
    for i, d in enumerate(inv.network_devices):
        if d.platform is not None and not (platforms_dir / d.platform).is_dir():
            c.error(c.at("network_devices", i, "platform"),
                    f"unknown platform '{d.platform}' (no folder {platforms_dir.name}/{d.platform})")
        _profile(c, profiles_dir, d.snmp, "network_devices", i)
        for j, itf in enumerate(d.interfaces):
            c.ref(zones, "zones", itf.zone, "zone", "network_devices", i, "interfaces", j, "zone")
        c.ref(systems, "systems", d.system, "information system", "network_devices", i, "system")
    for i, f in enumerate(inv.facility):
        _profile(c, profiles_dir, f.snmp, "facility", i)
        c.ref(systems, "systems", f.system, "information system", "facility", i, "system")
    for i, line in enumerate(inv.leased_lines):
        c.ref(devices, "network_devices", line.device, "network device", "leased_lines", i, "device")


def _profile(c: _Collector, profiles_dir: Path, snmp, section: str, i: int) -> None:
    if snmp is not None and not (profiles_dir / f"{snmp.profile}.yaml").is_file():
        c.error(c.at(section, i, "snmp", "profile"),
                f"unknown SNMP profile '{snmp.profile}' (no file {profiles_dir.name}/{snmp.profile}.yaml)")


def _addressing(inv: Inventory, c: _Collector) -> None:
    zones = {z.name: z for z in inv.zones}
    mgmt_nets = [z.subnet for z in inv.zones if z.kind is ZoneKind.mgmt]

    # Overlapping subnets between zones.
    for i, a in enumerate(inv.zones):
        for b in inv.zones[:i]:
            if a.subnet.overlaps(b.subnet):
                c.error(c.at("zones", i, "subnet"), f"subnet {a.subnet} of zone '{a.name}' overlaps {b.subnet} of zone '{b.name}'")
    vlans: dict[int, str] = {}
    for i, z in enumerate(inv.zones):
        if z.vlan is not None:
            if z.vlan in vlans:
                c.error(c.at("zones", i, "vlan"), f"duplicate VLAN {z.vlan} (also zone '{vlans[z.vlan]}')")
            vlans.setdefault(z.vlan, z.name)

    owners: dict[ipaddress.IPv4Address, str] = {}

    def claim(ip, who: str, loc: tuple) -> None:
        if ip in owners:
            c.error(loc, f"duplicate IP {ip} ({who}; already used by {owners[ip]})")
        else:
            owners[ip] = who

    for z in inv.zones:
        if z.gateway is not None:
            owners.setdefault(z.gateway, f"gateway of zone {z.name}")

    def in_mgmt(ip, who: str, loc: tuple) -> None:
        if mgmt_nets and not any(ip in n for n in mgmt_nets):
            c.error(loc, f"{who} {ip} is not in a management zone ({', '.join(map(str, mgmt_nets))})")

    for i, h in enumerate(inv.hosts):
        for field in ("mgmt_ip", "bmc_ip"):
            ip = getattr(h, field)
            loc = c.at("hosts", i, field)
            claim(ip, f"host {h.name} {field}", loc)
            in_mgmt(ip, f"host {h.name} {field}", loc)
    for i, d in enumerate(inv.network_devices):
        loc = c.at("network_devices", i, "mgmt_ip")
        claim(d.mgmt_ip, f"device {d.name} mgmt_ip", loc)
        in_mgmt(d.mgmt_ip, f"device {d.name} mgmt_ip", loc)
        for j, itf in enumerate(d.interfaces):
            zone = zones.get(itf.zone)
            iloc = c.at("network_devices", i, "interfaces", j, "address")
            if zone and itf.address.ip not in zone.subnet:
                c.error(iloc, f"{d.name} {itf.name} address {itf.address.ip} is outside zone '{zone.name}' subnet {zone.subnet}")
            # HA pairs share a virtual gateway, so only the primary claims it.
            if not (zone and zone.gateway == itf.address.ip):
                claim(itf.address.ip, f"{d.name} {itf.name}", iloc)
    for i, f in enumerate(inv.facility):
        if f.mgmt_ip is not None:
            loc = c.at("facility", i, "mgmt_ip")
            claim(f.mgmt_ip, f"facility {f.name}", loc)
            in_mgmt(f.mgmt_ip, f"facility {f.name} mgmt_ip", loc)
    for i, vm in enumerate(inv.vms):
        loc = c.at("vms", i, "ip")
        zone = zones.get(vm.zone)
        if zone is not None:
            if vm.ip not in zone.subnet:
                c.error(loc, f"IP {vm.ip} of VM {vm.name} is outside zone '{zone.name}' subnet {zone.subnet}")
            elif vm.ip in (zone.subnet.network_address, zone.subnet.broadcast_address):
                c.error(loc, f"IP {vm.ip} of VM {vm.name} is the network or broadcast address of {zone.subnet}")
        claim(vm.ip, f"VM {vm.name}", loc)


def _rules(inv: Inventory, c: _Collector) -> None:
    zones = {z.name: z for z in inv.zones}
    systems = {s.name: s for s in inv.systems}
    groups = {g.name: g for g in inv.ha_groups}
    images = {i.name: i for i in inv.images}
    flavors = {f.name: f for f in inv.flavors}
    for i, vm in enumerate(inv.vms):
        zone = zones.get(vm.zone)
        if vm.public and zone is not None and zone.kind is not ZoneKind.dmz:
            c.error(c.at("vms", i, "public"), f"VM {vm.name} is public but sits in zone '{vm.zone}' (only DMZ VMs get floating IPs)")
        if zone is not None and zone.external:
            c.error(c.at("vms", i, "zone"), f"zone '{vm.zone}' is external; VMs cannot be placed there")
        group = groups.get(vm.ha_group or "")
        if group is not None and group.system != vm.system:
            c.error(c.at("vms", i, "ha_group"), f"HA group '{group.name}' belongs to system '{group.system}', not '{vm.system}'")
        image = images.get(vm.image)
        if image is not None and vm.flavor in flavors and inv.boot_gb(vm) < image.min_disk_gb:
            c.error(c.at("vms", i, "boot_volume_gb"), f"boot volume {inv.boot_gb(vm)} GB is smaller than image '{image.name}' minimum {image.min_disk_gb} GB")
        system = systems.get(vm.system)
        if system is not None and system.security_level >= 3 and vm.backup_policy is None:
            c.error(c.at("vms", i), f"VM {vm.name} serves level-{system.security_level} system '{system.name}' but has no backup_policy")
    for i, line in enumerate(inv.leased_lines):
        if line.peer not in line.address.network:
            c.error(c.at("leased_lines", i, "peer"), f"peer {line.peer} is outside {line.address.network}")
    ups = [f for f in inv.facility if f.kind is FacilityKind.ups]
    for i, f in enumerate(inv.facility):
        if f.kind is FacilityKind.ups and (f.capacity_kva is None or f.battery_runtime_min is None):
            if inv.site.role == "dr":  # no power plan runs against it here; the ratings are still facts to get
                c.warn(c.at("facility", i), f"UPS {f.name}: capacity_kva and battery_runtime_min not known yet")
            else:  # they size the UPS power-loss drill's shutdown plan
                c.error(c.at("facility", i), "a UPS needs capacity_kva and battery_runtime_min")
    if not ups:
        c.warn(c.sources.section_loc.get("facility", Loc(str(c.sources.section_loc.get("site", Loc("inventory", 0)).file), 0)),
               "no UPS in the facility inventory")
    if inv.storage is None:
        return
    total_pools = sum(p.capacity_tb for p in inv.storage.san.pools)
    if total_pools > inv.storage.san.usable_tb + 1e-9:
        c.error(c.at("storage", None, "san", "pools"),
                f"SAN pools add up to {total_pools:g} TB, more than the {inv.storage.san.usable_tb:g} TB usable")


def _backup_policies(inv: Inventory, c: _Collector) -> None:
    """A tape policy must be one Bacula's scheduler runs as declared (dcops.model.bacula): a calendar it has
    words for, and a retention that keeps the last full until the next one is written."""
    tape = inv.storage.tape
    if tape.slots % tape.magazines:
        c.error(c.at("storage", None, "tape", "magazines"),
                f"tape library {tape.name}: {tape.slots} slots do not fill {tape.magazines} magazines of equal size")
    for i, pol in enumerate(inv.storage.backup_policies):
        for field, message in bacula.policy_problems(pol):
            c.error(c.at("storage", None, "backup_policies", i, field), message)


def _public_agrees(inv: Inventory, c: _Collector) -> None:
    """"Public" is said on the system (the WAF publishes it) and on a VM (its own floating IP): a VM may
    only be public when its system is, or the two consumers expose different things. A VM the WAF
    publishes (public system, DMZ zone) has no floating IP of its own: that would be a path around the
    WAF — unless the system is deliberately published directly (`publish: direct` with a reason)."""
    systems = {s.name: s for s in inv.systems}
    zones = {z.name: z for z in inv.zones}
    for j, s in enumerate(inv.systems):
        if s.publish == "direct" and not s.public:
            c.error(c.at("systems", j, "publish"), f"system '{s.name}' says publish: direct but is not public")
        if s.publish == "direct" and not s.publish_reason:
            c.error(c.at("systems", j, "publish"), f"system '{s.name}' is published directly (not through the WAF): "
                                                   "say why in publish_reason")
        if s.publish_reason and s.publish != "direct":
            c.error(c.at("systems", j, "publish_reason"), f"system '{s.name}' has a publish_reason but is published "
                                                          "through the WAF (publish_reason belongs to publish: direct)")
    for i, vm in enumerate(inv.vms):
        system = systems.get(vm.system)
        if not vm.public or system is None:
            continue
        if not system.public:
            c.error(c.at("vms", i, "public"), f"VM {vm.name} is public (its own floating IP) but its system "
                                              f"'{system.name}' is not public: set public on the system or drop it here")
        elif system.publish == "waf" and vm.zone in zones and zones[vm.zone].kind is ZoneKind.dmz:
            c.error(c.at("vms", i, "public"),
                    f"VM {vm.name} is published through WAF pool pool-{system.name} and also has a floating IP: "
                    "the floating IP bypasses the WAF; remove it, or declare `publish: direct` with a reason "
                    "on the system")


def _capacity(inv: Inventory, c: _Collector) -> None:
    report = capacity.compute(inv)
    cap_loc = c.at("site", None, "capacity")
    for row in report.compute:
        if not row.fits:
            c.error(cap_loc, f"{row.name} over capacity: demand {row.demand:,.0f} {row.unit} > supply "
                             f"{row.supply:,.0f} {row.unit} ({report.compute_hosts} compute hosts with declared overcommit)", "capacity")
        elif row.fits_n1 is False:
            c.warn(cap_loc, f"{row.name} does not survive losing host {report.largest_host} (N+1): demand "
                            f"{row.demand:,.0f} > {row.supply_n1:,.0f} {row.unit}")
    for i, (row, pool) in enumerate(zip(report.san, inv.storage.san.pools)):
        if not row.fits:
            c.error(c.at("storage", None, "san", "pools", i, "capacity_tb"),
                    f"{row.name} over capacity: {row.demand:,.1f} TB allocated > {row.supply:,.1f} TB (thin ratio applied)", "capacity")
    total = report.san[-1]
    if not total.fits:
        c.error(c.at("storage", None, "san", "usable_tb"),
                f"SAN over capacity: {total.demand:,.1f} TB allocated > {total.supply:,.1f} TB (usable × thin ratio)", "capacity")
    if not report.tape.fits:
        c.error(c.at("storage", None, "tape", "capacity_tb"),
                f"tape too small for the retention: {report.tape.demand:,.1f} TB needed > {report.tape.supply:,.1f} TB", "capacity")
    _ups_budget(inv, c, report)


def _ups_budget(inv: Inventory, c: _Collector, report: capacity.Report) -> None:
    """The UPS power-loss drill's shutdown plan must end inside the battery budget: a new tenant's VMs
    lengthen it, and this is where the change is made."""
    p = report.ups_plan
    if p is None or p.fits:
        return
    i = next(i for i, f in enumerate(inv.facility) if f.name == p.ups)
    c.error(c.at("facility", i, "battery_runtime_min"), power.budget_message(p), "capacity")
