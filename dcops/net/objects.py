"""Address and service objects: hand-written definitions plus objects generated from the inventory.

Generated names (all upper case, `-` → `_`):
  ZONE_<ZONE>            the zone's subnet
  SYS_<SYSTEM>           every VM of an information system
  SYS_<SYSTEM>_<ZONE>    the system's VMs in one zone
  PUBLIC_<ZONE>          VMs of public systems in a zone
  DEV_<KIND>             data-plane addresses of network devices of a kind (DEV_WAF, DEV_ANTISPAM, ...)
  SITE_NTP / SITE_SYSLOG / SITE_DNS   the site's infrastructure servers
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from dcops.model import Inventory

from .paths import DEFINITIONS_DIR


def obj_name(*parts: str) -> str:
    return "_".join(p.upper().replace("-", "_").replace(".", "_") for p in parts)


@dataclass
class Definitions:
    networks: dict[str, list[str]]               # name → CIDRs (sorted, deterministic)
    services: dict[str, list[tuple[int | str, str]]]   # name → (port or "low-high", protocol)
    #: where each hand-written object is defined: name → (file, line); generated ones are absent
    origin: dict[str, tuple[str, int]] = field(default_factory=dict)
    generated: set[str] = field(default_factory=set)
    #: (file, line, message) for entries that were left out: bad ports, protocols without ports
    problems: list[tuple[str, int, str]] = field(default_factory=list)

    def naming_dict(self) -> dict:
        """The aerleon naming-definitions object."""
        return {
            "networks": {n: {"values": [{"address": a} for a in addrs] or [{"address": "192.0.2.255/32"}]}
                         for n, addrs in self.networks.items()},
            "services": {n: [{"port": p, "protocol": proto} for p, proto in ports]
                         for n, ports in self.services.items()},
        }


def from_inventory(inv: Inventory) -> dict[str, list[str]]:
    nets: dict[str, set[str]] = {}

    def add(name: str, addr) -> None:
        nets.setdefault(name, set()).add(str(addr))

    for z in inv.zones:
        add(obj_name("zone", z.name), z.subnet)
    public = {s.name for s in inv.systems if s.public}
    for vm in inv.vms:
        add(obj_name("sys", vm.system), f"{vm.ip}/32")
        add(obj_name("sys", vm.system, vm.zone), f"{vm.ip}/32")
        if vm.system in public:
            add(obj_name("public", vm.zone), f"{vm.ip}/32")
    for d in inv.network_devices:
        for i in d.interfaces:
            if d.kind.value not in ("firewall", "link_balancer", "core_switch", "router"):
                add(obj_name("dev", d.kind.value), f"{i.address.ip}/32")
    for what, servers in (("ntp", inv.site.ntp_servers), ("syslog", inv.site.syslog_servers),
                          ("dns", inv.site.dns_servers)):
        for s in servers:
            add(obj_name("site", what), f"{s}/32")
    return {k: sorted(v, key=_addr_key) for k, v in sorted(nets.items())}


def _addr_key(cidr: str):
    import ipaddress
    n = ipaddress.ip_network(cidr, strict=False)
    return (n.version, int(n.network_address), n.prefixlen)


PORT_PROTOCOLS = ("tcp", "udp", "sctp", "udplite", "dccp")  # protocols that have ports


def parse_port(value) -> tuple[int, int]:
    """A service port: 443 or "1024-65535" → (low, high); ValueError with the reason otherwise."""
    text = str(value).strip()
    lo, sep, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise ValueError(f"port {text!r} is not a number or a range low-high") from None
    for p in (a, b):
        if not 0 <= p <= 65535:
            raise ValueError(f"port {p} is outside 0–65535")
    if a > b:
        raise ValueError(f"port range {text} is reversed ({a} > {b})")
    return a, b


def load(inv: Inventory, folder: Path = DEFINITIONS_DIR) -> Definitions:
    generated = from_inventory(inv)
    networks = dict(generated)
    services: dict[str, list[tuple[int | str, str]]] = {}
    origin: dict[str, tuple[str, int]] = {}
    problems: list[tuple[str, int, str]] = []
    yaml = YAML(typ="rt")
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8")) or {}
        for name, entries in (data.get("services") or {}).items():
            line = data["services"].lc.key(name)[0] + 1
            origin[name] = (str(path), line)
            ok = []
            for i, e in enumerate(entries or []):
                at = entries.lc.item(i)[0] + 1 if hasattr(entries, "lc") else line
                proto = str(e.get("protocol", "")).lower()
                if proto not in PORT_PROTOCOLS:
                    problems.append((str(path), at, f"service {name}: protocol {e.get('protocol')!r} has no ports "
                                                    f"or is unknown (one of {', '.join(PORT_PROTOCOLS)})"))
                    continue
                try:
                    lo, hi = parse_port(e.get("port"))
                except ValueError as err:
                    problems.append((str(path), at, f"service {name}: {err}"))
                    continue
                ok.append((lo if lo == hi else f"{lo}-{hi}", proto))
            services[name] = ok
        for name, body in (data.get("networks") or {}).items():
            origin[name] = (str(path), data["networks"].lc.key(name)[0] + 1)
            networks[name] = [str(v["address"]) for v in body.get("values", [])]
    return Definitions(networks, dict(sorted(services.items())), origin, set(generated), problems)
