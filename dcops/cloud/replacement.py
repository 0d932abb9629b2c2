"""Which input changes make the provider replace a resource: the table `dcops plan --diff` classifies with.

Pulumi's OpenStack provider is bridged from the Terraform provider; its replace-on-change set
is the Terraform schema's ForceNew, which the SDK does not expose, but every generated input
documents it ("Changing this creates a new server", "... updates the existing ...", "... resizes").
`derive()` reads those docstrings from the installed pulumi_openstack; the reviewed result is
data/replace_on_change.json (with the provider version), and tests/cloud/test_replacement.py
fails when the installed provider no longer matches it, so a provider upgrade is reviewed.

OVERRIDES holds what the docstrings leave out, each with the Terraform source line it comes from.
"""
from __future__ import annotations

import importlib
import json
import re
import warnings
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).parent / "data" / "replace_on_change.json"

#: resource types the program declares (token -> python module path, class)
TYPES = (
    "openstack:blockstorage/qosAssociationV3:QosAssociationV3",
    "openstack:blockstorage/qosV3:QosV3",
    "openstack:blockstorage/quoteSetV3:QuoteSetV3",
    "openstack:blockstorage/volume:Volume",
    "openstack:blockstorage/volumeTypeV3:VolumeTypeV3",
    "openstack:compute/aggregateV2:AggregateV2",
    "openstack:compute/flavor:Flavor",
    "openstack:compute/instance:Instance",
    "openstack:compute/keypair:Keypair",
    "openstack:compute/quotaSetV2:QuotaSetV2",
    "openstack:compute/serverGroup:ServerGroup",
    "openstack:compute/volumeAttach:VolumeAttach",
    "openstack:identity/project:Project",
    "openstack:identity/roleAssignment:RoleAssignment",
    "openstack:loadbalancer/listener:Listener",
    "openstack:loadbalancer/loadBalancer:LoadBalancer",
    "openstack:loadbalancer/members:Members",
    "openstack:loadbalancer/monitor:Monitor",
    "openstack:loadbalancer/pool:Pool",
    "openstack:networking/floatingIp:FloatingIp",
    "openstack:networking/network:Network",
    "openstack:networking/port:Port",
    "openstack:networking/quotaV2:QuotaV2",
    "openstack:networking/rbacPolicyV2:RbacPolicyV2",
    "openstack:networking/router:Router",
    "openstack:networking/routerInterface:RouterInterface",
    "openstack:networking/secGroup:SecGroup",
    "openstack:networking/secGroupRule:SecGroupRule",
    "openstack:networking/subnet:Subnet",
)

#: replace-on-change facts the docstrings omit: ForceNew in terraform-provider-openstack's schema
#: (openstack/resource_openstack_<file>.go at commit 27f261252ad2, checked field by field)
OVERRIDES = {
    "openstack:compute/instance:Instance": {"schedulerHints": "replace"},  # compute_instance_v2
    "openstack:compute/serverGroup:ServerGroup": {"policies": "replace"},  # compute_servergroup_v2
    "openstack:compute/volumeAttach:VolumeAttach": {"instanceId": "replace", "volumeId": "replace"},
    "openstack:identity/project:Project": {"domainId": "replace"},  # identity_project_v3
    "openstack:identity/roleAssignment:RoleAssignment": {
        "domainId": "replace", "groupId": "replace", "projectId": "replace", "roleId": "replace",
        "userId": "replace"},  # identity_role_assignment_v3
    "openstack:loadbalancer/monitor:Monitor": {"poolId": "replace"},  # lb_monitor_v2
    "openstack:networking/quotaV2:QuotaV2": {"projectId": "replace"},  # networking_quota_v2
    "openstack:networking/rbacPolicyV2:RbacPolicyV2": {
        "action": "replace", "objectId": "replace", "objectType": "replace"},  # networking_rbac_policy_v2
    "openstack:networking/subnet:Subnet": {"cidr": "replace"},  # networking_subnet_v2
}

#: types whose replacement must delete the old one first: the new one claims something unique that the
#: old one still holds, and create-before-delete (Pulumi's default) fails or, worse, half-succeeds
DELETE_FIRST = {
    "openstack:compute/instance:Instance": "boots from the boot volume still attached to the old server",
    "openstack:networking/port:Port": "pins the fixed IP the old port still holds",
    "openstack:compute/flavor:Flavor": "reuses the flavor ID (unique)",
    "openstack:compute/volumeAttach:VolumeAttach": "a volume is attached to one server at a time",
    "openstack:compute/keypair:Keypair": "key pair names are unique per user",
    "openstack:compute/aggregateV2:AggregateV2": "aggregate names are unique; a host sits in one AZ",
    "openstack:blockstorage/volumeTypeV3:VolumeTypeV3": "volume type names are unique",
    "openstack:blockstorage/qosV3:QosV3": "QoS spec names are unique",
    "openstack:blockstorage/qosAssociationV3:QosAssociationV3": "one association per QoS spec and type",
    "openstack:networking/network:Network": "the VLAN ID is unique on its physical network",
    "openstack:networking/subnet:Subnet": "a CIDR may not overlap another subnet of the network",
    "openstack:networking/secGroupRule:SecGroupRule": "an identical rule is refused (SecurityGroupRuleExists)",
    "openstack:networking/rbacPolicyV2:RbacPolicyV2": "a duplicate RBAC entry is refused",
    "openstack:networking/routerInterface:RouterInterface": "a subnet attaches once per router",
    "openstack:loadbalancer/loadBalancer:LoadBalancer": "pins the VIP address the old one still holds",
    "openstack:loadbalancer/listener:Listener": "the protocol port is unique on its load balancer",
    "openstack:loadbalancer/pool:Pool": "a listener has one default pool",
    "openstack:loadbalancer/monitor:Monitor": "a pool has one health monitor",
}

_PARAM = re.compile(r":param (?:[^\n:]*?) (\w+): (.*?)(?=\n\s*:param |\n\s*\"\"\"|\Z)", re.S)
_REPLACE = re.compile(r"(creates? a new|forces? (?:a )?new|new \w+ (?:to be|will be|is) created|recreat|"
                      r"will be re-?created|destroy(?:s|ed)? and re-?create)", re.I)
_CHANGING = re.compile(r"changing (?:this|the \w+|any of these)", re.I)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _args_class(token: str):
    _, mod_path, cls = token.split(":")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # through the package (lazily loaded modules): importing a submodule directly breaks its exports
        mod = importlib.import_module(f"pulumi_openstack.{mod_path.split('/')[0]}")
        return getattr(mod, f"{cls}Args")


def classify(doc: str) -> str:
    text = " ".join(doc.split())
    if _REPLACE.search(text):
        return "replace"
    return "update"


def derive() -> dict:
    """{type token: {camelCase input: 'replace' | 'update'}} from the installed provider's docstrings."""
    import pulumi_openstack

    out = {}
    for token in TYPES:
        doc = _args_class(token).__init__.__doc__ or ""
        inputs = {_camel(name): classify(desc) for name, desc in _PARAM.findall(doc)}
        inputs.update(OVERRIDES.get(token, {}))
        out[token] = dict(sorted(inputs.items()))
    version = json.loads((Path(pulumi_openstack.__file__).parent / "pulumi-plugin.json").read_text())["version"]
    return {"provider": "openstack", "version": version, "types": out}


@lru_cache(maxsize=1)
def table() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def action(token: str, path: str) -> str:
    """'replace' or 'update' for a changed input path such as 'blockDevices[0].uuid' (its top-level input)."""
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    return table()["types"].get(token, {}).get(top, "update")


if __name__ == "__main__":  # python -m dcops.cloud.replacement > dcops/cloud/data/replace_on_change.json
    print(json.dumps(derive(), indent=1, sort_keys=True))
