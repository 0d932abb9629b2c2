"""The data centre in namespaces (`dcops lab up`), addressed from the inventory.

    <p>fw1   firewall stand-in: one interface per zone holding the zone gateway; sshd
    <p>dmz <p>app <p>db <p>mgmt <p>wan   zone hosts: inventory VM addresses + a TCP/HTTP responder
    <p>lb    link balancer (the inventory's own interfaces and leased-line addresses); sshd
    <p>isp1 <p>isp2   far ends of the leased lines
    <p>inet  an internet host reachable through both ISPs

Addresses are the inventory's, but live only inside these namespaces: nothing
is routed to or from the machine's own network.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from dcops import paths
from dcops.model import Inventory

from .builder import Lab

FACTORY_DEFAULT = """flush ruleset
table inet factory_default {
    chain forward {
        type filter hook forward priority filter; policy accept;
        ct state established,related accept
    }
    chain input {
        type filter hook input priority filter; policy accept;
        ct state established,related accept
    }
}
"""

LAB_FILE = paths.NETWORK_LAB_FILE


@dataclass
class ZoneHost:
    zone: str
    short: str
    gateway: str                 # "10.20.10.1/24" on the firewall side
    addresses: list[str]         # "/32"-less host addresses with the zone prefix length, e.g. "10.20.10.5/24"


@dataclass
class Line:
    name: str
    isp: str                     # namespace short name
    interface: str               # on lb
    address: str                 # lb side, cidr
    peer: str                    # isp side, cidr
    public_prefix: str
    uplink: str                  # isp ↔ inet /30 network


@dataclass
class DcSpec:
    firewall_name: str
    fw: str
    stands_in_for: list[str]
    zones: list[ZoneHost]
    edge_fw: str                 # fw1's edge address (cidr)
    lb_name: str
    lb_lan: tuple[str, str]      # (ifname, cidr)
    lines: list[Line]
    internet_host: str
    server_ports: list[int]
    operator_zone: str
    extra: dict = field(default_factory=dict)


def load_settings(path: Path = LAB_FILE) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def spec_from_inventory(inv: Inventory, settings: dict | None = None) -> DcSpec:
    s = settings or load_settings()
    fwset = s["firewall"]
    zones = []
    picked: dict[str, list[str]] = {}
    seen_systems: set[tuple[str, str]] = set()
    for vm in sorted(inv.vms, key=lambda v: v.name):
        if (vm.zone, vm.system) not in seen_systems:
            seen_systems.add((vm.zone, vm.system))
            picked.setdefault(vm.zone, []).append(str(vm.ip))
    for d in inv.network_devices:
        if d.kind.value in ("firewall", "link_balancer", "core_switch", "router"):
            continue
        for i in d.interfaces:
            picked.setdefault(i.zone, []).append(str(i.address.ip))
    for zname in s["zone_hosts"]:
        z = inv.zone(zname)
        plen = z.subnet.prefixlen
        gw = z.gateway or next(z.subnet.hosts())
        addrs = picked.get(zname) or [str(z.subnet.network_address + int(s.get("fallback_host_offset", 10)))]
        addrs = sorted(set(addrs) - {str(gw)}, key=lambda a: ipaddress.ip_address(a))
        zones.append(ZoneHost(zname, zname, f"{gw}/{plen}", [f"{a}/{plen}" for a in addrs]))
    lines = [ll for ll in inv.leased_lines]
    if not lines:
        raise ValueError("the inventory has no leased lines: nothing to build the link balancer from")
    lb = inv.device(lines[0].device)
    lan = next(i for i in lb.interfaces if inv.zone(i.zone).kind.value == "edge")
    edge = inv.zone(lan.zone)
    edge_gw = edge.gateway or next(edge.subnet.hosts())
    return DcSpec(
        firewall_name=fwset["name"], fw=fwset.get("namespace", "fw1"), stands_in_for=list(fwset["stands_in_for"]),
        zones=zones, edge_fw=f"{edge_gw}/{edge.subnet.prefixlen}", lb_name=lb.name,
        lb_lan=(lan.name, str(lan.address)),
        lines=[Line(ll.name, f"isp{n}", ll.interface, str(ll.address),
                    f"{ll.peer}/{ll.address.network.prefixlen}", str(ll.public_prefix), f"100.64.{n}.0/30")
               for n, ll in enumerate(lines, start=1)],
        internet_host=s.get("internet_host", "100.100.100.100"),
        server_ports=list(s["server_ports"]), operator_zone=s.get("operator_zone", "mgmt"),
    )


def build(lab: Lab, spec: DcSpec, *, sshd: bool = True, servers: bool = True) -> dict:
    """Create the namespaces, links, addresses, routes, servers and sshd; returns endpoint metadata."""
    lab.host(spec.fw, forwarding=True)
    for z in spec.zones:
        lab.host(z.short)
        lab.link(spec.fw, f"z-{z.zone}"[:15], z.short, "eth0", addr_a=z.gateway)
        for a in z.addresses:
            lab.addr(z.short, "eth0", a)
        lab.route(z.short, "default", "via", z.gateway.split("/")[0])
    lab.host("lb", forwarding=True)
    lan_if, lan_addr = spec.lb_lan
    lab.link(spec.fw, "z-edge", "lb", lan_if, addr_a=spec.edge_fw, addr_b=lan_addr)
    lab.route(spec.fw, "default", "via", lan_addr.split("/")[0])
    for z in spec.zones:  # lbcheck installs the same routes from its rendered config; needed before it runs
        net = ipaddress.ip_interface(z.gateway).network
        lab.route("lb", str(net), "via", spec.edge_fw.split("/")[0])
    lab.host("inet")
    lab.exec("inet", ["ip", "addr", "add", f"{spec.internet_host}/32", "dev", "lo"])
    for n, ln in enumerate(spec.lines, start=1):
        lab.host(ln.isp, forwarding=True)
        lab.link("lb", ln.interface, ln.isp, "down0", addr_a=ln.address, addr_b=ln.peer)
        up = ipaddress.ip_network(ln.uplink)
        isp_up, inet_side = (f"{h}/{up.prefixlen}" for h in list(up.hosts())[:2])
        lab.link(ln.isp, "up0", "inet", f"isp{n}", addr_a=isp_up, addr_b=inet_side)
        lab.route(ln.isp, f"{spec.internet_host}/32", "via", inet_side.split("/")[0])
        lab.route(ln.isp, ln.public_prefix, "via", ln.address.split("/")[0])
        lab.route("inet", ln.public_prefix, "via", isp_up.split("/")[0])
    # Strict reverse-path filtering would drop replies arriving on the other line.
    for short in ("lb", *(ln.isp for ln in spec.lines)):
        lab.sysctl(short, "net.ipv4.conf.all.rp_filter", "0")
    # L4 hashing spreads connections from one client over both lines.
    lab.sysctl("lb", "net.ipv4.fib_multipath_hash_policy", "1")
    # Factory default of the lab's firewall and link balancer: accept everything, but with connection
    # tracking on from the start, as on a real stateful device (a first ruleset enabling conntrack
    # mid-session would see the operator's own SSH session only mid-stream).
    for short in (spec.fw, "lb"):
        lab.nft(short, FACTORY_DEFAULT)
    meta: dict = {"firewall": spec.firewall_name, "stands_in_for": spec.stands_in_for,
                  "link_balancer": spec.lb_name, "endpoints": {}}
    if servers:
        for z in spec.zones:
            lab.tcp_server(z.short, spec.server_ports)
        lab.tcp_server("inet", [80, 443])
    if sshd:
        op = lab.ns(spec.operator_zone)
        fw_ep = lab.start_sshd(spec.fw, address=_zone_gw(spec, spec.operator_zone),
                               private_dirs=["/var/lib/dcops"])
        lb_ep = lab.start_sshd("lb", address=lan_addr.split("/")[0], private_dirs=["/var/lib/dcops"])
        for name, ep in ((spec.firewall_name, fw_ep), (spec.lb_name, lb_ep)):
            meta["endpoints"][name] = {"host": ep.address, "port": ep.port, "username": ep.username,
                                       "key_file": str(ep.key), "netns": op, "ns": ep.ns}
    return meta


def _zone_gw(spec: DcSpec, zone: str) -> str:
    for z in spec.zones:
        if z.zone == zone:
            return z.gateway.split("/")[0]
    raise KeyError(zone)
