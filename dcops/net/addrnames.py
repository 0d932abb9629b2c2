"""Stable names for the address objects aerleon emits, so a one-VM change is a one-object diff.

aerleon names the members of a network object by their index (``PUBLIC_APP_24``):
removing one VM renames every later object and the golden diff churns. After
generation we rename each address object after what it is in the inventory —
the VM (``portal-app-01``), the device (``kg-waf-01``), the zone subnet
(``net-dmz``) — or, for anything else, after its address (``net-10.1.0.0-16``).
The same address in several groups becomes one object (deduplicated), objects
are sorted by name, and group member lists are sorted too.

Both vendors accept these names: FortiOS address names up to 79 characters,
PAN-OS up to 63 of letters, digits, ``_ - .`` (inventory names are ``[a-z0-9._-]``
up to 63 characters).
"""
from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET

from dcops.model import Inventory

MAX_LEN = 63


def _clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:MAX_LEN]


def names(inv: Inventory) -> dict[ipaddress.IPv4Network, str]:
    """Address (as a network) → object name; first claim wins (inventory order is deterministic)."""
    out: dict[ipaddress.IPv4Network, str] = {}
    taken: set[str] = set()

    def claim(net, name: str) -> None:
        net = ipaddress.ip_network(str(net), strict=False)
        if net in out:
            return
        name = _clean(name)
        if name.lower() in taken:  # e.g. a VM and a device of the same name: never merge two addresses
            name = _clean(f"{name}_{net.network_address}")
        taken.add(name.lower())
        out[net] = name

    for vm in inv.vms:
        claim(f"{vm.ip}/32", vm.name)
    for d in inv.network_devices:
        for i in d.interfaces:
            claim(f"{i.address.ip}/32", d.name if len(d.interfaces) == 1 else f"{d.name}_{i.name}")
    for z in inv.zones:
        claim(z.subnet, f"net-{z.name}")
    return out


def name_for(net: ipaddress.IPv4Network, known: dict) -> str:
    if net in known:
        return known[net]
    if net.prefixlen == net.max_prefixlen:
        return f"host-{net.network_address}"
    return f"net-{net.network_address}-{net.prefixlen}"


# ---------------------------------------------------------------- FortiOS (aerleon fortigate text)

_EDIT = re.compile(r"^    edit (\S+)$")


def _blocks(lines: list[str], start: int) -> tuple[list[list[str]], int]:
    """`edit … next` blocks of a `config …` section starting at lines[start]; returns (blocks, index of `end`)."""
    blocks, i = [], start + 1
    while lines[i] != "end":
        j = lines.index("    next", i)
        blocks.append(lines[i:j + 1])
        i = j + 1
    return blocks, i


def fortigate(text: str, inv: Inventory) -> str:
    lines = text.split("\n")
    if "config firewall address" not in lines:
        return text
    known = names(inv)
    a0 = lines.index("config firewall address")
    blocks, a_end = _blocks(lines, a0)
    rename: dict[str, str] = {}
    objs: dict[str, list[str]] = {}
    for b in blocks:
        old = _EDIT.match(b[0]).group(1)
        subnet = next((ln.split()[2:4] for ln in b if ln.strip().startswith("set subnet ")), None)
        if subnet is None:  # IPv6 or something we do not know: keep aerleon's name
            new = old
        else:
            new = name_for(ipaddress.ip_network(f"{subnet[0]}/{subnet[1]}"), known)
        rename[old] = new
        body = [f"    edit {new}", *b[1:]]
        if objs.setdefault(new, body) != body:
            raise ValueError(f"address object name {new} would stand for two different addresses")
    out = lines[:a0 + 1] + [ln for n in sorted(objs) for ln in objs[n]] + lines[a_end:]
    # group members (and exclude members) follow the renamed objects, sorted
    member = re.compile(r'^(\s+set (?:member|exclude-member) )(.*)$')

    def fix(ln: str) -> str:
        m = member.match(ln)
        if not m:
            return ln
        items = sorted({rename.get(x.strip('"'), x.strip('"')) for x in m.group(2).split()})
        return m.group(1) + " ".join(f'"{x}"' for x in items)
    g0 = out.index("config firewall addrgrp") if "config firewall addrgrp" in out else None
    if g0 is not None:
        g_end = out.index("end", g0)
        out[g0:g_end] = [fix(ln) for ln in out[g0:g_end]]
    return "\n".join(out)


# ---------------------------------------------------------------- PAN-OS (aerleon paloalto XML, vsys1 children)

def panos(vsys: ET.Element, inv: Inventory) -> None:
    """Rename address entries in place and rewrite every <member> that referred to them."""
    known = names(inv)
    addr = vsys.find("address")
    if addr is None:
        return
    rename: dict[str, str] = {}
    keep: dict[str, ET.Element] = {}
    for e in list(addr):
        old = e.get("name")
        ipn = e.findtext("ip-netmask")
        new = name_for(ipaddress.ip_network(ipn, strict=False), known) if ipn and ":" not in ipn else old
        rename[old] = new
        if new not in keep:
            e.set("name", new)
            desc = e.find("description")
            if desc is not None:
                desc.text = new
            keep[new] = e
        addr.remove(e)
    for n in sorted(keep):
        addr.append(keep[n])
    for grp in vsys.iter("address-group"):
        for static in grp.iter("static"):
            members = sorted({rename.get(m.text, m.text) for m in static.findall("member")})
            for m in list(static):
                static.remove(m)
            for n in members:
                ET.SubElement(static, "member").text = n
    for rules in vsys.iter("rules"):
        for m in rules.iter("member"):
            if m.text in rename:
                m.text = rename[m.text]
