"""Recorded `openstack … list --long -f json` output for a cloud that runs what a plan declares.

Field names and shapes are those python-openstackclient prints (server list --long: "Networks" as
{"net": [ips]}, "Flavor Name", "Availability Zone"; volume list --long: "Attached to" as a list of
{"server_id", "device"}; port list --long: "Fixed IP Addresses" as [{"subnet_id", "ip_address"}]).
IDs are UUIDs derived from names, so the listings are deterministic.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

NS = uuid.UUID("6f1c1f0e-2b7a-4d0e-9a51-6b5a0c9f4e21")


def uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NS, f"{kind}:{name}"))


def _ref(ref: str) -> str:
    return ref[1:-1].split(":", 1)[1]


def from_plan(plan: dict) -> dict[str, list[dict]]:
    res = plan["resources"]
    of = lambda t: [r for r in res if r["type"] == t]  # noqa: E731
    nets = {r["name"]: r for r in of("openstack:networking/network:Network")}
    subnets = {r["name"]: r for r in of("openstack:networking/subnet:Subnet")}
    ports = {r["name"]: r for r in of("openstack:networking/port:Port")}
    out = {"networks": [{"ID": uid("net", n), "Name": r["inputs"]["name"], "Status": "ACTIVE", "Shared": False,
                         "Subnets": [uid("subnet", s) for s, sr in subnets.items()
                                     if _ref(sr["inputs"]["networkId"]) == n]} for n, r in nets.items()],
           "subnets": [{"ID": uid("subnet", n), "Name": r["inputs"]["name"], "Subnet": r["inputs"]["cidr"],
                        "Network": uid("net", _ref(r["inputs"]["networkId"])), "Gateway": r["inputs"].get("gatewayIp")}
                       for n, r in subnets.items()],
           "security_groups": [{"ID": uid("sg", r["name"]), "Name": r["inputs"]["name"], "Description": ""}
                               for r in of("openstack:networking/secGroup:SecGroup")]
           + [{"ID": uid("sg", "default"), "Name": "default", "Description": "Default security group"}],
           "flavors": [{"ID": r["inputs"]["flavorId"], "Name": r["inputs"]["name"], "VCPUs": r["inputs"]["vcpus"],
                        "RAM": r["inputs"]["ram"], "Disk": r["inputs"]["disk"]} for r in of("openstack:compute/flavor:Flavor")],
           "projects": [{"ID": uid("project", r["name"]), "Name": r["inputs"]["name"], "Enabled": True}
                        for r in of("openstack:identity/project:Project")],
           "ports": [], "servers": [], "volumes": []}
    for n, r in ports.items():
        i = r["inputs"]
        owner = "network:router_interface" if r["parent"].startswith("dcops:cloud:PublicEdge") else "compute:nova"
        out["ports"].append({"ID": uid("port", n), "Name": i["name"], "Status": "ACTIVE", "Device Owner": owner,
                             "Fixed IP Addresses": [{"subnet_id": uid("subnet", _ref(f["subnetId"])),
                                                     "ip_address": f["ipAddress"]} for f in i["fixedIps"]],
                             "Security Groups": [uid("sg", _ref(g)) for g in i.get("securityGroupIds") or []]})
    port_of = {r["name"]: r for r in of("openstack:networking/floatingIp:FloatingIp")}
    out["floating_ips"] = [{"ID": uid("fip", n), "Floating IP Address": f"203.0.113.{i + 10}",
                            "Port": uid("port", _ref(r["inputs"]["portId"])),
                            "Floating Network": uid("net", "net-public")}
                           for i, (n, r) in enumerate(sorted(port_of.items()))]
    for lb in of("openstack:loadbalancer/loadBalancer:LoadBalancer"):  # Octavia's VIP ports
        out["ports"].append({"ID": uid("port", f"{lb['name']}-vip"), "Name": f"octavia-lb-{uid('lb', lb['name'])}",
                             "Device Owner": "Octavia", "Security Groups": [],
                             "Fixed IP Addresses": [{"ip_address": lb["inputs"]["vipAddress"]}]})
    out["server_groups"] = [{"ID": uid("sg-group", r["name"]), "Name": r["inputs"]["name"],
                             "Policy": r["inputs"]["policies"]} for r in of("openstack:compute/serverGroup:ServerGroup")]
    out["volume_types"] = [{"ID": uid("vtype", r["name"]), "Name": r["inputs"]["name"], "Is Public": True}
                           for r in of("openstack:blockstorage/volumeTypeV3:VolumeTypeV3")]
    out["aggregates"] = [{"ID": str(i + 1), "Name": r["inputs"]["name"], "Availability Zone": r["inputs"]["zone"]}
                         for i, r in enumerate(of("openstack:compute/aggregateV2:AggregateV2"))]
    out["routers"] = [{"ID": uid("router", r["name"]), "Name": r["inputs"]["name"], "Status": "ACTIVE"}
                      for r in of("openstack:networking/router:Router")]
    out["security_group_rules"] = [
        {"ID": uid("rule", r["name"]), "IP Protocol": r["inputs"].get("protocol"), "Ethertype": "IPv4",
         "IP Range": r["inputs"].get("remoteIpPrefix"), "Direction": "ingress", "Remote Security Group": None,
         "Port Range": (f"{r['inputs']['portRangeMin']}:{r['inputs']['portRangeMax']}"
                        if r["inputs"].get("portRangeMin") else ""),
         "Security Group": uid("sg", _ref(r["inputs"]["securityGroupId"]))}
        for r in of("openstack:networking/secGroupRule:SecGroupRule")] + [
        {"ID": uid("rule", f"egress-{g['name']}"), "IP Protocol": None, "Ethertype": "IPv4", "IP Range": None,
         "Direction": "egress", "Port Range": "", "Security Group": uid("sg", g["name"])}
        for g in of("openstack:networking/secGroup:SecGroup")]
    out["load_balancers"] = [{"id": uid("lb", r["name"]), "name": r["inputs"]["name"],
                              "vip_address": r["inputs"]["vipAddress"], "provisioning_status": "ACTIVE"}
                             for r in of("openstack:loadbalancer/loadBalancer:LoadBalancer")]
    attach = {}
    for r in of("openstack:compute/volumeAttach:VolumeAttach"):
        attach.setdefault(_ref(r["inputs"]["volumeId"]), _ref(r["inputs"]["instanceId"]))
    for r in of("openstack:compute/instance:Instance"):
        i = r["inputs"]
        port = ports[_ref(i["networks"][0]["port"])]
        net = nets[_ref(port["inputs"]["networkId"])]["inputs"]["name"]
        out["servers"].append({"ID": uid("server", r["name"]), "Name": i["name"], "Status": "ACTIVE",
                               "Networks": {net: [f["ipAddress"] for f in port["inputs"]["fixedIps"]]},
                               "Flavor Name": i["flavorName"], "Availability Zone": i["availabilityZone"],
                               "Image Name": "N/A (booted from volume)", "Host": "cmp-01"})
        boot = _ref(i["blockDevices"][0]["uuid"])
        attach[boot] = r["name"]
    for r in of("openstack:blockstorage/volume:Volume"):
        i = r["inputs"]
        server = attach.get(r["name"])
        out["volumes"].append({"ID": uid("volume", r["name"]), "Name": i["name"], "Status": "in-use" if server else "available",
                               "Size": i["size"], "Type": i["volumeType"], "Bootable": "true" if i.get("imageId") else "false",
                               "Attached to": [{"server_id": uid("server", server),
                                                "device": "/dev/vda" if i.get("imageId") else "/dev/vdb"}] if server else []})
    return out


def write(listings: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in listings.items():
        (folder / f"{name}.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return folder


# ------------------------------------------------------------------ child types (dcops/cloud/data/osc_listings.yaml)
# Shapes from the clients' sources: python-openstackclient common/quota.py ShowQuota (>= 6.0 prints a list of
# {"Resource", "Limit"}, names mapped by COMPUTE_QUOTAS/VOLUME_QUOTAS/NETWORK_QUOTAS: server-groups, floating-ips…),
# identity/v3/role_assignment.py (Role, User, Group, Project, Domain, System, Inherited: IDs without --names),
# network/v2/network_rbac.py show (id, action, object_id, object_type, project_id, target_project_id),
# volume/v2/qos_specs.py ListQos (ID, Name, Consumer, Associations = volume type names, Properties = the specs),
# compute/v2/keypair.py (Name, Fingerprint, Type); python-octaviaclient osc/v2/constants.py LISTENER_COLUMNS
# (id, default_pool_id, name, project_id, protocol, protocol_port, admin_state_up), POOL_COLUMNS (id, name,
# project_id, provisioning_status, protocol, lb_algorithm, admin_state_up), MONITOR_ROWS of `healthmonitor show`
# (… delay, max_retries, pools, timeout, type …) and MEMBER_COLUMNS (id, name, project_id, provisioning_status,
# address, protocol_port, operating_status, weight).
QUOTA_NAMES = {"cores": "cores", "instances": "instances", "ram": "ram", "serverGroups": "server-groups",
               "serverGroupMembers": "server-group-members", "gigabytes": "gigabytes", "snapshots": "snapshots",
               "volumes": "volumes", "floatingip": "floating-ips", "port": "ports"}
ROLE_IDS = {"member": "5f2a8e0c6b1d4c3e9a7f0b2d4e6a8c01", "admin": "9b8c7d6e5f4a4b3c8d2e1f0a9b8c7d02"}
USER_IDS = {"dcops-deployer": "a1b2c3d4e5f64a7b8c9d0e1f2a3b4c03", "nguyen.van.a": "0f1e2d3c4b5a49687766554433221104"}


def children_from_plan(plan: dict) -> dict:
    res = plan["resources"]
    of = lambda t: [r for r in res if r["type"] == t]  # noqa: E731
    pid = lambda ref: uid("project", _ref(ref))  # noqa: E731
    out: dict = {}
    quotas: dict[str, list] = {}
    for t in ("compute/quotaSetV2:QuotaSetV2", "blockstorage/quoteSetV3:QuoteSetV3", "networking/quotaV2:QuotaV2"):
        for r in of("openstack:" + t):
            rows = quotas.setdefault(pid(r["inputs"]["projectId"]), [])
            rows += [{"Resource": QUOTA_NAMES[k], "Limit": v} for k, v in r["inputs"].items() if k in QUOTA_NAMES]
            rows += [{"Resource": k, "Limit": int(v)} for k, v in (r["inputs"].get("volumeTypeQuota") or {}).items()]
    out["quotas"] = quotas
    out["roles"] = [{"ID": i, "Name": n, "Domain ID": None} for n, i in ROLE_IDS.items()]
    out["users"] = [{"ID": i, "Name": n} for n, i in USER_IDS.items()]
    out["role_assignments"] = [
        {"Role": ROLE_IDS[_ref(r["inputs"]["roleId"])], "User": USER_IDS[_ref(r["inputs"]["userId"])], "Group": "",
         "Project": pid(r["inputs"]["projectId"]), "Domain": "", "System": "", "Inherited": False}
        for r in of("openstack:identity/roleAssignment:RoleAssignment")]
    kind = {"network": "net", "security_group": "sg"}
    out["network_rbac"] = [
        {"id": uid("rbac", r["name"]), "action": r["inputs"]["action"], "object_type": r["inputs"]["objectType"],
         "object_id": uid(kind[r["inputs"]["objectType"]], _ref(r["inputs"]["objectId"])),
         "project_id": uid("project", "admin"), "target_project_id": pid(r["inputs"]["targetTenant"])}
        for r in of("openstack:networking/rbacPolicyV2:RbacPolicyV2")]
    vtype = {r["name"]: r["inputs"]["name"] for r in of("openstack:blockstorage/volumeTypeV3:VolumeTypeV3")}
    assoc: dict[str, list] = {}
    for r in of("openstack:blockstorage/qosAssociationV3:QosAssociationV3"):
        assoc.setdefault(_ref(r["inputs"]["qosId"]), []).append(vtype[_ref(r["inputs"]["volumeTypeId"])])
    out["volume_qos"] = [{"ID": uid("qos", r["name"]), "Name": r["inputs"]["name"], "Consumer": r["inputs"]["consumer"],
                          "Associations": assoc.get(r["name"], []), "Properties": r["inputs"]["specs"]}
                         for r in of("openstack:blockstorage/qosV3:QosV3")]
    out["keypairs"] = [{"Name": r["inputs"]["name"], "Fingerprint": "9e:1a:5f:00:00:00:00:00:00:00:00:00:00:00:00:01",
                        "Type": "ssh"} for r in of("openstack:compute/keypair:Keypair")]
    pool_of = {_ref(r["inputs"]["listenerId"]): r["name"] for r in of("openstack:loadbalancer/pool:Pool")}
    out["lb_listeners"] = [{"id": uid("listener", r["name"]), "default_pool_id": uid("pool", pool_of[r["name"]]),
                            "name": r["inputs"]["name"], "project_id": uid("project", "vp-ubnd"),
                            "protocol": r["inputs"]["protocol"], "protocol_port": r["inputs"]["protocolPort"],
                            "admin_state_up": True} for r in of("openstack:loadbalancer/listener:Listener")]
    out["lb_pools"] = [{"id": uid("pool", r["name"]), "name": r["inputs"]["name"], "project_id": uid("project", "vp-ubnd"),
                        "provisioning_status": "ACTIVE", "protocol": r["inputs"]["protocol"],
                        "lb_algorithm": r["inputs"]["lbMethod"], "admin_state_up": True}
                       for r in of("openstack:loadbalancer/pool:Pool")]
    out["lb_healthmonitors"] = [
        {"id": uid("monitor", r["name"]), "name": "", "project_id": uid("project", "vp-ubnd"), "admin_state_up": True,
         "pools": [{"id": uid("pool", _ref(r["inputs"]["poolId"]))}], "delay": r["inputs"]["delay"],
         "timeout": r["inputs"]["timeout"], "max_retries": r["inputs"]["maxRetries"], "max_retries_down": 3,
         "type": r["inputs"]["type"], "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
        for r in of("openstack:loadbalancer/monitor:Monitor")]
    out["lb_members"] = {
        uid("pool", _ref(r["inputs"]["poolId"])): [
            {"id": uid("member", f"{r['name']}-{m['name']}"), "name": m["name"], "project_id": uid("project", "vp-ubnd"),
             "provisioning_status": "ACTIVE", "address": m["address"], "protocol_port": m["protocolPort"],
             "operating_status": "ONLINE", "weight": 1} for m in r["inputs"]["members"]]
        for r in of("openstack:loadbalancer/members:Members")}
    return out


def write_all(listings: dict, folder: Path) -> Path:
    """Like write(), with the per-parent folders (quotas/<project id>.json, lb_members/<pool id>.json)."""
    write({k: v for k, v in listings.items() if not isinstance(v, dict)}, folder)
    for name, files in listings.items():
        if isinstance(files, dict):
            (folder / name).mkdir(parents=True, exist_ok=True)
            for stem, doc in files.items():
                (folder / name / f"{stem}.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return folder
