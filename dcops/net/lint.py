"""`dcops net lint`: find policy mistakes before they reach a device, with file and line.

Errors: unknown objects or zones, duplicate term names, shadowed terms (an
earlier term with another action matches everything this one matches, so it
never fires), any-any permits touching the internet; addresses outside the
filter's from/to zones or outside every zone (a zone-pair term can never admit
them — and must not look as if it did); service ports outside 0–65535,
reversed port ranges, unknown protocols.
Warnings: redundant terms (an earlier term with the same action covers it),
zone-wide permits of every service, unused hand-written objects, terms whose
protocols and services do not line up (aerleon would allow the cross product),
zone pairs no firewall enforces.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from netaddr import IPNetwork, IPSet

from dcops import paths
from dcops.model import Inventory, ZoneKind

from aerleon.lib.aclgenerator import Term as AclTerm

from . import objects
from . import policy as policy_mod
from .paths import POLICY_DIR
from .topology import Topology

ALL = IPSet(["0.0.0.0/0"])


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    severity: str
    message: str

    def __str__(self) -> str:
        rel = os.path.relpath(self.file)
        f = self.file if rel.startswith("..") else rel
        return f"{f}:{self.line}: {self.severity}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "severity": self.severity, "message": self.message}


@dataclass
class Match:
    src: IPSet
    dst: IPSet
    services: frozenset | None   # {(proto, port)} ; None = every protocol and port
    protos: frozenset | None     # None = every protocol

    def covers(self, other: "Match") -> bool:
        if not (other.src.issubset(self.src) and other.dst.issubset(self.dst)):
            return False
        if self.protos is not None and (other.protos is None or not other.protos <= self.protos):
            return False
        if self.services is None:
            return True
        if other.services is None:
            return False
        return other.services <= self.services


def lint(inv: Inventory, folder=POLICY_DIR) -> list[Finding]:
    out: list[Finding] = []
    try:
        pol = policy_mod.load(folder)
    except policy_mod.PolicyError as e:
        for p in e.problems:
            file, line, msg = _split(p)
            out.append(Finding(file, line, "error", msg))
        return out
    defs = objects.load(inv, paths.definitions(folder))
    out.extend(Finding(f, ln, "error", msg) for f, ln, msg in defs.problems)
    zones = {z.name: z for z in inv.zones}
    zone_sets = _zone_sets(inv)
    topo = Topology(inv)
    used: set[str] = set()

    def protocols(term: policy_mod.Term) -> None:
        for p in term.words("protocol"):
            if p.lower() not in AclTerm.PROTO_MAP and not (p.isdigit() and 0 <= int(p) <= 255):
                out.append(Finding(term.file, term.lines.get("protocol", term.line), "error",
                                   f"term '{term.name}': unknown protocol '{p}'"))
        for n in term.words("source-port"):
            used.add(n)
            if n not in defs.services:
                out.append(Finding(term.file, term.lines.get("source-port", term.line), "error",
                                   f"term '{term.name}': unknown service '{n}'"))

    def in_zones(term: policy_mod.Term, flt: policy_mod.Filter) -> None:
        """Every named address must lie in the filter's zones on its side: the firewall matches zone pairs."""
        for key, side, label in (("source-address", flt.src, "from"), ("destination-address", flt.dst, "to")):
            if policy_mod.ANY in side or any(z not in zones for z in side):
                continue
            allowed = IPSet()
            for z in side:
                allowed |= zone_sets[z]
            for n in term.words(key):
                if n not in defs.networks:
                    continue  # reported as unknown elsewhere
                outside = IPSet(defs.networks[n]) - allowed
                if not outside:
                    continue
                cidrs = ", ".join(str(c) for c in outside.iter_cidrs()[:4]) + (" …" if len(outside.iter_cidrs()) > 4 else "")
                where = [z for z, zs in zone_sets.items() if zs & outside and zones[z].kind is not ZoneKind.internet]
                if where:
                    why = f"lies in zone {', '.join(where)}, outside the filter's {label}-zone {', '.join(side)}"
                else:
                    why = "lies outside every zone of the inventory"
                out.append(Finding(term.file, term.lines.get(key, term.line), "error",
                                   f"term '{term.name}': {key} {n} ({cidrs}) {why}; the term can never admit it "
                                   f"— file it under a filter for its zones"))

    def netset(term: policy_mod.Term, key: str, zone: str) -> IPSet | None:
        names = term.words(key)
        if not names:
            if zone == policy_mod.ANY or zone not in zones or zones[zone].kind is ZoneKind.internet:
                return IPSet(ALL)
            return IPSet([str(zones[zone].subnet)])
        s = IPSet()
        for n in names:
            used.add(n)
            if n not in defs.networks:
                out.append(Finding(term.file, term.lines.get(key, term.line), "error",
                                   f"term '{term.name}': unknown network object '{n}'"))
                return None
            for a in defs.networks[n]:
                s.add(IPNetwork(a))
        return s

    def services(term: policy_mod.Term) -> tuple[frozenset | None, frozenset | None, bool]:
        protos = frozenset(term.words("protocol")) or None
        names = term.words("destination-port")
        if not names:
            return None, protos, True
        svc = set()
        ok = True
        for n in names:
            used.add(n)
            if n not in defs.services:
                out.append(Finding(term.file, term.lines.get("destination-port", term.line), "error",
                                   f"term '{term.name}': unknown service '{n}'"))
                ok = False
                continue
            svc.update(defs.services[n])
        if protos is not None and ok:
            stray = [n for n in names if {p for _, p in defs.services[n]} < protos]
            if len(protos) > 1 and stray:
                out.append(Finding(term.file, term.lines.get("protocol", term.line), "warning",
                                   f"term '{term.name}': services {', '.join(stray)} are single-protocol but the term "
                                   f"lists {' '.join(sorted(protos))}: every listed protocol would be allowed on "
                                   f"those ports; split the term"))
            svc = {(port, p) for port, p in svc if p in protos}  # what the term is meant to allow
        return frozenset(svc), protos, ok

    names_seen: dict[str, policy_mod.Term] = {}
    by_pair: dict[tuple[str, str], list[tuple[policy_mod.Term, Match]]] = {}
    for flt in pol.filters:
        for z in flt.src + flt.dst:
            if z != policy_mod.ANY and z not in zones:
                out.append(Finding(flt.file, flt.line, "error", f"unknown zone '{z}' in filter header"))
        pairs = flt.pairs()
        for term in flt.terms:
            expanded = [term.name] if len(pairs) == 1 else [f"{term.name}-{s}-{d}" for s, d in pairs]
            for n in expanded:
                if n in names_seen:
                    out.append(Finding(term.file, term.line, "error",
                                       f"duplicate term name '{n}' (first at {names_seen[n].where})"))
                names_seen.setdefault(n, term)
            svc, protos, _ = services(term)
            protocols(term)
            in_zones(term, flt)
            for s, d in pairs:
                if (s != policy_mod.ANY and s not in zones) or (d != policy_mod.ANY and d not in zones):
                    continue
                src = netset(term, "source-address", s)
                dst = netset(term, "destination-address", d)
                if src is None or dst is None:
                    continue
                m = Match(src, dst, svc, protos)
                if term.body.get("action") == "accept" and svc is None and protos is None:
                    internet = any(z == policy_mod.ANY or zones[z].kind is ZoneKind.internet for z in (s, d))
                    if src == ALL and dst == ALL or internet:
                        out.append(Finding(term.file, term.line, "error",
                                           f"term '{term.name}': any-any permit ({s} → {d}, every address and service)"))
                    else:
                        out.append(Finding(term.file, term.line, "warning",
                                           f"term '{term.name}': permits every service {s} → {d}; name the ports"))
                keys = [(s, d)] if policy_mod.ANY not in (s, d) else list(by_pair) or [(s, d)]
                for key in keys:
                    for earlier, em in by_pair.get(key, []):
                        if earlier is term:
                            continue
                        if em.covers(m):
                            same = earlier.body.get("action") == term.body.get("action")
                            if not same and policy_mod.ANY in (s, d):
                                continue  # the default deny is meant to sit behind everything
                            out.append(Finding(
                                term.file, term.line, "warning" if same else "error",
                                f"term '{term.name}' is {'redundant' if same else 'shadowed'}: "
                                f"'{earlier.name}' ({earlier.where}) already matches all its traffic {s} → {d}"
                                + ("" if same else f" with action {earlier.body.get('action')}")))
                            break
                by_pair.setdefault((s, d), []).append((term, m))
        for s, d in pairs:
            if policy_mod.ANY in (s, d) or s not in zones or d not in zones:
                continue
            hops = topo.path(s, d)
            firewalls = [h for h in hops if any(m.kind.value == "firewall" for m in topo.members(h.group))]
            if not firewalls:
                out.append(Finding(flt.file, flt.line, "warning",
                                   f"no firewall in the inventory sits between {s} and {d}: nothing enforces this filter"))
    for name, (file, line) in sorted(defs.origin.items()):
        if name not in used:
            out.append(Finding(file, line, "warning", f"object '{name}' is defined but never used"))
    return sorted(set(out))


def _zone_sets(inv: Inventory) -> dict[str, IPSet]:
    """Each zone's addresses: its subnet; the internet zone holds whatever no other zone does."""
    internal = IPSet()
    for z in inv.zones:
        if z.kind is not ZoneKind.internet:
            internal.add(IPNetwork(str(z.subnet)))
    return {z.name: (ALL - internal if z.kind is ZoneKind.internet else IPSet([str(z.subnet)])) for z in inv.zones}


def _split(problem: str) -> tuple[str, int, str]:
    head, _, msg = problem.partition(": ")
    file, _, line = head.rpartition(":")
    try:
        return file, int(line), msg
    except ValueError:
        return head, 0, msg
