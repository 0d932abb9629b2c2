"""The Ansible inventory, derived from the model so playbooks never keep their own host lists.

Groups: role_<role> for physical hosts, zone_<zone>, tenant_<tenant>, system_<system>,
level_<n> (Decree 85 security level) and ha_<group> for VMs, kind_<kind> for network and
facility devices, plus drill_enabled for whatever the inventory lets drills touch.
"""
from __future__ import annotations

from collections import defaultdict

from .schema import Inventory


def _slug(name: str) -> str:
    return name.replace("-", "_").replace(".", "_")


def build(inv: Inventory) -> dict:
    """Dynamic-inventory JSON (`ansible-inventory --list` shape): groups with hosts, plus _meta.hostvars."""
    groups: dict[str, set[str]] = defaultdict(set)
    hostvars: dict[str, dict] = {}
    flavors = {f.name: f for f in inv.flavors}
    policies = {p.name: p for p in inv.storage.backup_policies}

    for h in inv.hosts:
        groups["physical"].add(h.name)
        groups[f"role_{h.role.value}"].add(h.name)
        if h.aggregate:
            groups[f"aggregate_{_slug(h.aggregate)}"].add(h.name)
        if h.drill_enabled:
            groups["drill_enabled"].add(h.name)
        hostvars[h.name] = {
            "ansible_host": str(h.mgmt_ip), "dcops_kind": "host", "dcops_role": h.role.value,
            "dcops_bmc_ip": str(h.bmc_ip), "dcops_rack": h.rack, "dcops_u": h.u,
            "dcops_cpu_cores": h.cpu_cores, "dcops_ram_gb": h.ram_gb,
            "dcops_drill_enabled": h.drill_enabled,
        }
    for vm in inv.vms:
        system = inv.system(vm.system)
        groups["vms"].add(vm.name)
        groups[f"zone_{_slug(vm.zone)}"].add(vm.name)
        groups[f"tenant_{_slug(vm.tenant)}"].add(vm.name)
        groups[f"system_{_slug(vm.system)}"].add(vm.name)
        groups[f"level_{system.security_level}"].add(vm.name)
        if vm.ha_group:
            groups[f"ha_{_slug(vm.ha_group)}"].add(vm.name)
        if vm.backup_policy:
            groups[f"backup_{_slug(vm.backup_policy)}"].add(vm.name)
        if vm.drill_enabled:
            groups["drill_enabled"].add(vm.name)
        policy = policies.get(vm.backup_policy or "")
        hostvars[vm.name] = {
            "ansible_host": str(vm.ip), "dcops_kind": "vm", "dcops_tenant": vm.tenant,
            "dcops_system": vm.system, "dcops_security_level": system.security_level,
            "dcops_zone": vm.zone, "dcops_flavor": vm.flavor, "dcops_vcpus": flavors[vm.flavor].vcpus,
            "dcops_ram_gb": flavors[vm.flavor].ram_gb, "dcops_ha_group": vm.ha_group,
            "dcops_backup_policy": vm.backup_policy,
            "dcops_rpo_hours": policy.rpo_hours if policy else None,
            "dcops_rto_hours": policy.rto_hours if policy else None,
            "dcops_data_gb": inv.boot_gb(vm) + sum(v.size_gb for v in vm.volumes),
            "dcops_drill_enabled": vm.drill_enabled,
        }
    for d in inv.network_devices:
        groups["network_devices"].add(d.name)
        groups[f"kind_{d.kind.value}"].add(d.name)
        if d.platform:
            groups[f"platform_{_slug(d.platform)}"].add(d.name)
        if d.drill_enabled:
            groups["drill_enabled"].add(d.name)
        hostvars[d.name] = {"ansible_host": str(d.mgmt_ip), "dcops_kind": d.kind.value,
                            "dcops_platform": d.platform, "dcops_vendor": d.vendor,
                            "dcops_ha_group": d.ha_group, "dcops_drill_enabled": d.drill_enabled}
    for f in inv.facility:
        if f.mgmt_ip is None:
            continue
        groups["facility"].add(f.name)
        groups[f"kind_{f.kind.value}"].add(f.name)
        hostvars[f.name] = {"ansible_host": str(f.mgmt_ip), "dcops_kind": f.kind.value,
                            "dcops_vendor": f.vendor, "dcops_model": f.model}

    out: dict = {"_meta": {"hostvars": {k: hostvars[k] for k in sorted(hostvars)}}}
    out["all"] = {"children": sorted(groups) + ["ungrouped"]}
    for name in sorted(groups):
        out[name] = {"hosts": sorted(groups[name])}
    return out


def to_yaml_inventory(dynamic: dict) -> dict:
    """The same inventory in Ansible's static YAML form (one file playbooks can point at)."""
    hostvars = dynamic["_meta"]["hostvars"]
    children = {}
    for name, body in dynamic.items():
        if name in ("_meta", "all"):
            continue
        children[name] = {"hosts": {h: None for h in body["hosts"]}}
    return {"all": {"hosts": {h: hostvars[h] for h in hostvars}, "children": children}}
