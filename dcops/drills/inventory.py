"""The Ansible inventory the drills and playbooks use: the model's, plus facts the roles need.

`dcops.model.ansible_inventory.build` gives hosts, groups and dcops_* hostvars.
This adds what only the playbooks need (site NTP/syslog/DNS, leased lines of the
link balancer, each target's own address in its zone) — derived from the same
model, never a second host list. A lab or staging run lays an *overlay* on top:
per-host connection vars (ansible_host, port, key, ...) keyed by inventory name.
"""
from __future__ import annotations

import copy
from typing import Mapping

from dcops.model import Inventory
from dcops.model.ansible_inventory import build

#: connection variables an overlay (--targets-file, DCOPS_ANSIBLE_OVERLAY) may set; anything else is
#: a mistake: a drill must not quietly change what the inventory says a target *is* or *does*.
CONNECTION_KEYS = frozenset({
    "ansible_host", "ansible_port", "ansible_user", "ansible_ssh_private_key_file",
    "ansible_ssh_common_args", "ansible_python_interpreter", "ansible_connection",
})
#: what only a namespace lab built in-process (DrillLab) may change, and the record lists it
#: (environment.lab_overrides): the lab's Linux stand-ins for the real platforms.
LAB_KEYS = frozenset({
    "dcops_platform", "dcops_lab_ns", "dcops_redfish_url", "dcops_power_on_method",
    "drill_power_shutdown_command", "fw_config_path", "baseline_root", "baseline_manage_services",
})
OVERLAY_KEYS = CONNECTION_KEYS | LAB_KEYS


def _slug(name: str) -> str:
    return name.replace("-", "_").replace(".", "_")


def dynamic(inv: Inventory, overlay: Mapping[str, Mapping] | None = None, *, lab: bool = False) -> dict:
    """`ansible-inventory --list` JSON: the model's inventory, enriched, with an optional overlay."""
    out = build(inv)
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
    for name, vars_ in hv.items():
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
    if overlay:
        apply_overlay(out, overlay, lab=lab)
    return out


def apply_overlay(dyn: dict, overlay: Mapping[str, Mapping], *, lab: bool = False) -> None:
    hv = dyn["_meta"]["hostvars"]
    allowed = OVERLAY_KEYS if lab else CONNECTION_KEYS
    for host, vars_ in overlay.items():
        if host not in hv:
            raise KeyError(f"overlay names {host!r}, which is not in the inventory")
        bad = set(vars_) - allowed
        if bad:
            raise ValueError(f"overlay for {host} may only set connection settings, not {sorted(bad)}")
        hv[host].update(copy.deepcopy(dict(vars_)))


def static_yaml(dyn: dict) -> dict:
    """The same inventory as a static YAML/JSON inventory (what ansible-runner gets per run)."""
    hv = dyn["_meta"]["hostvars"]
    children = {n: {"hosts": {h: None for h in b["hosts"]}} for n, b in dyn.items()
                if n not in ("_meta", "all") and b.get("hosts")}
    return {"all": {"vars": dyn["all"].get("vars", {}), "hosts": hv, "children": children}}
