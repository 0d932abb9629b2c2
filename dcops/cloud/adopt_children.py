"""Adoption and drift for the types that hang off the core objects: quotas, role assignments, RBAC shares,
volume QoS, the keypair, load-balancer listeners/pools/monitors/members and the router interface.

Which listing each comes from, and its column names, is data (data/osc_listings.yaml). Import IDs are the
ones pulumi_openstack documents for `pulumi import` of each type (its docstrings' "## Import" sections):
quotas `project_id/region`, role assignments `domainID/projectID/groupID/userID/roleID` (blanks left empty),
QoS associations `qos_id/volume_type_id`, members the pool ID, the keypair its name, a router interface its
port ID, the rest their own ID. adopt.match() runs these after the core objects (projects, networks, security
groups, volume types, load balancers, ports, routers) are matched: every child is found through its parent.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import yaml

from .listing_model import Adoption, Match, _normalise, _ref_name, _res

DATA = Path(__file__).parent / "data" / "osc_listings.yaml"

T_QUOTA_COMPUTE = "openstack:compute/quotaSetV2:QuotaSetV2"
T_QUOTA_VOLUME = "openstack:blockstorage/quoteSetV3:QuoteSetV3"
T_QUOTA_NETWORK = "openstack:networking/quotaV2:QuotaV2"
T_ROLE = "openstack:identity/roleAssignment:RoleAssignment"
T_RBAC = "openstack:networking/rbacPolicyV2:RbacPolicyV2"
T_QOS = "openstack:blockstorage/qosV3:QosV3"
T_QOS_ASSOC = "openstack:blockstorage/qosAssociationV3:QosAssociationV3"
T_KEYPAIR = "openstack:compute/keypair:Keypair"
T_LISTENER = "openstack:loadbalancer/listener:Listener"
T_POOL = "openstack:loadbalancer/pool:Pool"
T_MONITOR = "openstack:loadbalancer/monitor:Monitor"
T_MEMBERS = "openstack:loadbalancer/members:Members"
T_ROUTER_ITF = "openstack:networking/routerInterface:RouterInterface"
# the parents (adopt.py matches them first)
T_PROJECT = "openstack:identity/project:Project"
T_NETWORK = "openstack:networking/network:Network"
T_SECGROUP = "openstack:networking/secGroup:SecGroup"
T_VOLUME_TYPE = "openstack:blockstorage/volumeTypeV3:VolumeTypeV3"
T_LB = "openstack:loadbalancer/loadBalancer:LoadBalancer"
T_PORT = "openstack:networking/port:Port"
T_ROUTER = "openstack:networking/router:Router"
QUOTAS = (T_QUOTA_COMPUTE, T_QUOTA_VOLUME, T_QUOTA_NETWORK)

#: plan type -> the listing it is adopted from
ADOPTABLE = {T_QUOTA_COMPUTE: "quotas", T_QUOTA_VOLUME: "quotas", T_QUOTA_NETWORK: "quotas",
             T_ROLE: "role_assignments", T_RBAC: "network_rbac", T_QOS: "volume_qos", T_QOS_ASSOC: "volume_qos",
             T_KEYPAIR: "keypairs", T_LISTENER: "lb_listeners", T_POOL: "lb_pools", T_MONITOR: "lb_healthmonitors",
             T_MEMBERS: "lb_members", T_ROUTER_ITF: "ports"}
#: a router's port on a subnet (Neutron's device_owner values for router interfaces)
ROUTER_PORT_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                      "network:ha_router_replicated_interface")


@lru_cache(maxsize=1)
def spec() -> dict:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def listing_names() -> tuple[str, ...]:
    return tuple(spec()["listings"])


class ChildListingInvalid(ValueError):
    pass


def _read(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ChildListingInvalid(f"{path}: {e}") from e
    except json.JSONDecodeError as e:
        raise ChildListingInvalid(f"{path}:{e.lineno}: not JSON ({e.msg})") from e


def _rows(path: Path, key: str, command: str) -> list[dict]:
    rows = _read(path)
    if isinstance(rows, list):
        rows = [_normalise(r) if isinstance(r, dict) else r for r in rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get(key) for r in rows):
        raise ChildListingInvalid(f"{path}: expected the JSON list `{command}` prints (objects with {key!r})")
    return rows


def quota_limits(doc, path: Path | str = "quota") -> dict[str, int | None]:
    """`openstack quota show -f json`: [{"Resource": …, "Limit": …}] (OSC >= 6) or {resource: limit} (older)."""
    if isinstance(doc, list) and all(isinstance(r, dict) and "Resource" in r and "Limit" in r for r in doc):
        return {r["Resource"]: r["Limit"] for r in doc}
    if isinstance(doc, dict):
        return {k: v for k, v in doc.items() if k not in ("project", "project_name", "id", "location")}
    raise ChildListingInvalid(f"{path}: expected what `openstack quota show PROJECT -f json` prints "
                              "(a list of Resource/Limit rows)")


def load(folder: Path) -> dict:
    """The optional listings of data/osc_listings.yaml found in FOLDER (None when absent)."""
    out: dict = {}
    for name, s in spec()["listings"].items():
        if s.get("folder"):
            sub = folder / name
            if not sub.is_dir():
                out[name] = None
                continue
            files = sorted(sub.glob("*.json"))
            if name == "quotas":
                out[name] = {f.stem: quota_limits(_read(f), f) for f in files}
            else:
                out[name] = {f.stem: _rows(f, s["key"], s["command"]) for f in files}
            continue
        path = folder / f"{name}.json"
        out[name] = _rows(path, s["key"], s["command"]) if path.exists() else None
    for row in out.get("role_assignments") or ():
        if "@" in str(row.get("Project") or "") or "@" in str(row.get("User") or ""):
            raise ChildListingInvalid(f"{folder / 'role_assignments.json'}: printed with --names; `pulumi import` "
                                      "needs the IDs (openstack role assignment list -f json)")
    return out


# ---------------------------------------------------------------- matching

def _ids(a: Adoption, typ: str) -> dict[str, str]:
    return {m.name: m.id for m in a.matched if m.type == typ}


def _region(plan: dict, r: dict) -> str | None:
    prov = next((x for x in plan["resources"] if x["type"] == "pulumi:providers:openstack"
                 and x["name"] == r.get("provider")), None)
    return (prov or {}).get("inputs", {}).get("region")


def _pools_of(row: dict) -> list[str]:
    """A monitor's `pools`: ["id"], [{"id": …}] or "id1\\nid2" / "id1, id2" by client version."""
    p = row.get("pools") or []
    if isinstance(p, str):
        return [x.strip() for x in p.replace("\n", ",").split(",") if x.strip()]
    return [x.get("id") if isinstance(x, dict) else x for x in p]


def match(plan: dict, listings: dict, a: Adoption) -> dict[str, set[str]]:
    """Match the child types; returns the IDs used per listing (for the cloud-only report)."""
    used: dict[str, set[str]] = {k: set() for k in listing_names()}
    projects = _ids(a, T_PROJECT)

    def got(r, ident, how, listing=None, row_id=None):
        a.matched.append(Match(r["type"], r["name"], ident, how))
        if listing:
            used[listing].add(row_id or ident)

    def missing(r):
        a.inventory_only.append((r["type"], r["name"]))

    # quotas exist with every project: imported as project_id/region once the project is matched
    quotas = listings.get("quotas")
    for typ in QUOTAS if quotas is not None else ():
        for r in _res(plan, typ):
            pid = projects.get(_ref_name(r["inputs"].get("projectId")))
            if pid is None or pid not in quotas:
                missing(r)
                continue
            got(r, f"{pid}/{_region(plan, r)}", "project")
    # role assignments: by project, user and role (users and roles by name from their listings)
    if None not in (listings.get("role_assignments"), listings.get("roles"), listings.get("users")):
        roles = {x.get("Name"): x["ID"] for x in listings["roles"]}
        users = {x.get("Name"): x["ID"] for x in listings["users"]}
        rows = {(x.get("Project"), x.get("User"), x.get("Role")): x for x in listings["role_assignments"]
                if not x.get("Group") and not x.get("Domain")}
        for r in _res(plan, T_ROLE):
            i = r["inputs"]
            key = (projects.get(_ref_name(i.get("projectId"))), users.get(_ref_name(i.get("userId"))),
                   roles.get(_ref_name(i.get("roleId"))))
            if None in key or key not in rows:
                missing(r)
                continue
            pid, uid, rid = key
            got(r, f"/{pid}//{uid}/{rid}", "assignment", "role_assignments", "/".join(key))
    # RBAC shares: by object, action and target project (a policy has no name)
    if listings.get("network_rbac") is not None:
        objects = {"network": _ids(a, T_NETWORK), "security_group": _ids(a, T_SECGROUP)}
        rows = {(x.get("object_type"), x.get("object_id"), x.get("action"), x.get("target_project_id")): x
                for x in listings["network_rbac"]}
        for r in _res(plan, T_RBAC):
            i = r["inputs"]
            key = (i.get("objectType"), objects.get(i.get("objectType"), {}).get(_ref_name(i.get("objectId"))),
                   i.get("action"), projects.get(_ref_name(i.get("targetTenant"))))
            row = rows.get(key)
            if None in key or row is None:
                missing(r)
                continue
            got(r, row["ID"], "share", "network_rbac")
    # volume QoS by name; an association when the QoS lists the volume type
    if listings.get("volume_qos") is not None:
        _by_name(plan, T_QOS, listings["volume_qos"], "volume_qos", got, missing)
        qos_ids, vtypes = _ids(a, T_QOS), _ids(a, T_VOLUME_TYPE)
        vtype_names = {x["name"]: x["inputs"].get("name") for x in _res(plan, T_VOLUME_TYPE)}
        by_id = {x["ID"]: x for x in listings["volume_qos"]}
        for r in _res(plan, T_QOS_ASSOC):
            q, vt = _ref_name(r["inputs"].get("qosId")), _ref_name(r["inputs"].get("volumeTypeId"))
            row = by_id.get(qos_ids.get(q))
            if row is None or vt not in vtypes or vtype_names.get(vt) not in (row.get("Associations") or []):
                missing(r)
                continue
            got(r, f"{row['ID']}/{vtypes[vt]}", "association")
    if listings.get("keypairs") is not None:  # imported by name
        _by_name(plan, T_KEYPAIR, listings["keypairs"], "keypairs", got, missing)
    _match_lb(plan, listings, a, used, got, missing, _ids(a, T_LB))
    # a router interface is its port (Neutron's router-owned port on the subnet)
    ports = {x["ID"]: x for x in listings.get("ports") or ()}
    port_ids, routers = _ids(a, T_PORT), _ids(a, T_ROUTER)
    for r in _res(plan, T_ROUTER_ITF):
        pid = port_ids.get(_ref_name(r["inputs"].get("portId")))
        owner = (ports.get(pid) or {}).get("Device Owner")
        if pid is None or _ref_name(r["inputs"].get("routerId")) not in routers or owner not in ROUTER_PORT_OWNERS:
            missing(r)
            continue
        got(r, pid, "port")
    return used


def _by_name(plan, typ, rows, listing, got, missing, parent_ok=lambda r: True) -> None:
    index = {x.get("Name"): x for x in rows}
    for r in _res(plan, typ):
        row = index.get(r["inputs"].get("name"))
        if row is None or not parent_ok(r):
            missing(r)
            continue
        got(r, row.get("ID") or row["Name"], "name", listing)


def _match_lb(plan, listings, a, used, got, missing, lbs) -> None:
    if listings.get("lb_listeners") is not None:
        _by_name(plan, T_LISTENER, listings["lb_listeners"], "lb_listeners", got, missing,
                 lambda r: _ref_name(r["inputs"].get("loadbalancerId")) in lbs)
    if listings.get("lb_pools") is not None:
        _by_name(plan, T_POOL, listings["lb_pools"], "lb_pools", got, missing)
    pools = _ids(a, T_POOL)
    if listings.get("lb_healthmonitors") is not None:
        by_pool = {p: x for x in listings["lb_healthmonitors"] for p in _pools_of(x)}
        for r in _res(plan, T_MONITOR):
            row = by_pool.get(pools.get(_ref_name(r["inputs"].get("poolId"))))
            got(r, row["ID"], "pool", "lb_healthmonitors") if row else missing(r)
    members = listings.get("lb_members")
    if members is not None:
        for r in _res(plan, T_MEMBERS):
            pid = pools.get(_ref_name(r["inputs"].get("poolId")))
            if pid not in members:
                missing(r)
                continue
            got(r, pid, "pool", "lb_members")  # the whole member set of the pool is one resource
            used["lb_members"].update(x["ID"] for x in members[pid])


def cloud_only(listings: dict, used: dict[str, set[str]], a: Adoption, plan: dict) -> None:
    """Objects of the child listings the plan does not claim (children of objects the program owns)."""
    users = {x.get("Name"): x["ID"] for x in listings.get("users") or ()}
    managed_users = {users.get(_ref_name(r["inputs"].get("userId"))) for r in _res(plan, T_ROLE)} - {None}
    for x in listings.get("role_assignments") or ():  # other people's roles are not the program's
        key = "/".join(str(x.get(k)) for k in ("Project", "User", "Role"))
        if x.get("User") in managed_users and key not in used["role_assignments"]:
            a.cloud_only.append(("role_assignments", f"{x.get('Role')}@{x.get('Project')}", key))
    for listing in ("network_rbac", "volume_qos", "lb_listeners", "lb_pools", "lb_healthmonitors"):
        for x in listings.get(listing) or ():
            if x["ID"] not in used[listing]:
                a.cloud_only.append((listing, x.get("Name") or "", x["ID"]))
    # members of a pool nothing declares; a declared pool's extra members are drift (Members owns the set)
    for pool, rows in (listings.get("lb_members") or {}).items():
        if pool not in {m.id for m in a.matched if m.type == T_MEMBERS}:
            a.cloud_only.extend(("lb_members", x.get("Name") or "", x["ID"]) for x in rows)


# ---------------------------------------------------------------- drift

def drift(plan: dict, listings: dict, adoption: Adoption, add) -> None:
    """Quota limits, QoS consumer/specs, listener/pool protocol and port, monitor timing, pool members."""
    by = adoption.by_key()
    keys = spec()["quota_keys"]
    rows = {k: {x["ID"]: x for x in v} for k, v in listings.items()
            if k in ("volume_qos", "lb_listeners", "lb_pools", "lb_healthmonitors") and v is not None}
    pools_of_listener = {x["ID"]: x.get("default_pool_id") for x in listings.get("lb_listeners") or ()}
    for r in plan["resources"]:
        m = by.get((r["type"], r["name"]))
        if m is None:
            continue
        i = r["inputs"]
        if r["type"] in QUOTAS:
            have = quota_limits(listings["quotas"][m.id.split("/", 1)[0]])
            want = {keys[r["type"]][k]: v for k, v in i.items() if k in keys[r["type"]]}
            want.update(i.get("volumeTypeQuota") or {})
            for k, v in sorted(want.items()):
                if have.get(k) is None or int(have[k]) != int(v):
                    add(r, f"quota {k}", int(v), have.get(k))
        elif r["type"] == T_QOS:
            row = rows["volume_qos"][m.id]
            if row.get("Consumer") != i.get("consumer"):
                add(r, "consumer", i.get("consumer"), row.get("Consumer"))
            have = {k: str(v) for k, v in (row.get("Properties") or {}).items()}
            if have != {k: str(v) for k, v in (i.get("specs") or {}).items()}:
                add(r, "specs", i.get("specs"), have)
        elif r["type"] == T_LISTENER:
            row = rows["lb_listeners"][m.id]
            for f, col in (("protocol", "protocol"), ("protocolPort", "protocol_port")):
                if row.get(col) is not None and row.get(col) != i.get(f):
                    add(r, col, i.get(f), row.get(col))
        elif r["type"] == T_POOL:
            row = rows["lb_pools"][m.id]
            for f, col in (("protocol", "protocol"), ("lbMethod", "lb_algorithm")):
                if row.get(col) is not None and row.get(col) != i.get(f):
                    add(r, col, i.get(f), row.get(col))
            listener = by.get((T_LISTENER, _ref_name(i.get("listenerId"))))
            if listener and pools_of_listener.get(listener.id) != m.id:
                add(r, "listener default pool", m.id, pools_of_listener.get(listener.id))
        elif r["type"] == T_MONITOR:
            row = rows["lb_healthmonitors"][m.id]
            for f, col in (("type", "type"), ("delay", "delay"), ("timeout", "timeout"), ("maxRetries", "max_retries")):
                if row.get(col) is not None and row.get(col) != i.get(f):
                    add(r, col, i.get(f), row.get(col))
        elif r["type"] == T_MEMBERS:
            def line(addr, port, weight):
                return f"{addr}:{port} weight {weight}"
            # an undeclared weight is the provider's default, 1 (MembersMemberArgs: "Defaults to 1")
            want = sorted(line(x.get("address"), x.get("protocolPort"), x.get("weight", 1)) for x in i["members"])
            have = sorted(line(x.get("address"), x.get("protocol_port"), x.get("weight", 1))
                          for x in listings["lb_members"][m.id])
            if want != have:
                add(r, "members", want, have)
