"""Which devices a command acts on, their rendered candidates and how to reach them.

Production: every inventory device with a platform, reached at its mgmt_ip
with the key its `admin_key_ref` points to. Lab (`--lab NAME`): the devices
`dcops lab up` recorded endpoints for — the Linux/nftables firewall standing in
for the inventory's firewalls (network_configs/lab.yaml) and the link
balancer — rendered from the same inventory and policy.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ruamel.yaml import YAML

from dcops.model import Interface, Inventory, NetworkDevice

from . import platforms, render
from .connect import Endpoint, lab_endpoints, production_endpoint, resolve_placeholders
from .paths import LAB_FILE, POLICY_DIR
from .push import Target
from .topology import Topology


class FleetError(RuntimeError):
    pass


def stand_in(inv: Inventory, settings: dict | None = None) -> tuple[NetworkDevice, Topology]:
    """The lab firewall as a device of its own, and the topology where it replaces the firewalls it stands in for."""
    s = (settings or YAML(typ="safe").load(LAB_FILE.read_text(encoding="utf-8")))["firewall"]
    ifaces = []
    for zname in s["zones"]:
        z = inv.zone(zname)
        gw = z.gateway or next(z.subnet.hosts())
        ifaces.append(Interface(name=f"z-{zname}"[:15], zone=zname,
                                address=ipaddress.IPv4Interface(f"{gw}/{z.subnet.prefixlen}")))
    mgmt = next(i for i in ifaces if inv.zone(i.zone).kind.value == "mgmt")
    dev = NetworkDevice(name=s["name"], kind="firewall", vendor="dcops lab", model="network namespace",
                        platform=s.get("platform", "linux"), mgmt_ip=mgmt.address.ip, interfaces=tuple(ifaces))
    replaced = set(s["stands_in_for"])
    topo = Topology(inv, tuple(d for d in inv.network_devices if d.name not in replaced) + (dev,))
    return dev, topo


@dataclass
class Member:
    device: NetworkDevice
    rendered: render.Rendered
    endpoint: Endpoint | None
    skipped: str | None = None


def members(inv: Inventory, *, lab: str | None = None, names: list[str] | None = None,
            need_endpoint: bool = True) -> list[Member]:
    out: list[Member] = []
    if lab:
        eps = lab_endpoints(lab)
        if not eps:
            raise FleetError(f"lab '{lab}' is not up (no endpoints recorded); run `dcops lab up` first")
        fw, topo = stand_in(inv)
        ctx_lab = render.RenderContext.build(inv, POLICY_DIR, topo)
        ctx = render.RenderContext.build(inv, POLICY_DIR)
        candidates = {fw.name: (fw, ctx_lab)}
        for d in render.configured_devices(inv):
            if d.name in eps:
                candidates[d.name] = (d, ctx)
        for name, (dev, c) in candidates.items():
            if names and name not in names:
                continue
            out.append(Member(dev, render.render_device(c, dev), eps.get(name)))
    else:
        ctx = render.RenderContext.build(inv, POLICY_DIR)
        for dev in render.configured_devices(inv):
            if names and dev.name not in names:
                continue
            ep = production_endpoint(dev) if need_endpoint else None
            out.append(Member(dev, render.render_device(ctx, dev), ep))
    if names:
        unknown = sorted(set(names) - {m.device.name for m in out})
        if unknown:
            where = f"lab '{lab}'" if lab else "the inventory (devices with a platform)"
            raise FleetError(f"unknown device(s) in {where}: {', '.join(unknown)}")
    return out


def target(m: Member) -> Target:
    if m.endpoint is None:
        raise FleetError(f"{m.device.name}: no endpoint")
    plat = platforms.load(m.device.platform)
    return Target(m.device.name, plat.name, resolve_placeholders(m.rendered.config), m.endpoint, plat.extension,
                  m.rendered.config)
