"""The Ansible inventory the drills and playbooks use: the model's one inventory
(`dcops.model.ansible_inventory.build`, exactly what `dcops inventory ansible` prints), never a second
host list. A lab or staging run lays an *overlay* on top: per-host connection vars (ansible_host, port,
key, ...) keyed by inventory name.
"""
from __future__ import annotations

import copy
from typing import Mapping

from dcops.model import Inventory
from dcops.model.ansible_inventory import build, to_yaml_inventory

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
    "baseline_packages", "baseline_lab_services",
    "bacula_fd_root", "bacula_fd_manage_service", "bacula_fd_address",
})
#: which lab a host belongs to (namespace, lab prefix, control namespace): the lab's identity, not a
#: stand-in; a record made from the playbook's own run (replay.py) reads the lab from them
LAB_IDENTITY_KEYS = frozenset({"dcops_lab_ns", "dcops_lab_prefix", "dcops_lab_control_ns"})
LAB_KEYS = LAB_KEYS | LAB_IDENTITY_KEYS
OVERLAY_KEYS = CONNECTION_KEYS | LAB_KEYS


def dynamic(inv: Inventory, overlay: Mapping[str, Mapping] | None = None, *, lab: bool = False) -> dict:
    """`ansible-inventory --list` JSON: the model's one inventory (what `dcops inventory ansible` prints),
    with an optional overlay of connection settings."""
    out = build(inv)
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
    return to_yaml_inventory(dyn)
