"""What a security appliance is for, derived from the inventory (+ site data the schema lacks).

- WAF: every public information system (``public: true``) published through the WAF:
  its VMs in DMZ zones become a server pool, its host names (common.yaml
  ``public_web``) a content-routing rule. A public system without a DMZ VM is an
  error — it would silently be unprotected.
- Anti-spam gateway: the protected mail domain and the mailbox servers it relays
  to (common.yaml ``mail``: system, zone, host-name pattern).
- DDoS: one protection profile per leased line, protecting its public prefix,
  with thresholds from the platform's data scaled by the line's bandwidth.

Everything here is sorted or in inventory order, so renders stay deterministic;
member ids are the host's offset in its zone subnet, so removing one VM never
renumbers the others.
"""
from __future__ import annotations

import fnmatch
import ipaddress

from dcops.model import DeviceKind, Inventory, NetworkDevice, ZoneKind


class ApplianceError(ValueError):
    pass


def _host_id(inv: Inventory, zone: str, ip) -> int:
    z = inv.zone(zone)
    return int(ipaddress.ip_address(str(ip))) - int(z.subnet.network_address)


def web_sites(inv: Inventory, common: dict) -> list[dict]:
    data = common.get("public_web") or {}
    domain = data.get("domain")
    if not domain:
        raise ApplianceError("network_configs/common.yaml: public_web.domain is missing (the WAF needs host names)")
    hostnames = data.get("hostnames") or {}
    backends = data.get("backends") or {}
    default_backend = {"port": 80, "tls": False, **(data.get("backend") or {})}
    systems = {s.name: s for s in inv.systems}
    stale = sorted(n for n in set(hostnames) | set(backends)
                   if n not in systems or not systems[n].public or systems[n].publish == "direct")
    if stale:
        raise ApplianceError(f"network_configs/common.yaml public_web names systems that are not public "
                             f"information systems published through the WAF in the inventory: {', '.join(stale)}")
    dmz = {z.name for z in inv.zones if z.kind is ZoneKind.dmz}
    sites = []
    for s in inv.systems:
        if not s.public or s.publish == "direct":  # deliberately not behind the WAF (publish_reason says why)
            continue
        vms = sorted((v for v in inv.vms if v.system == s.name and v.zone in dmz), key=lambda v: v.name)
        if not vms:
            raise ApplianceError(f"public system '{s.name}' has no VM in a DMZ zone: the WAF cannot publish it "
                                 f"(add its web VMs, or set public: false)")
        be = {**default_backend, **(backends.get(s.name) or {})}
        sites.append({
            "system": s.name, "display_name": s.display_name, "security_level": s.security_level,
            "hostnames": list(hostnames.get(s.name) or [f"{s.name}.{domain}"]),
            "pool": f"pool-{s.name}", "route": f"route-{s.name}",
            "port": int(be["port"]), "tls": bool(be["tls"]),
            "members": [{"name": v.name, "ip": str(v.ip), "id": _host_id(inv, v.zone, v.ip)} for v in vms],
        })
    return sites


def mail_relay(inv: Inventory, common: dict) -> dict:
    data = common.get("mail") or {}
    for key in ("domain", "system", "mailbox_hosts"):
        if not data.get(key):
            raise ApplianceError(f"network_configs/common.yaml: mail.{key} is missing (the anti-spam gateway needs it)")
    inv.system(data["system"])  # raises with a clear message when unknown
    zone = data.get("zone")
    hosts = sorted((v for v in inv.vms if v.system == data["system"] and (zone is None or v.zone == zone)
                    and fnmatch.fnmatchcase(v.name, data["mailbox_hosts"])), key=lambda v: v.name)
    if not hosts:
        raise ApplianceError(f"no VM of system '{data['system']}' matches mail.mailbox_hosts "
                             f"'{data['mailbox_hosts']}'{f' in zone {zone}' if zone else ''}: nowhere to relay mail")
    return {"domain": data["domain"], "system": data["system"], "port": int(data.get("port", 25)),
            "group": f"{data['system']}-mailbox",
            "hosts": [{"name": v.name, "ip": str(v.ip)} for v in hosts]}


def protected_lines(inv: Inventory, plat_data: dict) -> list[dict]:
    th = plat_data.get("thresholds") or {}
    per_mbps = th.get("per_mbps") or {}
    fixed = th.get("fixed") or {}
    if not inv.leased_lines:
        raise ApplianceError("the inventory has no leased lines: nothing for the DDoS device to protect")
    out = []
    for ll in inv.leased_lines:
        values = {k: int(v * ll.bandwidth_mbps) for k, v in sorted(per_mbps.items())}
        values.update({k: int(v) for k, v in sorted(fixed.items())})
        out.append({"name": ll.name, "provider": ll.provider, "bandwidth_mbps": ll.bandwidth_mbps,
                    "prefix": str(ll.public_prefix), "thresholds": dict(sorted(values.items()))})
    return out


def for_device(inv: Inventory, dev: NetworkDevice, common: dict, plat_data: dict) -> dict:
    if dev.kind is DeviceKind.waf:
        return {"sites": web_sites(inv, common)}
    if dev.kind is DeviceKind.antispam:
        return {"mail": mail_relay(inv, common)}
    if dev.kind is DeviceKind.ddos:
        return {"lines": protected_lines(inv, plat_data)}
    return {}
