"""Generate an inventory N times the shipped site (for bench/bench_plan.py), into a folder you give.

Replicas 1..N-1 copy the hosts, tenants, systems, HA groups and VMs with a `-rK` suffix;
SAN, tape and pools grow N-fold; cloud zones move to /16s so every replica keeps its
addresses (offset K x 1024 inside the zone). Network devices, facility (but the UPS, scaled with the
site so the power-loss shutdown plan still fits) and budgets stay
as they are. The result passes `load_inventory` (names, addressing, capacity), and a
matching cloud policy (router and VIP addresses moved with their zone) is written next to it.
"""
from __future__ import annotations

import copy
import ipaddress
import re
from pathlib import Path

from ruamel.yaml import YAML

from .. import paths

REPLICATED = ("hosts", "tenants", "systems", "ha_groups", "vms")
#: fields that name an item of a replicated section, per section
RENAMED = {"hosts": ("name",), "tenants": ("name",), "systems": ("name", "owner"),
           "ha_groups": ("name", "system"), "vms": ("name", "tenant", "system", "ha_group")}
ADDR = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3})(/\d{1,2})?$")
STRIDE = 1024
NEW_NET = {  # cloud zones -> /16s with room for 64 replicas
    "mgmt": "10.64.0.0/16", "oob": "10.65.0.0/16", "dmz": "10.66.0.0/16", "app": "10.67.0.0/16",
    "db": "10.68.0.0/16", "storage": "10.69.0.0/16",
}


def _yaml() -> YAML:
    y = YAML(typ="safe")
    y.default_flow_style = False
    y.allow_unicode = True
    return y


class _Remap:
    def __init__(self, zones: list[dict]):
        self.moves = []
        for z in zones:
            if z["name"] in NEW_NET:
                old, new = ipaddress.ip_network(z["subnet"]), ipaddress.ip_network(NEW_NET[z["name"]])
                self.moves.append((old, new))

    def addr(self, value: str, replica: int = 0) -> str:
        m = ADDR.match(value)
        if not m:
            return value
        ip = ipaddress.ip_address(m.group(1))
        for old, new in self.moves:
            if ip in old:
                if m.group(2) and ip == old.network_address:
                    return str(new)  # the zone's subnet itself
                moved = new.network_address + (int(ip) - int(old.network_address)) + replica * STRIDE
                return f"{moved}/{new.prefixlen}" if m.group(2) else str(moved)  # interfaces take the new mask
        return value

    def walk(self, node, replica: int = 0):
        if isinstance(node, dict):
            return {k: self.walk(v, replica) for k, v in node.items()}
        if isinstance(node, list):
            return [self.walk(v, replica) for v in node]
        if isinstance(node, str):
            return self.addr(node, replica)
        return node


def _rename(item: dict, section: str, k: int) -> dict:
    out = copy.deepcopy(item)
    for f in RENAMED[section]:
        if out.get(f):
            out[f] = f"{out[f]}-r{k}"
    return out


def generate(dest: Path | str, factor: int = 10, source: Path | str | None = None,
             policy: Path | str | None = None) -> tuple[Path, Path]:
    """Write the scaled inventory to dest/inventory and its policy to dest/cloud_policy.yaml."""
    if not 1 <= factor <= 64:
        raise ValueError("factor must be 1..64")
    source = Path(source) if source else paths.INVENTORY
    dest = Path(dest)
    inv_dir = dest / "inventory"
    y = _yaml()
    docs = {p.relative_to(source): y.load(p.read_text(encoding="utf-8")) or {}
            for p in sorted(source.rglob("*.yaml"))}
    zones = [z for d in docs.values() for z in d.get("zones", [])]
    remap = _Remap(zones)
    for rel, doc in docs.items():
        out = {}
        for section, value in doc.items():
            if section in REPLICATED:
                items = [remap.walk(i) for i in value]
                for k in range(1, factor):
                    items += [remap.walk(_rename(i, section, k), k) for i in value]
                out[section] = items
            elif section == "storage":
                st = copy.deepcopy(value)
                st["san"]["usable_tb"] *= factor
                for p in st["san"]["pools"]:
                    p["capacity_tb"] *= factor
                st["tape"]["capacity_tb"] *= factor
                out[section] = st
            elif section == "facility":
                # the UPS grows with the site (battery strings in parallel): the power-loss shutdown plan
                # of N times the machines must still fit its budget, as validate checks
                fac = [remap.walk(i) for i in value]
                for item in fac:
                    if item.get("kind") == "ups":
                        item["battery_runtime_min"] *= factor
                        item["capacity_kva"] *= factor
                out[section] = fac
            else:
                out[section] = remap.walk(value)
        path = inv_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            y.dump(out, f)
    pol = y.load(Path(policy or paths.CLOUD_POLICY).read_text(encoding="utf-8"))
    pol_path = dest / "cloud_policy.yaml"
    with pol_path.open("w", encoding="utf-8") as f:
        y.dump(remap.walk(pol), f)
    return inv_dir, pol_path
