"""Stable names for the address objects aerleon emits, so a one-VM change is a one-object diff.

aerleon names the members of a network object by their index (``PUBLIC_APP_24``):
removing one VM renames every later object and the golden diff churns. After
generation we rename each address object after what it is in the inventory —
the VM (``portal-app-01``), the device (``kg-waf-01``), the zone subnet
(``net-dmz``) — or, for anything else, after its address (``net-10.1.0.0-16``).
The same address in several groups becomes one object (deduplicated).

The naming is data: platform.yaml ``policy.address_names`` (see :class:`Rules`) gives the
patterns, the maximum length, the allowed characters, the replacement for any other
character and the collision suffix, and names the *syntax* the target's address book is
written in: ``fortigate`` (aerleon's FortiOS text: objects and group members sorted),
``paloalto`` (aerleon's PAN-OS XML, vsys1: entries and members sorted) or ``regex`` — any
other text target: ``definition`` is a regular expression matching the line that defines
one object, with groups ``name`` and ``address``; every whole-word use of an old name is
renamed and a repeated definition of one new name is dropped. A new vendor is data here.
"""
from __future__ import annotations

import ipaddress
import re
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass, fields

from dcops.model import Inventory

SYNTAXES = ("fortigate", "paloalto", "regex")
#: the placeholders each pattern may use
PLACEHOLDERS = {"vm": {"vm"}, "device": {"device"}, "interface": {"device", "interface"}, "zone": {"zone"},
                "host": {"ip"}, "network": {"ip", "prefixlen"}, "collision": {"name", "ip"}}


@dataclass(frozen=True)
class Rules:
    syntax: str
    max_length: int = 63
    allowed: str = "A-Za-z0-9._-"       # a regex character-class body
    replace_with: str = "-"             # what any other character becomes
    collision: str = "{name}_{ip}"      # when two addresses would get one name (e.g. a VM and a device)
    vm: str = "{vm}"
    device: str = "{device}"            # a device with one interface
    interface: str = "{device}_{interface}"
    zone: str = "net-{zone}"
    host: str = "host-{ip}"             # an address the inventory does not name
    network: str = "net-{ip}-{prefixlen}"
    definition: str | None = None       # syntax regex: the line defining an object (groups name, address)

    def clean(self, name: str) -> str:
        return re.sub(f"[^{self.allowed}]", self.replace_with, name)[:self.max_length]


def rules_from(spec: dict, where: str) -> Rules:
    """platform.yaml `policy.address_names` → Rules; every mistake names the file."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: policy.address_names must be a mapping")
    known = {f.name for f in fields(Rules)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"{where}: policy.address_names: unknown key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(known))})")
    if spec.get("syntax") not in SYNTAXES:
        raise ValueError(f"{where}: policy.address_names.syntax must be one of {', '.join(SYNTAXES)}, "
                         f"not {spec.get('syntax')!r}")
    for key, allowed in PLACEHOLDERS.items():
        if key in spec:
            used = {f for _, f, _, _ in string.Formatter().parse(str(spec[key])) if f is not None}
            if used - allowed:
                raise ValueError(f"{where}: policy.address_names.{key}: unknown placeholder(s) "
                                 f"{', '.join('{' + u + '}' for u in sorted(used - allowed))} "
                                 f"(known: {', '.join('{' + a + '}' for a in sorted(allowed))})")
    if spec["syntax"] == "regex":
        try:
            rx = re.compile(str(spec.get("definition") or ""), re.M)
        except re.error as e:
            raise ValueError(f"{where}: policy.address_names.definition is not a regular expression: {e}") from e
        if not {"name", "address"} <= set(rx.groupindex):
            raise ValueError(f"{where}: policy.address_names.definition needs the groups (?P<name>…) and "
                             "(?P<address>…) (syntax regex)")
    try:
        rules = Rules(**{**spec, "max_length": int(spec.get("max_length", 63))})
        re.compile(f"[^{rules.allowed}]")
    except (TypeError, ValueError, re.error) as e:
        raise ValueError(f"{where}: policy.address_names: {e}") from e
    return rules


def names(inv: Inventory, rules: Rules) -> dict[ipaddress.IPv4Network, str]:
    """Address (as a network) → object name; first claim wins (inventory order is deterministic)."""
    out: dict[ipaddress.IPv4Network, str] = {}
    taken: set[str] = set()

    def claim(net, name: str) -> None:
        net = ipaddress.ip_network(str(net), strict=False)
        if net in out:
            return
        name = rules.clean(name)
        if name.lower() in taken:  # e.g. a VM and a device of the same name: never merge two addresses
            name = rules.clean(rules.collision.format(name=name, ip=net.network_address))
        taken.add(name.lower())
        out[net] = name

    for vm in inv.vms:
        claim(f"{vm.ip}/32", rules.vm.format(vm=vm.name))
    for d in inv.network_devices:
        for i in d.interfaces:
            claim(f"{i.address.ip}/32", rules.device.format(device=d.name) if len(d.interfaces) == 1
                  else rules.interface.format(device=d.name, interface=i.name))
    for z in inv.zones:
        claim(z.subnet, rules.zone.format(zone=z.name))
    return out


def name_for(net: ipaddress.IPv4Network, known: dict, rules: Rules) -> str:
    if net in known:
        return known[net]
    if net.prefixlen == net.max_prefixlen:
        return rules.clean(rules.host.format(ip=net.network_address))
    return rules.clean(rules.network.format(ip=net.network_address, prefixlen=net.prefixlen))


def rename(text: str, inv: Inventory, rules: Rules) -> str:
    """aerleon's output with its address objects renamed by the platform's rules."""
    return {"fortigate": _fortigate, "paloalto": _paloalto, "regex": _regex}[rules.syntax](text, inv, rules)


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


def _fortigate(text: str, inv: Inventory, rules: Rules) -> str:
    lines = text.split("\n")
    if "config firewall address" not in lines:
        return text
    known = names(inv, rules)
    a0 = lines.index("config firewall address")
    blocks, a_end = _blocks(lines, a0)
    renamed: dict[str, str] = {}
    objs: dict[str, list[str]] = {}
    for b in blocks:
        old = _EDIT.match(b[0]).group(1)
        subnet = next((ln.split()[2:4] for ln in b if ln.strip().startswith("set subnet ")), None)
        if subnet is None:  # IPv6 or something we do not know: keep aerleon's name
            new = old
        else:
            new = name_for(ipaddress.ip_network(f"{subnet[0]}/{subnet[1]}"), known, rules)
        renamed[old] = new
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
        items = sorted({renamed.get(x.strip('"'), x.strip('"')) for x in m.group(2).split()})
        return m.group(1) + " ".join(f'"{x}"' for x in items)
    g0 = out.index("config firewall addrgrp") if "config firewall addrgrp" in out else None
    if g0 is not None:
        g_end = out.index("end", g0)
        out[g0:g_end] = [fix(ln) for ln in out[g0:g_end]]
    return "\n".join(out)


# ---------------------------------------------------------------- PAN-OS (aerleon paloalto XML, vsys1 children)

def _paloalto(text: str, inv: Inventory, rules: Rules) -> str:
    root = ET.fromstring(text)
    vsys = root.find(".//vsys/entry[@name='vsys1']")
    if vsys is None:
        return text   # nothing to rename; the platform's post-processing says what is missing
    panos(vsys, inv, rules)
    return ET.tostring(root, encoding="unicode")


def panos(vsys: ET.Element, inv: Inventory, rules: Rules) -> None:
    """Rename address entries in place and rewrite every <member> that referred to them."""
    known = names(inv, rules)
    addr = vsys.find("address")
    if addr is None:
        return
    renamed: dict[str, str] = {}
    keep: dict[str, ET.Element] = {}
    for e in list(addr):
        old = e.get("name")
        ipn = e.findtext("ip-netmask")
        new = name_for(ipaddress.ip_network(ipn, strict=False), known, rules) if ipn and ":" not in ipn else old
        renamed[old] = new
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
            members = sorted({renamed.get(m.text, m.text) for m in static.findall("member")})
            for m in list(static):
                static.remove(m)
            for n in members:
                ET.SubElement(static, "member").text = n
    for rules_el in vsys.iter("rules"):
        for m in rules_el.iter("member"):
            if m.text in renamed:
                m.text = renamed[m.text]


# ---------------------------------------------------------------- any other text target

def _regex(text: str, inv: Inventory, rules: Rules) -> str:
    known = names(inv, rules)
    definition = re.compile(rules.definition or "", re.M)
    renamed: dict[str, str] = {}
    for m in definition.finditer(text):
        try:
            net = ipaddress.ip_network(m.group("address"), strict=False)
        except ValueError:
            continue
        if net.version == 4:
            renamed[m.group("name")] = name_for(net, known, rules)
    if not renamed:
        return text
    token = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n in sorted(renamed, key=len, reverse=True))
                       + r")(?![\w.-])")
    out, defined = [], {}
    for line in text.split("\n"):
        d = definition.fullmatch(line) or definition.match(line)
        new = token.sub(lambda m: renamed[m.group(1)], line)
        if d and d.group("name") in renamed:
            name = renamed[d.group("name")]
            if name in defined:
                if defined[name] != new:
                    raise ValueError(f"address object name {name} would stand for two different addresses")
                continue   # the same address in several groups: one object
            defined[name] = new
        out.append(new)
    return "\n".join(out)
