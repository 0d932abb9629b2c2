"""Render device configurations: Jinja2 base template per platform + aerleon policy per device.

Deterministic: same inventory, policy and templates → byte-identical output.
Secrets never appear: templates emit `${secret:<ref>}` placeholders that the
pusher resolves at push time.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from absl import logging as absl_logging
from aerleon import api as aerleon_api
from aerleon.lib import naming
from ruamel.yaml import YAML

from dcops import paths
from dcops.model import Inventory, NetworkDevice, ZoneKind

from . import addrnames, appliances, objects, platforms
from . import policy as policy_mod
from .paths import NETWORK_CONFIGS, POLICY_DIR
from .topology import Topology

absl_logging.set_verbosity(absl_logging.ERROR)
logging.getLogger("absl").setLevel(logging.ERROR)


class RenderError(RuntimeError):
    pass


@dataclass
class Rendered:
    device: str
    platform: str
    files: dict[str, str]      # file name → text; the first one is the device configuration
    seconds: float = 0.0

    @property
    def config_name(self) -> str:
        return next(iter(self.files))

    @property
    def config(self) -> str:
        return self.files[self.config_name]


@dataclass
class RenderContext:
    inv: Inventory
    policy: policy_mod.Policy
    defs: objects.Definitions
    common: dict
    topology: Topology
    _naming: naming.Naming | None = field(default=None, repr=False)

    @classmethod
    def build(cls, inv: Inventory, policy_dir: Path = POLICY_DIR, topology: Topology | None = None) -> "RenderContext":
        pol = policy_mod.load(policy_dir)
        defs = objects.load(inv, paths.definitions(policy_dir))
        common = YAML(typ="safe").load((NETWORK_CONFIGS / "common.yaml").read_text(encoding="utf-8"))
        return cls(inv, pol, defs, common, topology or Topology(inv))

    @property
    def naming(self) -> naming.Naming:
        if self._naming is None:
            n = naming.Naming()
            n.ParseDefinitionsObject(self.defs.naming_dict(), "")
            self._naming = n
        return self._naming


def secret(ref: str) -> str:
    return "${secret:" + ref + "}"


def _template_fail(msg: str):
    raise RenderError(msg)


def _env(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["netmask"] = lambda cidr: str(ipaddress.ip_network(str(cidr), strict=False).netmask)
    env.filters["network"] = lambda cidr: str(ipaddress.ip_network(str(cidr), strict=False).network_address)
    env.filters["xml"] = lambda s: (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                                    .replace('"', "&quot;"))
    env.globals["secret"] = secret
    env.globals["fail"] = _template_fail
    return env


# ---------------------------------------------------------------- policy per device

def _constrain(ctx: RenderContext, term: dict, src: str, dst: str) -> dict:
    """A zone-pair term only matches traffic between those zones: add the zone objects it lacks."""
    body = dict(term)
    for key, zone in (("source-address", src), ("destination-address", dst)):
        if key in body:
            continue
        z = ctx.inv.zone(zone)
        if z.kind is not ZoneKind.internet:
            body[key] = objects.obj_name("zone", zone)
    return body


def _zone_match(dev: NetworkDevice, plat: platforms.Platform, body: dict, hop) -> list[dict]:
    """The term as this platform needs it to match only traffic between the hop's zones.

    Zone-pair platforms (FortiGate, PAN-OS) carry the zones in the filter header. A single
    nftables chain has none: the term matches the device's interfaces in the ingress and
    egress zones instead (one term per interface pair when a zone has several interfaces).
    """
    if plat.zone_match != "interfaces":
        return [body]
    ins = [i.name for i in dev.interfaces if i.zone == hop.ingress]
    outs = [i.name for i in dev.interfaces if i.zone == hop.egress]
    if not ins or not outs:
        raise RenderError(f"{dev.name}: no interface in zone {hop.ingress if not ins else hop.egress} "
                          f"for term '{body['name']}' ({hop.ingress} → {hop.egress})")
    terms = []
    for a in ins:
        for b in outs:
            t = {**body, "source-interface": a, "destination-interface": b}
            if len(ins) * len(outs) > 1:
                t["name"] = f"{body['name']}-{a}-{b}"
            terms.append(t)
    return terms


def _platform_options(body: dict, plat: platforms.Platform) -> dict:
    if plat.logging_options and str(body.get("logging", "")).lower() == "true":
        opts = str(body.get("option", "")).split()
        body = {**body, "option": " ".join(opts + [o for o in plat.logging_options if o not in opts])}
    return body


def policy_filters(ctx: RenderContext, dev: NetworkDevice, plat: platforms.Platform) -> list[dict]:
    return [{**f, "terms": [_platform_options(t, plat) for t in f["terms"]]} for f in _filters(ctx, dev, plat)]


def _pairs(ctx: RenderContext, dev: NetworkDevice, plat: platforms.Platform):
    """(ingress zone, egress zone) → the terms this device enforces for it; and the any-zone deny terms."""
    pairs: dict[tuple[str, str], list[dict]] = {}
    deny: list[dict] = []
    for flt in ctx.policy.filters:
        fpairs = flt.pairs()
        for s, d in fpairs:
            if policy_mod.ANY in (s, d):
                deny.extend(dict(t.body) for t in flt.terms)
                continue
            hop = ctx.topology.hop_on(dev, s, d)
            if hop is None:
                continue
            for t in flt.terms:
                body = _constrain(ctx, t.body, s, d)
                if len(fpairs) > 1:
                    body["name"] = f"{t.name}-{s}-{d}"
                body.setdefault("comment", flt.comment)
                pairs.setdefault((hop.ingress, hop.egress), []).extend(_zone_match(dev, plat, body, hop))
    return pairs, deny


def _filters(ctx: RenderContext, dev: NetworkDevice, plat: platforms.Platform) -> list[dict]:
    """The aerleon filters of this device, laid out as platform.yaml `policy.layout` says: zone-pairs (one
    filter per ingress/egress zone pair), ingress-interface (one per interface traffic enters on) or
    single (one global chain)."""
    pairs, deny = _pairs(ctx, dev, plat)
    if plat.layout == "single":
        terms = [t for _, ts in pairs.items() for t in ts] + deny
        return [{"header": {"targets": {plat.generator: plat.options}, "comment": f"dcops policy for {dev.name}"},
                 "terms": terms}] if terms else []
    if plat.layout == "ingress-interface":
        return [{"header": {"targets": {plat.generator: plat.options.format(**b)},
                            "comment": f"in on {b['interface']} ({b['ingress']})"}, "terms": ts + deny}
                for b, ts in _by_ingress_interface(dev, pairs)]
    out = [{"header": {"targets": {plat.generator: plat.options.format(ingress=i, egress=e)},
                       "comment": f"{i} to {e}"}, "terms": ts} for (i, e), ts in pairs.items()]
    if deny and plat.default_deny_options:
        out.append({"header": {"targets": {plat.generator: plat.default_deny_options}, "comment": "default deny"},
                    "terms": deny})
    return out


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _by_ingress_interface(dev: NetworkDevice, pairs: dict) -> list[tuple[dict, list[dict]]]:
    """layout ingress-interface: one filter per interface traffic enters on, holding every term whose
    ingress zone is that interface's zone (any egress), in interface order. The placeholders its
    options may use: {interface}, {interface_slug} (the name with anything but [A-Za-z0-9_-] as -),
    {ingress} (the interface's zone)."""
    out = []
    for i in dev.interfaces:
        terms = [t for (ing, _), ts in pairs.items() if ing == i.zone for t in ts]
        if terms:
            out.append(({"interface": i.name, "interface_slug": _slug(i.name), "ingress": i.zone}, terms))
    return out


def ingress_bindings(ctx: RenderContext, dev: NetworkDevice, plat: platforms.Platform) -> list[dict]:
    """For templates of an ingress-interface layout: which filter (its target options) goes inbound on
    which interface — [{interface, interface_slug, ingress, options}], in interface order."""
    if plat.layout != "ingress-interface":
        return []
    return [{**b, "options": plat.options.format(**b)}
            for b, _ in _by_ingress_interface(dev, _pairs(ctx, dev, plat)[0])]


def render_policy(ctx: RenderContext, dev: NetworkDevice, plat: platforms.Platform) -> str:
    filters = policy_filters(ctx, dev, plat)
    if not filters:
        return ""
    try:
        out = aerleon_api.Generate([{"filename": dev.name, "filters": filters}], ctx.naming)
    except Exception as e:  # aerleon raises many types; say which device and why
        raise RenderError(f"{dev.name}: aerleon ({plat.generator}) failed: {e}") from e
    if not out:
        raise RenderError(f"{dev.name}: aerleon produced no output")
    text = next(iter(out.values()))
    hook = postprocessor(plat)
    try:
        if plat.address_names is not None:
            text = addrnames.rename(text, ctx.inv, plat.address_names)
        if hook is not None:
            text = hook(text, ctx.inv)
    except ValueError as e:
        raise RenderError(f"{dev.name}: {e}") from e
    return text.strip("\n") + "\n"


def postprocessor(plat: platforms.Platform):
    """The platform's aerleon post-processing: `policy.postprocess` in platform.yaml — a registered name,
    "none", or "package.module:function" taking (text, inventory) — so a new vendor registers a small
    module by name instead of another branch here."""
    name = plat.postprocess
    if not name or name == "none":
        return None
    if name in POSTPROCESSORS:
        return POSTPROCESSORS[name]
    module, _, func = name.partition(":")
    if module and func:
        import importlib
        try:
            return getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as e:
            raise RenderError(f"{plat.folder / 'platform.yaml'}: policy.postprocess '{name}' not found ({e})") from e
    raise RenderError(f"{plat.folder / 'platform.yaml'}: unknown policy.postprocess '{name}' "
                      f"(known: {', '.join(sorted(POSTPROCESSORS))}, none, or package.module:function)")


def _panos_vsys(xml_text: str, inv: Inventory) -> str:
    """Only the vsys1 contents of aerleon's PAN-OS XML; the device template wraps them."""
    root = ET.fromstring(xml_text)
    vsys = root.find(".//vsys/entry[@name='vsys1']")
    if vsys is None:
        raise RenderError("aerleon PAN-OS output has no vsys1")
    parts = []
    for child in vsys:
        ET.indent(child, space="  ")
        parts.append(ET.tostring(child, encoding="unicode").rstrip())
    return "\n".join(parts)


POSTPROCESSORS = {"panos-vsys": _panos_vsys}


# ---------------------------------------------------------------- device context

def device_context(ctx: RenderContext, dev: NetworkDevice, plat: platforms.Platform) -> dict:
    topo = ctx.topology
    zones = {z.name: z for z in ctx.inv.zones}
    mgmt_nets = [str(z.subnet) for z in ctx.inv.zones if z.kind is ZoneKind.mgmt and z.name in
                 {n for d in topo.devices for i in d.interfaces for n in [i.zone]} | {"mgmt"}]
    interfaces = []
    for i in dev.interfaces:
        interfaces.append({
            "name": i.name, "zone": zones[i.zone], "vlan": i.vlan, "address": str(i.address),
            "ip": str(i.address.ip), "netmask": str(i.address.netmask), "prefixlen": i.address.network.prefixlen,
            "network": str(i.address.network),
        })
    group = topo.group_of(dev)
    members = topo.members(group)
    peers = [d for d in members if d.name != dev.name] if dev.ha_group else []
    rank = [d.name for d in members].index(dev.name) + 1 if dev.ha_group else 1
    lines = [ll for ll in ctx.inv.leased_lines if ll.device == dev.name]
    routes = topo.routes(dev)
    mgmt = None
    if plat.data.get("mgmt_interface"):
        # The management address: on the data interface that already holds it (e.g. the lab stand-in),
        # else on the platform's dedicated management port, in the management zone's subnet.
        mz = next((z for z in ctx.inv.zones if dev.mgmt_ip in z.subnet), None)
        if mz is None:
            raise RenderError(f"{dev.name}: mgmt_ip {dev.mgmt_ip} is in no zone of the inventory")
        if mz.kind is not ZoneKind.mgmt:
            raise RenderError(f"{dev.name}: mgmt_ip {dev.mgmt_ip} is in zone {mz.name}, not a management zone")
        on = next((i for i in dev.interfaces if i.address.ip == dev.mgmt_ip), None)
        mgmt = {"interface": on.name if on else plat.data["mgmt_interface"], "dedicated": on is None,
                "ip": str(dev.mgmt_ip), "zone": mz, "netmask": str(mz.subnet.netmask),
                "prefixlen": mz.subnet.prefixlen, "network": str(mz.subnet),
                "gateway": str(mz.gateway) if mz.gateway else None, "routes": []}
        if on is None and mz.gateway:
            # What the management plane itself talks to off its subnet — the other management networks
            # and the site's NTP/syslog/DNS servers — is routed via the management gateway on the
            # management port: platforms without a management VRF keep their data-plane default route,
            # so a second 0.0.0.0/0 is not an option for them (their templates render these routes).
            site = ctx.inv.site
            wanted = [z.subnet for z in ctx.inv.zones if z.kind is ZoneKind.mgmt and z.name != mz.name]
            wanted += [ipaddress.ip_network(f"{ip}/32") for ip in (*site.ntp_servers, *site.syslog_servers,
                                                                 *site.dns_servers)
                       if ipaddress.ip_address(str(ip)) not in mz.subnet]
            mgmt["routes"] = [str(n) for n in sorted(set(wanted), key=lambda n: (int(n.network_address), n.prefixlen))]
        if on is None and not plat.data.get("mgmt_vrf"):
            # the zone is connected on the management port now; a platform whose management port has a
            # routing table of its own (mgmt_vrf) keeps the data-plane route for forwarded traffic
            routes = [r for r in routes if r.zone != mz.name]
    try:
        role = appliances.for_device(ctx.inv, dev, ctx.common, plat.data)
    except (appliances.ApplianceError, KeyError) as e:
        raise RenderError(f"{dev.name}: {e}") from e
    return {
        "device": dev, "site": ctx.inv.site, "platform": plat, "interfaces": interfaces,
        "zones": [zones[z] for z in topo.attached.get(group, ()) if z in zones],
        "routes": routes, "ha": {"group": dev.ha_group, "peers": peers, "rank": rank},
        "snmp": dev.snmp, "mgmt_networks": sorted(set(mgmt_nets)), "common": ctx.common,
        "leased_lines": lines, "banner": ctx.common.get("banner", ""), "mgmt": mgmt, "data": plat.data,
        "role": role,
    }


def render_device(ctx: RenderContext, dev: NetworkDevice) -> Rendered:
    t0 = time.perf_counter()
    if not dev.platform:
        raise RenderError(f"{dev.name} has no platform (inventoried only, not configured by dcops)")
    plat = platforms.load(dev.platform)
    kt = plat.for_kind(dev.kind.value)
    env = _env(plat.folder)
    context = device_context(ctx, dev, plat)
    context["policy"] = render_policy(ctx, dev, plat) if kt.policy else ""
    context["ingress_filters"] = ingress_bindings(ctx, dev, plat) if kt.policy else []
    try:
        files = {f"{dev.name}.{plat.extension}": env.get_template(kt.template).render(context)}
        for suffix, tmpl in sorted(kt.extras.items()):
            files[f"{dev.name}.{suffix}"] = env.get_template(tmpl).render(context)
    except RenderError as e:
        raise RenderError(f"{dev.name}: {e}") from e
    except jinja2.TemplateError as e:
        raise RenderError(f"{dev.name}: template error in {plat.name}/{kt.template}: {e}") from e
    return Rendered(dev.name, plat.name, files, time.perf_counter() - t0)


def configured_devices(inv: Inventory) -> list[NetworkDevice]:
    return [d for d in inv.network_devices if d.platform]


def render_all(ctx: RenderContext, names: list[str] | None = None) -> list[Rendered]:
    devices = configured_devices(ctx.inv)
    if names:
        known = {d.name: d for d in ctx.inv.network_devices}
        missing = [n for n in names if n not in known]
        if missing:
            raise RenderError(f"unknown device(s): {', '.join(missing)}")
        devices = [known[n] for n in names]
    return [render_device(ctx, d) for d in devices]


def write_all(rendered: list[Rendered], out: Path) -> list[Path]:
    """Write every file atomically (temp + rename); nothing is written if any render failed before."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for r in rendered:
        for name, text in r.files.items():
            path = out / name
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
            written.append(path)
    return written
