"""Public exposure the running cloud has and the program does not declare: a floating IP bound to an address the
program owns (a VM's port, a load balancer's VIP) while the plan puts none there.

The plan declares a floating IP only for a public system published directly (`publish: direct` with its reason);
every other public system is published through the WAF, so a floating IP on one of its VMs or on its VIP is a
public path around the WAF (until the WAF check covered VIPs, the program itself declared one on each of the
portal, dvc and mail load balancers). `dcops cloud import` names each one in its report and `dcops cloud drift`
reports it as drift (exit 1): the operator releases it (`openstack floating ip delete ID`) once the WAF serves the
system. Floating IPs on addresses the program does not own stay ordinary "in the cloud, not in the inventory" rows.
"""
from __future__ import annotations

from .adopt import T_FIP, T_LB, T_PORT, _normalise_all, port_ips
from .listing_model import Adoption, _res


def _system(r: dict) -> str | None:
    return next((t.split("=", 1)[1] for t in r["inputs"].get("tags") or () if t.startswith("system=")), None)


def undeclared_floating_ips(plan: dict, listings: dict, adoption: Adoption, inv=None) -> list[dict]:
    """[{id, address, fixed_ip, on, system, why}] for each unmatched floating IP on an address the plan owns,
    sorted by what it sits on. `inv` (the inventory) says how the system is published, when given."""
    rows = listings.get("floating_ips")
    if not rows:
        return []
    owners: dict[str, tuple[str, str | None]] = {}
    for r in _res(plan, T_PORT):
        for f in r["inputs"].get("fixedIps") or ():
            owners[f.get("ipAddress")] = (r["name"], _system(r))
    for r in _res(plan, T_LB):
        owners[r["inputs"].get("vipAddress")] = (f"{r['name']} VIP", _system(r))
    port_addr = {p["ID"]: port_ips(p) for p in _normalise_all(listings.get("ports") or [])}
    matched = {m.id for m in adoption.matched if m.type == T_FIP}
    systems = {s.name: s for s in inv.systems} if inv is not None else {}
    out = []
    for row in _normalise_all(rows):
        if row["ID"] in matched:
            continue
        addrs = port_addr.get(row.get("Port")) or [row.get("Fixed IP Address")]
        fixed = next((a for a in addrs if a in owners), None)
        if fixed is None:
            continue
        on, name = owners[fixed]
        s = systems.get(name)
        if s is not None and s.public and s.publish == "waf":
            why = f"{name} is published through the WAF (pool-{name}): this floating IP is a path around it"
        else:
            why = "the inventory publishes no floating IP here"
        out.append({"id": row["ID"], "address": row.get("Floating IP Address"), "fixed_ip": fixed, "on": on,
                    "system": name, "why": why})
    return sorted(out, key=lambda x: (x["on"], x["id"]))


def as_drift(found: list[dict]) -> list[dict]:
    """The same, as rows of `dcops cloud drift` (declared: no floating IP; running: the address and its ID)."""
    return [{"type": T_FIP, "resource": f["on"], "field": "floating_ip", "declared": None,
             "running": f"{f['address']} ({f['id']}): {f['why']}"} for f in found]
