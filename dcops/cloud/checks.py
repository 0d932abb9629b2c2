"""Policy checks on a plan: what reviewers and auditors would otherwise check by eye.

They read the plan (the resources as registered, with their inputs), not the program's
intentions, so a bug in a component or a bad policy file is caught the same way as a bad
inventory. Each check returns findings; `run_all` runs them all.
"""
from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import asdict, dataclass

from ..model.schema import Inventory
from .desired import dr_systems
from .policy import CloudPolicy
from .replacement import DELETE_FIRST
from .settings import ADMIN_PROVIDER, StackSettings

T_RULE = "openstack:networking/secGroupRule:SecGroupRule"
T_PORT = "openstack:networking/port:Port"
T_INSTANCE = "openstack:compute/instance:Instance"
T_SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
T_VOLUME = "openstack:blockstorage/volume:Volume"
T_ATTACH = "openstack:compute/volumeAttach:VolumeAttach"
T_FIP = "openstack:networking/floatingIp:FloatingIp"
T_QUOTA_VOL = "openstack:blockstorage/quoteSetV3:QuoteSetV3"
T_LB = "openstack:loadbalancer/loadBalancer:LoadBalancer"
T_PROJECT = "openstack:identity/project:Project"
T_PROVIDER = "pulumi:providers:openstack"
SERVER = "dcops:cloud:Server"
PROTECTED_POLICIES = {"anti-affinity", "soft-anti-affinity"}
REQUIRED_METADATA = ("system", "owner", "security_level", "backup_policy")


@dataclass(frozen=True, order=True)
class Finding:
    severity: str  # error | warning
    check: str
    subject: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def _ref_name(ref: str | None) -> str | None:
    """'<networking/secGroup:sg-dmz>' -> 'sg-dmz'."""
    if isinstance(ref, str) and ref.startswith("<") and ref.endswith(">"):
        return ref[1:-1].split(":", 1)[-1]
    return ref


def _of(plan: dict, typ: str) -> list[dict]:
    return [r for r in plan["resources"] if r["type"] == typ]


def _rule_span(r: dict) -> tuple[str | None, int, int]:
    i = r["inputs"]
    proto = i.get("protocol") or None
    lo, hi = i.get("portRangeMin"), i.get("portRangeMax")
    if proto in (None, "tcp", "udp") and (lo in (None, 0) and hi in (None, 0)):
        lo, hi = 1, 65535
    return proto, int(lo or 1), int(hi or lo or 65535)


def _overlaps(rule_proto, lo, hi, proto: str, plo: int, phi: int) -> bool:
    if rule_proto not in (None, "any", proto):
        return False
    return lo <= phi and plo <= hi


def _remote(r: dict) -> ipaddress.IPv4Network | None:
    """The rule's source; None means a remote security group (not an address range)."""
    i = r["inputs"]
    if i.get("remoteGroupId") and not i.get("remoteIpPrefix"):
        return None
    return ipaddress.ip_network(i.get("remoteIpPrefix") or "0.0.0.0/0", strict=False)


def _is_internet(net: ipaddress.IPv4Network) -> bool:
    # A rule reaches the internet when its source is not entirely private address space.
    return not (net.is_private and net.prefixlen > 0)


def _ingress(plan: dict):
    for r in _of(plan, T_RULE):
        if (r["inputs"].get("direction") or "ingress") == "ingress":
            yield r


def check_internet_exposure(plan: dict, policy: CloudPolicy) -> list[Finding]:
    out = []
    for r in _ingress(plan):
        net = _remote(r)
        if net is None or not _is_internet(net):
            continue
        proto, lo, hi = _rule_span(r)
        for f in policy.forbidden_from_internet:
            plo, phi = f.port_range
            if _overlaps(proto, lo, hi, f.protocol, plo, phi):
                sg = _ref_name(r["inputs"].get("securityGroupId"))
                out.append(Finding("error", "no-internet-admin-or-db", r["name"],
                                   f"{sg}: opens {f.service} ({f.ports}/{f.protocol}) to {net}"))
    return out


def check_management_sources(plan: dict, inv: Inventory, policy: CloudPolicy) -> list[Finding]:
    allowed = [inv.zone(z).subnet for z in policy.management.sources]
    mgmt_ports = [(m.protocol, *m.port_range) for m in policy.management.rules if m.port_range]
    out = []
    for r in _ingress(plan):
        net = _remote(r)
        if net is None or any(net.subnet_of(a) for a in allowed):
            continue
        proto, lo, hi = _rule_span(r)
        for p, plo, phi in mgmt_ports:
            if _overlaps(proto, lo, hi, p, plo, phi):
                sg = _ref_name(r["inputs"].get("securityGroupId"))
                out.append(Finding("error", "management-only-from-mgmt", r["name"],
                                   f"{sg}: management port {plo if plo == phi else f'{plo}-{phi}'}/{p} "
                                   f"open from {net}, outside {', '.join(map(str, allowed))}"))
                break
    return out


def check_ports_have_security_groups(plan: dict) -> list[Finding]:
    out = []
    for r in _of(plan, T_PORT):
        if not (r["parent"] or "").startswith(SERVER + "::"):
            continue
        i = r["inputs"]
        if i.get("portSecurityEnabled") is False or i.get("noSecurityGroups"):
            out.append(Finding("error", "vm-has-security-group", r["name"], "port security disabled"))
        elif not i.get("securityGroupIds"):
            out.append(Finding("error", "vm-has-security-group", r["name"], "VM port without a security group"))
    return out


def check_port_ownership(plan: dict) -> list[Finding]:
    """Ports as Neutron and Nova accept them: a pinned address on a network the tenant does not own is
    the admin's call (create_port:fixed_ips:ip_address), and a server boots only on a port of its own
    project (Nova: PortNotUsable). tests/cloud/test_neutron_policy.py holds this to Neutron's policy."""
    projects = {r["inputs"].get("name"): f"<identity/project:{r['name']}>" for r in _of(plan, T_PROJECT)}
    provider_project = {r["name"]: projects.get(r["inputs"].get("tenantName"))
                        for r in _of(plan, T_PROVIDER) if r["name"] != ADMIN_PROVIDER}
    out, owner = [], {}
    for r in _of(plan, T_PORT):
        i = r["inputs"]
        owner[f"<networking/port:{r['name']}>"] = i.get("tenantId") or provider_project.get(r["provider"])
        if r["provider"] == ADMIN_PROVIDER and not i.get("tenantId") and (r["parent"] or "").startswith(SERVER + "::"):
            out.append(Finding("error", "port-in-server-project", r["name"],
                               "a VM port the admin creates without tenant_id lands in the admin project: Nova "
                               "refuses to boot the tenant's server on it (PortNotUsable)"))
        if r["provider"] != ADMIN_PROVIDER and any(f.get("ipAddress") for f in i.get("fixedIps") or []):
            out.append(Finding("error", "fixed-ip-port-by-admin", r["name"],
                               f"pins {', '.join(f['ipAddress'] for f in i['fixedIps'] if f.get('ipAddress'))} "
                               f"with provider {r['provider']}: Neutron's create_port:fixed_ips:ip_address allows "
                               "only admin, service or the network owner (403)"))
    for r in _of(plan, T_INSTANCE):
        want = provider_project.get(r["provider"])
        for net in r["inputs"].get("networks") or []:
            port = net.get("port")
            if port in owner and owner[port] != want:
                out.append(Finding("error", "port-in-server-project", r["name"],
                                   f"port {_ref_name(port)} belongs to {owner[port]}, the server to {want}: "
                                   "Nova refuses it (PortNotUsable)"))
    return out


def check_replacement_safety(plan: dict, *, retain_visible: bool = True) -> list[Finding]:
    """Resources holding a unique thing are replaced delete-first; boot volumes ignore image changes;
    data volumes can grow while attached and outlive the program (retain_on_delete: not visible to
    CrossGuard, hence `retain_visible`)."""
    out = []
    for r in plan["resources"]:
        opts = r.get("options") or {}
        if r["type"] in DELETE_FIRST and not opts.get("deleteBeforeReplace"):
            out.append(Finding("error", "replace-delete-first", r["name"],
                               f"{r['kind']} without delete_before_replace: its replacement "
                               f"{DELETE_FIRST[r['type']]}"))
        if r["type"] == T_VOLUME and (r["parent"] or "").startswith(SERVER + "::"):
            if (r["inputs"].get("imageId") and "imageId" not in (opts.get("ignoreChanges") or [])):
                out.append(Finding("error", "boot-volume-image-pinned", r["name"],
                                   "a new image under the same name (or a bumped pin) would replace this boot volume: "
                                   "ignore_changes imageId"))
            if not r["inputs"].get("imageId"):
                if not r["inputs"].get("enableOnlineResize"):
                    out.append(Finding("error", "data-volume-online-resize", r["name"],
                                       "attached data volume cannot grow without enable_online_resize"))
                if retain_visible and not opts.get("retainOnDelete"):
                    out.append(Finding("error", "data-volume-retained", r["name"],
                                       "data volume without retain_on_delete"))
    return out


def check_instances_protected(plan: dict, inv: Inventory) -> list[Finding]:
    groups = {r["name"]: r["inputs"].get("policies") for r in _of(plan, T_SERVER_GROUP)}
    vms = {v.name: v for v in inv.vms}
    out = []
    for r in _of(plan, T_INSTANCE):
        meta = r["inputs"].get("metadata") or {}
        missing = [k for k in REQUIRED_METADATA if not meta.get(k)]
        if missing:
            out.append(Finding("error", "instance-metadata", r["name"], f"metadata lacks {', '.join(missing)}"))
            continue
        vm = vms.get(r["inputs"].get("name") or r["name"])
        if vm is not None:
            want = vm.backup_policy or "none"
            if meta["backup_policy"] != want:
                out.append(Finding("error", "instance-backup-policy", r["name"],
                                   f"backup_policy {meta['backup_policy']!r}, inventory says {want!r}"))
        try:
            level = int(meta["security_level"])
        except ValueError:
            level = 0
        if level < 3:
            continue
        if meta["backup_policy"] == "none":
            out.append(Finding("error", "level3-backup", r["name"], f"level-{level} VM without a backup policy"))
        hints = r["inputs"].get("schedulerHints") or []
        group_ref = next((h.get("group") for h in hints if h.get("group")), None)
        gname = _ref_name(group_ref)
        policy = groups.get(gname)
        if not group_ref:
            out.append(Finding("error", "level3-anti-affinity", r["name"], f"level-{level} VM in no server group"))
        elif policy not in PROTECTED_POLICIES:
            out.append(Finding("error", "level3-anti-affinity", r["name"],
                               f"level-{level} VM in server group {gname} with policy {policy!r}"))
    return out


def check_floating_ips(plan: dict, inv: Inventory) -> list[Finding]:
    vms = {v.name: v for v in inv.vms}
    ports = {r["name"]: r for r in _of(plan, T_PORT)}
    lbs = {r["name"]: r for r in _of(plan, T_LB)}
    out = []
    for r in _of(plan, T_FIP):
        port = _ref_name(r["inputs"].get("portId"))
        if port and port.endswith("-vip") and (lb := lbs.get(port.removesuffix("-vip"))) is not None:
            out += _vip_floating_ip(r, lb, inv)
            continue
        owner = (ports.get(port) or {}).get("parent", "") or ""
        vm = vms.get(owner.split("::", 1)[-1]) if owner.startswith(SERVER + "::") else None
        if vm is None:
            out.append(Finding("error", "floating-ip-public-dmz", r["name"], f"on port {port}, not a VM's port"))
        elif not vm.public or inv.zone(vm.zone).kind.value != "dmz":
            out.append(Finding("error", "floating-ip-public-dmz", r["name"],
                               f"{vm.name} is {'public' if vm.public else 'not public'} in zone {vm.zone}: "
                               "floating IPs are for public DMZ services only"))
        elif (system := inv.system(vm.system)).publish != "direct":
            out.append(Finding("error", "floating-ip-public-dmz", r["name"],
                               f"{vm.name} is published through the WAF (pool-{system.name}): a floating IP bypasses it"))
    return out


def _system_tag(r: dict) -> str | None:
    return next((t.split("=", 1)[1] for t in r["inputs"].get("tags") or () if t.startswith("system=")), None)


def _vip_floating_ip(fip: dict, lb: dict, inv: Inventory) -> list[Finding]:
    """A load balancer's VIP with a floating IP publishes its system around the WAF, exactly as a VM's own
    floating IP would: only a public system declared `publish: direct` (with its publish_reason) may have it."""
    name = _system_tag(lb)
    system = next((s for s in inv.systems if s.name == name), None)
    if system is None:
        return [Finding("error", "floating-ip-public-dmz", fip["name"],
                        f"on {lb['name']}'s VIP, whose system {name!r} is not in the inventory")]
    if not system.public:
        return [Finding("error", "floating-ip-public-dmz", fip["name"],
                        f"on {lb['name']}'s VIP: system {system.name} is not public")]
    if system.publish != "direct":
        return [Finding("error", "floating-ip-public-dmz", fip["name"],
                        f"{lb['name']}'s VIP is {system.name}'s, published through the WAF (pool-{system.name}): "
                        "a floating IP on the VIP bypasses it (declare `publish: direct` with a reason, or drop it)")]
    return []


def check_floating_ip_publication(plan: dict, inv: Inventory) -> list[Finding]:
    """check_floating_ips for one resource as CrossGuard sees it (a real preview's port IDs are UUIDs or unknown,
    so the port cannot be followed): every floating IP names its system (tag system=…), and that system is public
    and declared `publish: direct` — any other floating IP, on a VM or a load balancer's VIP, is a path around
    the WAF."""
    systems = {s.name: s for s in inv.systems}
    out = []
    for r in _of(plan, T_FIP):
        name = _system_tag(r)
        system = systems.get(name)
        if system is None:
            why = "names no system (tag system=…)" if name is None else f"names system {name!r}, not in the inventory"
            out.append(Finding("error", "floating-ip-public-dmz", r["name"], why))
        elif not system.public or system.publish != "direct":
            how = "not public" if not system.public else f"published through the WAF (pool-{system.name})"
            out.append(Finding("error", "floating-ip-public-dmz", r["name"],
                               f"system {system.name} is {how}: a floating IP bypasses the WAF (declare "
                               "`publish: direct` with a reason on the system, or drop it)"))
    return out


def check_volumes(plan: dict, inv: Inventory) -> list[Finding]:
    """Every declared VM's boot and data volumes have the inventory's size and type, and are attached."""
    vols = {r["name"]: r["inputs"] for r in _of(plan, T_VOLUME)}
    attached = {(_ref_name(r["inputs"].get("instanceId")), _ref_name(r["inputs"].get("volumeId")))
                for r in _of(plan, T_ATTACH)}
    declared = {r["name"] for r in _of(plan, T_INSTANCE)}
    expected: set[str] = set()
    out = []

    def same(name: str, size: int, vtype: str) -> None:
        expected.add(name)
        got = vols.get(name)
        if got is None:
            out.append(Finding("error", "volume-matches-inventory", name, "missing"))
        elif (got.get("size"), got.get("volumeType")) != (size, vtype):
            out.append(Finding("error", "volume-matches-inventory", name,
                               f"{got.get('size')} GB {got.get('volumeType')}, inventory says {size} GB {vtype}"))

    for vm in inv.vms:
        if vm.name not in declared:
            continue
        same(f"{vm.name}-boot", inv.boot_gb(vm), vm.boot_pool)
        for v in vm.volumes:
            same(f"{vm.name}-{v.name}", v.size_gb, v.pool)
            if (vm.name, f"{vm.name}-{v.name}") not in attached:
                out.append(Finding("error", "volume-attached", f"{vm.name}-{v.name}", f"not attached to {vm.name}"))
    for name in sorted(set(vols) - expected):
        out.append(Finding("error", "volume-matches-inventory", name, "not in the inventory"))
    return out


def check_san_quotas(plan: dict, inv: Inventory) -> list[Finding]:
    per_type: dict[str, int] = defaultdict(int)
    total = 0
    for r in _of(plan, T_QUOTA_VOL):
        total += int(r["inputs"].get("gigabytes") or 0)
        for k, v in (r["inputs"].get("volumeTypeQuota") or {}).items():
            if k.startswith("gigabytes_"):
                per_type[k.removeprefix("gigabytes_")] += int(v)
    out = []
    for p in inv.storage.san.pools:
        cap = int(p.capacity_tb * 1000)
        if per_type.get(p.name, 0) > cap:
            out.append(Finding("error", "quota-within-san", p.name,
                               f"project quotas {per_type[p.name]:,} GB exceed pool {cap:,} GB"))
    usable = int(inv.storage.san.usable_tb * 1000)
    if total > usable:
        out.append(Finding("error", "quota-within-san", inv.storage.san.name,
                           f"project quotas {total:,} GB exceed the SAN's {usable:,} GB usable"))
    return out


def check_scope(plan: dict, inv: Inventory, st: StackSettings) -> list[Finding]:
    """The stack declares exactly its systems: all of them for the site, the DR selection for DR."""
    want = set(dr_systems(inv, st.dr)[0]) if st.scope == "dr" else {v.system for v in inv.vms}
    have = {(r["inputs"].get("metadata") or {}).get("system") for r in _of(plan, T_INSTANCE)}
    out = []
    for s in sorted(want - have):
        out.append(Finding("error", "stack-scope", s, f"{st.scope} stack lacks this system's VMs"))
    for s in sorted(have - want, key=str):
        out.append(Finding("error", "stack-scope", str(s), f"{st.scope} stack declares VMs of a system outside it"))
    if st.scope == "site":
        names = {r["inputs"].get("name") for r in _of(plan, T_INSTANCE)}
        for vm in inv.vms:
            if vm.name not in names:
                out.append(Finding("error", "stack-scope", vm.name, "inventory VM not declared"))
    return out


def run_all(plan: dict, inv: Inventory, policy: CloudPolicy, st: StackSettings) -> list[Finding]:
    findings = [
        *check_internet_exposure(plan, policy),
        *check_management_sources(plan, inv, policy),
        *check_ports_have_security_groups(plan),
        *check_port_ownership(plan),
        *check_replacement_safety(plan),
        *check_instances_protected(plan, inv),
        *check_floating_ips(plan, inv),
        *check_volumes(plan, inv),
        *check_san_quotas(plan, inv),
        *check_scope(plan, inv, st),
    ]
    return sorted(set(findings))
