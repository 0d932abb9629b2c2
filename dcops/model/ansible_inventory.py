"""The Ansible inventory, derived from the model so playbooks never keep their own host lists.

One inventory: `dcops inventory ansible` prints exactly what the playbooks get (playbooks/inventory/dcops.py
and the drills add only connection settings of a lab or staging overlay).

Groups: role_<role> for physical hosts, zone_<zone>, tenant_<tenant>, system_<system>,
level_<n> (Decree 85 security level) and ha_<group> for VMs, kind_<kind> for network and
facility devices, backup_target_<target> and dr_required, plus drill_enabled for whatever the
inventory lets drills touch. all.vars: the site (NTP/syslog/DNS) and `dcops_platforms` — per network
platform, the `ansible:` section of network_configs/platforms/<name>/platform.yaml (how a role reads,
checks and applies a configuration there), so roles keep no per-platform defaults.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ruamel.yaml import YAML

from .. import paths
from .schema import Inventory


def _slug(name: str) -> str:
    return name.replace("-", "_").replace(".", "_")


def platform_knowledge(platforms_dir: Path | None = None) -> dict[str, dict]:
    """platform name -> its platform.yaml `ansible:` section (only platforms that have one)."""
    root = Path(platforms_dir or paths.platforms())
    out = {}
    for spec in sorted(root.glob("*/platform.yaml")):
        doc = YAML(typ="safe").load(spec.read_text(encoding="utf-8")) or {}
        if isinstance(doc.get("ansible"), dict):
            out[spec.parent.name] = doc["ansible"]
    return out


def build(inv: Inventory, platforms_dir: Path | None = None) -> dict:
    """Dynamic-inventory JSON (`ansible-inventory --list` shape): groups with hosts, plus _meta.hostvars
    and all.vars — the whole inventory the playbooks get."""
    out = _hosts_and_groups(inv)
    _playbook_facts(inv, out)
    out["all"]["vars"]["dcops_platforms"] = platform_knowledge(platforms_dir)
    return out


def _hosts_and_groups(inv: Inventory) -> dict:
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


def _playbook_facts(inv: Inventory, out: dict) -> None:
    """What the roles need beyond the host lists: site services, each host's own address, the
    system and backup facts of VMs, the leased lines of the link balancer."""
    hv = out["_meta"]["hostvars"]
    site = inv.site
    out["all"]["vars"] = {
        "dcops_site": {
            "code": site.code, "name": site.name, "timezone": site.timezone,
            "ntp_servers": list(site.ntp_servers), "syslog_servers": list(site.syslog_servers),
            "dns_servers": list(site.dns_servers),
        },
    }
    groups: dict[str, list[str]] = {}
    for vars_ in hv.values():
        vars_["dcops_address"] = vars_["ansible_host"]
    for vm in inv.vms:
        policy = inv.backup_policy(vm.backup_policy) if vm.backup_policy else None
        system = inv.system(vm.system)
        hv[vm.name].update({
            "dcops_system_name": system.display_name,
            "dcops_dr_required": system.dr_required,
            "dcops_backup_target": policy.target if policy else None,
            "dcops_backup_retention_days": policy.retention_days if policy else None,
            "dcops_replicate_to_dr": policy.replicate_to_dr if policy else False,
        })
        if policy:
            groups.setdefault(f"backup_target_{_slug(policy.target)}", []).append(vm.name)
        if system.dr_required or (policy and policy.replicate_to_dr):
            groups.setdefault("dr_required", []).append(vm.name)
    for d in inv.network_devices:
        lines = [ln for ln in inv.leased_lines if ln.device == d.name]
        if lines:
            hv[d.name]["dcops_leased_lines"] = [
                {"name": ln.name, "provider": ln.provider, "interface": ln.interface,
                 "address": str(ln.address.ip), "peer": str(ln.peer),
                 "public_prefix": str(ln.public_prefix), "bandwidth_mbps": ln.bandwidth_mbps}
                for ln in lines]
    for name, members in groups.items():
        out[name] = {"hosts": sorted(members)}
    out["all"]["children"] = sorted(set(out["all"]["children"]) - {"ungrouped"} | set(groups)) + ["ungrouped"]


def to_yaml_inventory(dynamic: dict) -> dict:
    """The same inventory in Ansible's static YAML form (one file playbooks can point at; what
    ansible-runner gets per drill run)."""
    hv = dynamic["_meta"]["hostvars"]
    children = {n: {"hosts": {h: None for h in b["hosts"]}} for n, b in dynamic.items()
                if n not in ("_meta", "all") and b.get("hosts")}
    return {"all": {"vars": dynamic["all"].get("vars", {}), "hosts": hv, "children": children}}
