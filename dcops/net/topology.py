"""Which firewall sees which traffic: zones joined by devices, derived from the inventory alone.

Zones are nodes; a device (an HA pair counts once) joins every zone it has an
interface in; the link balancer also joins the internet through its leased
lines. A policy rule "zone A → zone B" is enforced by every device on the
shortest path from A to B, each with its own local ingress/egress zones.
Routes follow the same graph, so the static routes of every device come from
the inventory too.
"""
from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass
from functools import cached_property

from dcops.model import Inventory, NetworkDevice, ZoneKind


@dataclass(frozen=True)
class Hop:
    group: str       # HA group name, or the device name when it stands alone
    ingress: str     # zone the traffic enters this device from
    egress: str      # zone it leaves into


@dataclass(frozen=True)
class Route:
    prefix: str
    nexthops: tuple[str, ...]
    interface: str
    zone: str
    comment: str


class Topology:
    def __init__(self, inv: Inventory, devices: tuple[NetworkDevice, ...] | None = None):
        self.inv = inv
        self.devices = tuple(inv.network_devices if devices is None else devices)

    def group_of(self, dev: NetworkDevice) -> str:
        return dev.ha_group or dev.name

    def members(self, group: str) -> list[NetworkDevice]:
        return sorted((d for d in self.devices if self.group_of(d) == group),
                      key=lambda d: (-d.ha_priority, d.name))

    @cached_property
    def internet_zone(self) -> str | None:
        for z in self.inv.zones:
            if z.kind is ZoneKind.internet:
                return z.name
        return None

    @cached_property
    def attached(self) -> dict[str, tuple[str, ...]]:
        """group → zones it joins (sorted)."""
        out: dict[str, set[str]] = {}
        line_devices = {ll.device for ll in self.inv.leased_lines}
        for d in self.devices:
            zs = out.setdefault(self.group_of(d), set())
            zs.update(i.zone for i in d.interfaces)
            if d.name in line_devices and self.internet_zone:
                zs.add(self.internet_zone)
        return {g: tuple(sorted(z)) for g, z in sorted(out.items())}

    def _neighbours(self, zone: str, skip: str | None = None) -> list[tuple[str, str]]:
        return [(g, z2) for g, zs in self.attached.items() if zone in zs and g != skip
                for z2 in zs if z2 != zone]

    def path(self, src: str, dst: str) -> list[Hop]:
        """Shortest chain of devices from zone `src` to zone `dst` ([] when the same or unreachable)."""
        if src == dst:
            return []
        prev: dict[str, tuple[str, str]] = {src: ("", "")}
        queue = deque([src])
        while queue:
            z = queue.popleft()
            if z == dst:
                break
            for g, z2 in self._neighbours(z):
                if z2 not in prev:
                    prev[z2] = (z, g)
                    queue.append(z2)
        if dst not in prev:
            return []
        hops: list[Hop] = []
        z = dst
        while z != src:
            pz, g = prev[z]
            hops.append(Hop(g, pz, z))
            z = pz
        return hops[::-1]

    def hop_on(self, dev: NetworkDevice, src: str, dst: str) -> Hop | None:
        g = self.group_of(dev)
        for hop in self.path(src, dst):
            if hop.group == g:
                return hop
        return None

    def interface(self, dev: NetworkDevice, zone: str):
        for i in dev.interfaces:
            if i.zone == zone:
                return i
        return None

    def routes(self, dev: NetworkDevice) -> list[Route]:
        """Static routes for every zone this device does not touch, plus the default route."""
        mine = set(self.attached.get(self.group_of(dev), ()))
        out: list[Route] = []
        zones = {z.name: z for z in self.inv.zones}
        for zname in sorted(zones):
            if zname in mine or zname == self.internet_zone:
                continue
            r = self._route_to(dev, zname, str(zones[zname].subnet))
            if r:
                out.append(r)
        if self.internet_zone and self.internet_zone not in mine:
            r = self._route_to(dev, self.internet_zone, "0.0.0.0/0")
            if r:
                out.append(r)
        return out

    def _route_to(self, dev: NetworkDevice, zone: str, prefix: str) -> Route | None:
        g = self.group_of(dev)
        best: tuple[int, str, Route] | None = None
        for local in self.attached.get(g, ()):
            hops = self.path(local, zone)
            if not hops or hops[0].group == g:
                continue
            nh_dev = self.members(hops[0].group)[0]
            nh_if = self.interface(nh_dev, local)
            my_if = self.interface(dev, local)
            if nh_if is None or my_if is None:
                continue
            cand = Route(prefix, (str(nh_if.address.ip),), my_if.name, zone,
                         f"{zone} via {hops[0].group}")
            key = (len(hops), local, cand)
            if best is None or key[:2] < best[:2]:
                best = key
        return best[2] if best else None

    def zone_subnet(self, zone: str) -> ipaddress.IPv4Network:
        return self.inv.zone(zone).subnet
