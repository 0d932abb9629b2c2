#!/usr/bin/env python3
"""Ansible dynamic inventory: the dcops model (inventory/*.yaml), never a second host list.

    ansible-inventory -i inventory/dcops.py --graph
    DCOPS_INVENTORY=/path/to/inventory  (default: the checkout's inventory/)
    DCOPS_ANSIBLE_OVERLAY=overlay.json  (optional: per-host connection settings for a lab/staging)

Under AWX / Automation Platform use it as an inventory source "Sourced from a Project"
(an execution environment with dcops installed).
"""
import json
import os
import sys


def main() -> int:
    # This file is named dcops.py; keep its folder off the path so `dcops` is the package.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    from dcops.drills.inventory import dynamic
    from dcops.model import InventoryInvalid, load_inventory

    if "--host" in sys.argv:  # all hostvars come in _meta
        print("{}")
        return 0
    try:
        inv = load_inventory(os.environ.get("DCOPS_INVENTORY") or None)
    except InventoryInvalid as e:
        print(f"dcops inventory invalid: {e}", file=sys.stderr)
        return 1
    overlay = None
    if os.environ.get("DCOPS_ANSIBLE_OVERLAY"):
        with open(os.environ["DCOPS_ANSIBLE_OVERLAY"], encoding="utf-8") as f:
            overlay = json.load(f)
    print(json.dumps(dynamic(inv, overlay), ensure_ascii=False, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
