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
