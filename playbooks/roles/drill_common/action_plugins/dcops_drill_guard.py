"""Refuse a host the dcops model does not mark drill_enabled — from a source extra vars cannot change.

`-e dcops_drill_enabled=true` (or `-e inventory_hostname=…`, `-e groups=…`) overrides every
variable a Jinja assert could read, and extra vars are what an AWX survey or job template sets.
So this guard takes the host from the worker process Ansible started for it (the inventory Host
object, not a variable) and re-reads the model (DCOPS_INVENTORY or the checkout's inventory/).
"""
from __future__ import annotations

import multiprocessing
import os

from ansible.plugins.action import ActionBase


def _model_says(host: str) -> tuple[bool | None, str]:
    from dcops.model import InventoryInvalid, load_inventory
    try:
        inv = load_inventory(os.environ.get("DCOPS_INVENTORY") or None)
    except InventoryInvalid as e:
        return None, f"the dcops inventory is invalid: {str(e)[:300]}"
    for coll in (inv.vms, inv.hosts, inv.network_devices):
        for item in coll:
            if item.name == host:
                return bool(item.drill_enabled), ""
    return None, f"{host} is not in the dcops inventory"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # decides on the controller; never touches the target

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        host = getattr(getattr(multiprocessing.current_process(), "_host", None), "name", None)
        result["changed"] = False
        if host is None:
            return {**result, "failed": True, "msg": "REFUSED: cannot tell which inventory host this task runs for"}
        claimed = task_vars.get("inventory_hostname")
        if claimed != host:
            return {**result, "failed": True,
                    "msg": f"REFUSED: {host}: inventory_hostname is overridden ({claimed!r}, extra vars?); "
                           "drills never run under a borrowed name"}
        enabled, why = _model_says(host)
        if not enabled:
            return {**result, "failed": True,
                    "msg": f"REFUSED: {host} is not marked drill_enabled in the inventory; drills never touch it."
                           + (f" ({why})" if why else "")
                           + (" Extra vars cannot change this." if task_vars.get("dcops_drill_enabled") else "")}
        result["msg"] = f"{host} is drill-enabled (dcops model)"
        return result
