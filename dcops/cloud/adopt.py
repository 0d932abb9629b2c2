"""Adopting the running cloud, and drift: the operator's `openstack … list --long -f json` listings
matched to the offline plan.

The data centre has run since 2021, so the program's first `pulumi up` must *import* what runs,
not create it again. On the bastion the operator saves (see docs/cloud.md):

    openstack server list --all-projects --long -f json  > servers.json
    openstack volume list --all-projects --long -f json  > volumes.json
    openstack port list --long -f json                   > ports.json
    openstack network list --long -f json                > networks.json     (optional, and so on:)
    openstack subnet list --long -f json                 > subnets.json
    openstack security group list --all-projects -f json > security_groups.json
    openstack flavor list --all --long -f json           > flavors.json
    openstack project list --long -f json                > projects.json
    openstack floating ip list --long -f json            > floating_ips.json
    openstack server group list --all-projects --long -f json > server_groups.json
    openstack volume type list --long -f json            > volume_types.json
    openstack aggregate list --long -f json              > aggregates.json
    openstack router list --long -f json                 > routers.json
    openstack security group rule list --long -f json    > security_group_rules.json
    openstack loadbalancer list -f json                  > load_balancers.json   (octavia client: lower-case keys)

and the children's listings (quotas, role assignments, RBAC, QoS, key pair, LB listeners/pools/monitors/
members: data/osc_listings.yaml), matched after their parents by adopt_children.py.

`match()` pairs each adoptable resource of the plan with a cloud object: by name, else by address
(ports and servers by their fixed IP, which the inventory owns), else by attachment (an unnamed boot
volume is the bootable volume attached to the matched server). `import_file()` writes the
`pulumi import --file` document; `drift()` compares what matched with what the plan declares.
"""
from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

from . import adopt_children as children
from .listing_model import Adoption, Match, _normalise, _ref_name, _res, _truthy  # noqa: F401 (re-exported)

T_INSTANCE = "openstack:compute/instance:Instance"
T_PORT = "openstack:networking/port:Port"
T_VOLUME = "openstack:blockstorage/volume:Volume"
T_ATTACH = "openstack:compute/volumeAttach:VolumeAttach"
T_NETWORK = "openstack:networking/network:Network"
T_SUBNET = "openstack:networking/subnet:Subnet"
T_SECGROUP = "openstack:networking/secGroup:SecGroup"
T_FLAVOR = "openstack:compute/flavor:Flavor"
T_PROJECT = "openstack:identity/project:Project"
T_FIP = "openstack:networking/floatingIp:FloatingIp"
T_SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
T_VOLUME_TYPE = "openstack:blockstorage/volumeTypeV3:VolumeTypeV3"
T_AGGREGATE = "openstack:compute/aggregateV2:AggregateV2"
T_ROUTER = "openstack:networking/router:Router"
T_RULE = "openstack:networking/secGroupRule:SecGroupRule"
T_LB = "openstack:loadbalancer/loadBalancer:LoadBalancer"

LISTINGS = {"servers": True, "volumes": True, "ports": True, "networks": False, "subnets": False,
            "security_groups": False, "flavors": False, "projects": False, "floating_ips": False,
            "server_groups": False, "volume_types": False, "aggregates": False, "routers": False,
            "security_group_rules": False, "load_balancers": False}
#: plan types adopted from which listing
ADOPTABLE = {T_INSTANCE: "servers", T_PORT: "ports", T_VOLUME: "volumes", T_ATTACH: "volumes",
             T_NETWORK: "networks", T_SUBNET: "subnets", T_SECGROUP: "security_groups", T_FLAVOR: "flavors",
             T_PROJECT: "projects", T_FIP: "floating_ips", T_SERVER_GROUP: "server_groups",
             T_VOLUME_TYPE: "volume_types", T_AGGREGATE: "aggregates", T_ROUTER: "routers",
             T_RULE: "security_group_rules", T_LB: "load_balancers", **children.ADOPTABLE}


class ListingInvalid(ValueError):
    pass


def load_listings(folder: Path | str) -> dict[str, list[dict]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ListingInvalid(f"{folder}: not a folder of `openstack … -f json` listings")
    out = {}
    for name, required in LISTINGS.items():
        path = folder / f"{name}.json"
        if not path.exists():
            if required:
                raise ListingInvalid(f"{path}: missing (openstack {name.rstrip('s').replace('_', ' ')} list "
                                     "--long -f json)")
            out[name] = None
            continue
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise ListingInvalid(f"{path}: {e}") from e
        except json.JSONDecodeError as e:
            raise ListingInvalid(f"{path}:{e.lineno}: not JSON ({e.msg})") from e
        if isinstance(rows, list):
            rows = [_normalise(r) if isinstance(r, dict) else r for r in rows]
        if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get("ID") for r in rows):
            raise ListingInvalid(f"{path}: expected the JSON list `openstack … list -f json` prints "
                                 "(objects with an ID)")
        out[name] = rows
    try:
        out.update(children.load(folder))
    except children.ChildListingInvalid as e:
        raise ListingInvalid(str(e)) from e
    return out


# ---------------------------------------------------------------- OSC field shapes (old and new clients)

def server_addresses(row: dict) -> dict[str, list[str]]:
    """'Networks' is {"net": ["ip", …]} (OSC >= 5.x) or "net=ip, ip; net2=ip" (older)."""
    nets = row.get("Networks") or {}
    if isinstance(nets, dict):
        return {k: list(v) if isinstance(v, list) else [v] for k, v in nets.items()}
    out: dict[str, list[str]] = {}
    for part in str(nets).split(";"):
        if "=" in part:
            net, ips = part.split("=", 1)
            out[net.strip()] = [i.strip() for i in ips.split(",") if i.strip()]
    return out


def port_ips(row: dict) -> list[str]:
    ips = row.get("Fixed IP Addresses") or []
    if isinstance(ips, str):  # "ip_address='10.0.0.5', subnet_id='…'"
        return re.findall(r"ip_address='([^']+)'", ips)
    return [i.get("ip_address") for i in ips if isinstance(i, dict) and i.get("ip_address")]


def volume_attachments(row: dict) -> list[tuple[str, str]]:
    """[(server id or name, device)]: a list of dicts (new) or "Attached to X on /dev/vdb" (old)."""
    att = row.get("Attached to") or row.get("Attachments") or []
    if isinstance(att, str):
        return re.findall(r"Attached to (\S+) on (\S+)", att)
    return [(a.get("server_id") or a.get("server"), a.get("device") or "") for a in att if isinstance(a, dict)]


def _flavor(row: dict) -> str | None:
    f = row.get("Flavor Name") or row.get("Flavor")
    if isinstance(f, dict):
        return f.get("original_name") or f.get("name")
    return f


# ---------------------------------------------------------------- matching

def _normalise_all(v):
    """A listing (list of rows) or a folder of them ({parent id: rows}; quotas: {project id: limits})."""
    if isinstance(v, list):
        return [_normalise(r) if isinstance(r, dict) else r for r in v]
    if isinstance(v, dict):
        return {k: _normalise_all(x) if isinstance(x, list) else x for k, x in v.items()}
    return v


def match(plan: dict, listings: dict[str, list[dict] | None]) -> Adoption:
    listings = {k: _normalise_all(v) for k, v in listings.items()}
    listings.update({k: None for k in (*LISTINGS, *children.listing_names()) if k not in listings})
    a = Adoption()
    used: dict[str, set[str]] = {k: set() for k in LISTINGS}

    def take(listing, row, r, how):
        used[listing].add(row["ID"])
        want = r["inputs"].get("name")
        renamed = row.get("Name") if want and row.get("Name") != want else None
        a.matched.append(Match(r["type"], r["name"], row["ID"], how, renamed))

    def by_name(listing):
        return {r.get("Name"): r for r in listings[listing] or () if r.get("Name")}

    # servers: by name, else by the inventory address
    servers = by_name("servers")
    ip_server = {ip: r for r in listings["servers"] for ips in server_addresses(r).values() for ip in ips}
    ports = {r["name"]: r for r in _res(plan, T_PORT)}
    server_row: dict[str, dict] = {}
    for r in _res(plan, T_INSTANCE):
        name = r["inputs"]["name"]
        port = ports.get(_ref_name((r["inputs"].get("networks") or [{}])[0].get("port")))
        ip = ((port or {}).get("inputs", {}).get("fixedIps") or [{}])[0].get("ipAddress")
        row = servers.get(name)
        how = "name"
        if row is None and ip in ip_server:
            row, how = ip_server[ip], "address"
        if row is None or row["ID"] in used["servers"]:
            a.inventory_only.append((r["type"], r["name"]))
            continue
        take("servers", row, r, how)
        server_row[r["name"]] = row
        if how == "address":
            a.notes.append(f"server {row.get('Name')} ({row['ID']}) runs on {name}'s address {ip}: adopted as "
                           f"{name}; `pulumi up` renames it")
    # ports: by fixed IP (unique per subnet; the inventory owns the addresses), else by name
    ip_port = {ip: r for r in listings["ports"] for ip in port_ips(r)}
    port_names = by_name("ports")
    for r in _res(plan, T_PORT):
        ip = (r["inputs"].get("fixedIps") or [{}])[0].get("ipAddress")
        row, how = (ip_port.get(ip), "address") if ip in ip_port else (port_names.get(r["inputs"].get("name")), "name")
        if row is None or row["ID"] in used["ports"]:
            a.inventory_only.append((r["type"], r["name"]))
            continue
        take("ports", row, r, how)
    # volumes: by name, else by attachment to the matched server (bootable = the boot volume)
    vol_names = by_name("volumes")
    attached: dict[str, list[tuple[dict, str]]] = {}
    for v in listings["volumes"]:
        for server, device in volume_attachments(v):
            attached.setdefault(server, []).append((v, device))
    vol_row: dict[str, dict] = {}
    for r in _res(plan, T_VOLUME):
        row, how = vol_names.get(r["inputs"].get("name")), "name"
        server = next((s for s in server_row if r["name"].startswith(f"{s}-")), None)
        if row is None and server:
            srow = server_row[server]
            cands = [v for v, _ in attached.get(srow["ID"], []) + attached.get(srow.get("Name"), [])
                     if v["ID"] not in used["volumes"]]
            boot = r["inputs"].get("imageId") is not None
            cands = [v for v in cands if _truthy(v.get("Bootable")) == boot]
            if not boot:
                cands = [v for v in cands if int(v.get("Size") or 0) == r["inputs"].get("size")] or []
            if len(cands) == 1:
                row, how = cands[0], "attachment"
            elif len(cands) > 1:
                a.notes.append(f"{r['name']}: {len(cands)} unnamed volumes attached to {server} could be it; "
                               "name the right one in Cinder and list again")
        if row is None or row["ID"] in used["volumes"]:
            a.inventory_only.append((r["type"], r["name"]))
            continue
        take("volumes", row, r, how)
        vol_row[r["name"]] = row
    # attachments: "<server id>/<volume id>" when the volume is attached to that server
    for r in _res(plan, T_ATTACH):
        inst, vol = _ref_name(r["inputs"].get("instanceId")), _ref_name(r["inputs"].get("volumeId"))
        srow, vrow = server_row.get(inst), vol_row.get(vol)
        if srow and vrow and any(s in (srow["ID"], srow.get("Name")) for s, _ in volume_attachments(vrow)):
            a.matched.append(Match(r["type"], r["name"], f"{srow['ID']}/{vrow['ID']}", "attachment"))
        else:
            a.inventory_only.append((r["type"], r["name"]))
    # the rest by name (subnets by CIDR)
    # floating IPs: the one bound to the matched port (their addresses are the cloud's, not the inventory's)
    port_ids = {m.name: m.id for m in a.matched if m.type == T_PORT}
    fip_by_port = {r.get("Port"): r for r in listings.get("floating_ips") or () if r.get("Port")}
    if listings.get("floating_ips") is not None:
        # a load balancer's VIP port is Octavia's: found by the VIP address the policy pins
        vips = {f"{r['name']}-vip": r["inputs"].get("vipAddress")
                for r in plan["resources"] if r["type"] == "openstack:loadbalancer/loadBalancer:LoadBalancer"}
        for r in _res(plan, T_FIP):
            port = _ref_name(r["inputs"].get("portId"))
            pid = (ip_port.get(vips[port]) or {}).get("ID") if port in vips else port_ids.get(port)
            row = fip_by_port.get(pid)
            if row is None or row["ID"] in used["floating_ips"]:
                a.inventory_only.append((r["type"], r["name"]))
                continue
            used["floating_ips"].add(row["ID"])
            a.matched.append(Match(r["type"], r["name"], row["ID"], "port"))
    # load balancers by name, confirmed by the VIP address the policy pins
    for r in _res(plan, T_LB) if listings.get("load_balancers") is not None else ():
        row = next((x for x in listings["load_balancers"] if x.get("Name") == r["inputs"].get("name")
                    and x.get("vip_address", r["inputs"].get("vipAddress")) == r["inputs"].get("vipAddress")), None)
        if row is None or row["ID"] in used["load_balancers"]:
            a.inventory_only.append((r["type"], r["name"]))
            continue
        take("load_balancers", row, r, "name")
    for typ, listing, key in ((T_NETWORK, "networks", "name"), (T_SECGROUP, "security_groups", "name"),
                              (T_FLAVOR, "flavors", "name"), (T_PROJECT, "projects", "name"),
                              (T_SUBNET, "subnets", "cidr"), (T_SERVER_GROUP, "server_groups", "name"),
                              (T_VOLUME_TYPE, "volume_types", "name"), (T_AGGREGATE, "aggregates", "name"),
                              (T_ROUTER, "routers", "name")):
        rows = listings.get(listing)
        if rows is None:
            continue
        index = {(r.get("Subnet") if key == "cidr" else r.get("Name")): r for r in rows}
        for r in _res(plan, typ):
            want = r["inputs"].get(key)
            row = index.get(want)
            if row is None or row["ID"] in used[listing]:
                a.inventory_only.append((r["type"], r["name"]))
                continue
            take(listing, row, r, "cidr" if key == "cidr" else "name")
    _match_rules(plan, listings, a, used)
    children.cloud_only(listings, children.match(plan, listings, a), a, plan)
    for listing in LISTINGS:
        for row in listings[listing] or ():
            if row["ID"] not in used[listing] and not _foreign(listing, row):
                a.cloud_only.append((listing, row.get("Name") or "", row["ID"]))
    a.matched.sort(key=lambda m: (m.type, m.name))
    a.inventory_only.sort()
    a.cloud_only.sort()
    return a


def _rule_key(group: str | None, direction, ethertype, protocol, lo, hi, remote) -> tuple:
    any_port = lo in (None, "", 0) and hi in (None, "", 0)
    return (group, (direction or "ingress").lower(), (ethertype or "IPv4"), (protocol or "any").lower(),
            "" if any_port else f"{int(lo)}:{int(hi if hi not in (None, '') else lo)}", remote or "0.0.0.0/0")


def _match_rules(plan: dict, listings: dict, a: Adoption, used: dict) -> None:
    """Rules have no names: a rule is its group, direction, protocol, port range and source."""
    rows = listings.get("security_group_rules")
    if rows is None:
        return
    sg_ids = {m.name: m.id for m in a.matched if m.type == T_SECGROUP}
    index = {}
    for row in rows:
        lo, _, hi = str(row.get("Port Range") or "").partition(":")
        index.setdefault(_rule_key(row.get("Security Group"), row.get("Direction"), row.get("Ethertype"),
                                   row.get("IP Protocol"), lo or None, hi or None, row.get("IP Range")), row)
    for r in _res(plan, T_RULE):
        i = r["inputs"]
        key = _rule_key(sg_ids.get(_ref_name(i.get("securityGroupId"))), i.get("direction"), i.get("ethertype"),
                        i.get("protocol"), i.get("portRangeMin"), i.get("portRangeMax"), i.get("remoteIpPrefix"))
        row = index.get(key)
        if row is None or row["ID"] in used["security_group_rules"]:
            a.inventory_only.append((r["type"], r["name"]))
            continue
        used["security_group_rules"].add(row["ID"])
        a.matched.append(Match(r["type"], r["name"], row["ID"], "rule"))


def _foreign(listing: str, row: dict) -> bool:
    """Objects OpenStack makes itself, never the program's: DHCP/router/LB ports, default groups."""
    if listing == "ports":
        owner = row.get("Device Owner") or ""
        return owner.startswith("network:") or owner.startswith("neutron:") or owner == "Octavia"
    if listing == "security_groups":
        return row.get("Name") == "default"
    if listing == "security_group_rules":  # Neutron's egress defaults and the default group's own rules
        return (row.get("Direction") or "").lower() == "egress" or bool(row.get("Remote Security Group"))
    return False


# ---------------------------------------------------------------- outputs

def urns(plan: dict, stack: str, project: str) -> dict[tuple[str, str], str]:
    """(type, name) -> URN, from the plan's parent links (URN type chain = the parents' types)."""
    by_key = {f"{r['type']}::{r['name']}": r for r in plan["resources"]}
    out = {}
    for r in plan["resources"]:
        chain, p = [r["type"]], r.get("parent")
        while p and p in by_key:
            chain.insert(0, by_key[p]["type"])
            p = by_key[p].get("parent")
        out[(r["type"], r["name"])] = f"urn:pulumi:{stack}::{project}::{'$'.join(chain)}::{r['name']}"
    return out


def import_file(plan: dict, adoption: Adoption, *, project: str) -> dict:
    """The `pulumi import --file` document: matched resources with their parents (components are created
    empty by the import) and providers (by URN: they exist once `pulumi up --target` made them)."""
    stack = plan["stack"]
    all_urns = urns(plan, stack, project)
    by_key = {f"{r['type']}::{r['name']}": r for r in plan["resources"]}
    resources, name_table, components = [], {}, set()

    def fname(key: str) -> str:
        """A name unique in the file: the type's short name and the program's name (logicalName keeps it)."""
        typ, name = key.rsplit("::", 1)
        return f"{typ.rsplit(':', 1)[-1].lower()}-{name}"

    imported = {f"{m.type}::{m.name}" for m in adoption.matched}
    for m in adoption.matched:
        r = by_key[f"{m.type}::{m.name}"]
        parent = r.get("parent")
        p = parent
        while p and p in by_key and p not in components:
            if by_key[p].get("custom", True):  # a custom parent (a rule's security group): imported or in state
                if p not in imported:
                    name_table[fname(p)] = all_urns[tuple(p.rsplit("::", 1))]
                break
            components.add(p)
            p = by_key[p].get("parent")
        entry = {"type": m.type, "name": m.name, "id": m.id}
        if parent:
            entry["parent"] = fname(parent)
        if r.get("provider"):
            prov = next((x for x in plan["resources"] if x["type"] == "pulumi:providers:openstack"
                         and x["name"] == r["provider"]), None)
            if prov:
                name_table[f"provider-{prov['name']}"] = all_urns[(prov["type"], prov["name"])]
                entry["provider"] = f"provider-{prov['name']}"
        resources.append(entry)
    comps = []
    for key in sorted(components):
        c = by_key[key]
        e = {"type": c["type"], "name": fname(key), "logicalName": c["name"], "component": True}
        if c.get("parent") and c["parent"] in by_key:
            e["parent"] = fname(c["parent"])
        comps.append(e)
    for e in resources:
        e["logicalName"], e["name"] = e["name"], fname(f"{e['type']}::{e['name']}")
    return {"nameTable": dict(sorted(name_table.items())), "resources": comps + resources}


def report(adoption: Adoption) -> dict:
    return {
        "matched": len(adoption.matched),
        "matched_by": {how: sum(1 for m in adoption.matched if m.how == how)
                       for how in sorted({m.how for m in adoption.matched})},
        "renamed_in_cloud": [{"type": m.type, "name": m.name, "cloud_name": m.cloud_name, "id": m.id}
                             for m in adoption.matched if m.cloud_name],
        "inventory_only": [{"type": t, "name": n} for t, n in adoption.inventory_only],
        "cloud_only": [{"listing": lst, "name": n, "id": i} for lst, n, i in adoption.cloud_only],
        "notes": adoption.notes,
    }


# ---------------------------------------------------------------- drift

def drift(plan: dict, listings: dict, adoption: Adoption) -> list[dict]:
    """What runs differs from what the plan declares: flavor, AZ, addresses, security groups, size, type."""
    listings = {k: _normalise_all(v) for k, v in listings.items()}
    rows = {k: {r["ID"]: r for r in listings.get(k) or ()} for k in LISTINGS}
    sg_id = {r["ID"]: r.get("Name") or r["ID"] for r in listings.get("security_groups") or ()}
    out = []

    def add(r, field_, want, have):
        out.append({"type": r["type"], "resource": r["name"], "field": field_, "declared": want, "running": have})

    by = adoption.by_key()
    for r in plan["resources"]:
        m = by.get((r["type"], r["name"]))
        if m is None:
            continue
        i = r["inputs"]
        if r["type"] == T_INSTANCE:
            row = rows["servers"][m.id]
            if _flavor(row) and _flavor(row) != i.get("flavorName"):
                add(r, "flavor", i.get("flavorName"), _flavor(row))
            az = row.get("Availability Zone")
            if az and az != i.get("availabilityZone"):
                add(r, "availability_zone", i.get("availabilityZone"), az)
        elif r["type"] == T_PORT:
            row = rows["ports"][m.id]
            want = sorted(f.get("ipAddress") for f in i.get("fixedIps") or [])
            have = sorted(port_ips(row))
            if want != have:
                add(r, "addresses", want, have)
            groups = row.get("Security Groups")
            if groups is not None and sg_id:
                have_sg = sorted(sg_id.get(g, g) for g in groups)
                want_sg = sorted(_ref_name(g) for g in i.get("securityGroupIds") or [])
                if have_sg != want_sg:
                    add(r, "security_groups", want_sg, have_sg)
        elif r["type"] == T_VOLUME:
            row = rows["volumes"][m.id]
            if int(row.get("Size") or 0) != i.get("size"):
                add(r, "size_gb", i.get("size"), int(row.get("Size") or 0))
            if row.get("Type") and row.get("Type") != i.get("volumeType"):
                add(r, "volume_type", i.get("volumeType"), row.get("Type"))
        elif r["type"] == T_SUBNET:
            row = rows["subnets"][m.id]
            gw = row.get("Gateway")
            if gw and i.get("gatewayIp") and ipaddress.ip_address(gw) != ipaddress.ip_address(i["gatewayIp"]):
                add(r, "gateway", i.get("gatewayIp"), gw)
    _rule_drift(plan, rows, adoption, out)
    children.drift(plan, listings, adoption, add)
    return sorted(out, key=lambda d: (d["type"], d["resource"], d["field"]))


def _rule_text(key: tuple) -> str:
    _, direction, ethertype, protocol, ports, remote = key
    return f"{direction} {ethertype} {protocol} {ports or 'any'} {remote}"


def _rule_drift(plan: dict, rows: dict, adoption: Adoption, out: list) -> None:
    """Neutron rules are immutable, so a port or CIDR changed by hand is a declared rule that no longer runs
    plus a running rule nothing declares, in a group the program owns: one row per group with both."""
    groups = {m.id: m.name for m in adoption.matched if m.type == T_SECGROUP}
    missing = set(adoption.inventory_only)
    only_declared: dict[str, list[str]] = {}
    only_running: dict[str, list[str]] = {}
    for r in _res(plan, T_RULE):
        i = r["inputs"]
        g = _ref_name(i.get("securityGroupId"))
        if (r["type"], r["name"]) in missing and g in groups.values():
            only_declared.setdefault(g, []).append(_rule_text(_rule_key(
                g, i.get("direction"), i.get("ethertype"), i.get("protocol"), i.get("portRangeMin"),
                i.get("portRangeMax"), i.get("remoteIpPrefix"))))
    for listing, _, ident in adoption.cloud_only:
        row = rows["security_group_rules"].get(ident) if listing == "security_group_rules" else None
        if row and row.get("Security Group") in groups:
            lo, _, hi = str(row.get("Port Range") or "").partition(":")
            only_running.setdefault(groups[row["Security Group"]], []).append(_rule_text(_rule_key(
                None, row.get("Direction"), row.get("Ethertype"), row.get("IP Protocol"), lo or None, hi or None,
                row.get("IP Range"))))
    for g in sorted(set(only_declared) | set(only_running)):
        out.append({"type": T_SECGROUP, "resource": g, "field": "rules",
                    "declared": sorted(only_declared.get(g, [])), "running": sorted(only_running.get(g, []))})
