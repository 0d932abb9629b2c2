"""Neutron's and Nova's answer to the plan's port creates, evaluated by oslo.policy itself.

The rules are Neutron's defaults (tests/cloud/data/neutron_port_policy.yaml, transcribed with
their source commit); oslo.policy's Enforcer parses and enforces them exactly as neutron-server
does, in both modes a running cloud can be in (enforce_new_defaults True, or False = new OR
deprecated). What neutron-server computes from its database is computed here from the plan:
who owns the network (the provider that created it), whether it is shared with the caller's
project (RBAC access_as_shared), which project the port belongs to (its tenantId, else the token's).
Two refusals are code, not policy, and are modelled too: neutron-lib's _validate_privileges
(a body project_id other than the token's needs admin/service) and Nova's
`port['tenant_id'] != instance.project_id -> PortNotUsable` when a server is booted on a port.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from oslo_config import cfg
from oslo_policy import policy
from ruamel.yaml import YAML

RULES = Path(__file__).parent / "data" / "neutron_port_policy.yaml"
T_PORT = "openstack:networking/port:Port"
T_NET = "openstack:networking/network:Network"
T_RBAC = "openstack:networking/rbacPolicyV2:RbacPolicyV2"
T_PROJECT = "openstack:identity/project:Project"
T_INSTANCE = "openstack:compute/instance:Instance"
T_PROVIDER = "pulumi:providers:openstack"
ADMIN_PROJECT = "(the admin provider's project)"


class FieldCheck(policy.Check):
    """neutron.policy.FieldCheck, reduced to what a port create asks: networks:shared and
    port:device_owner (regex). The network's `shared` is computed by the oracle, as neutron
    fetches it from its database for the caller's project."""

    def __init__(self, kind, match):
        resource, field_value = match.split(":", 1)
        self.field, value = field_value.split("=", 1)
        self.resource = resource
        self.regex = re.compile(value[1:]) if value.startswith("~") else None
        self.value = {"True": True, "False": False}.get(value, value)
        super().__init__(kind, match)

    def __call__(self, target, creds, enforcer, current_rule=None):
        key = "network:shared" if (self.resource, self.field) == ("networks", "shared") else self.field
        got = target.get(key)
        if got is None:
            return False
        return bool(self.regex.match(got)) if self.regex else got == self.value


policy.register("field", FieldCheck)


def make_enforcer(new_defaults: bool) -> policy.Enforcer:
    doc = YAML(typ="safe").load(RULES.read_text(encoding="utf-8"))
    conf = cfg.ConfigOpts()
    conf([], project="neutron-oracle", default_config_files=[], default_config_dirs=[])
    enf = policy.Enforcer(conf, policy_file="neutron-oracle-no-such-file.yaml")  # defaults only
    conf.set_override("enforce_new_defaults", new_defaults, group="oslo_policy")
    defaults = [policy.RuleDefault(name, check) for name, check in doc["base"].items()]
    for name, rule in doc["create_port"].items():
        dep = policy.DeprecatedRule(name=name, check_str=rule["deprecated"], deprecated_reason="oracle",
                                    deprecated_since="W")
        defaults.append(policy.DocumentedRuleDefault(name=name, check_str=rule["new"], description=name,
                                                     operations=[{"method": "POST", "path": "/ports"}],
                                                     deprecated_rule=dep))
    enf.register_defaults(defaults)
    enf.load_rules()
    return enf


@dataclass(frozen=True)
class Refusal:
    resource: str
    rule: str
    why: str


def _creds(plan: dict) -> dict[str, dict]:
    """provider logical name -> token credentials (roles, project) it would present."""
    projects = {r["inputs"]["name"]: f"<identity/project:{r['name']}>" for r in plan["resources"]
                if r["type"] == T_PROJECT}
    out = {}
    for r in plan["resources"]:
        if r["type"] != T_PROVIDER:
            continue
        scope = r["inputs"].get("tenantName")
        if r["name"] == "admin":
            out[r["name"]] = {"roles": ["admin", "member", "reader"], "project_id": ADMIN_PROJECT}
        else:
            out[r["name"]] = {"roles": ["member", "reader"], "project_id": projects.get(scope, f"?{scope}")}
    return out


def _ports_requested(inputs: dict) -> list[str]:
    """The create_port policy targets the request body touches (neutron checks one per attribute)."""
    rules = ["create_port"]
    fixed = inputs.get("fixedIps") or []
    if fixed:
        rules.append("create_port:fixed_ips")
        if any(f.get("subnetId") for f in fixed):
            rules.append("create_port:fixed_ips:subnet_id")
        if any(f.get("ipAddress") for f in fixed):
            rules.append("create_port:fixed_ips:ip_address")
    for key, rule in (("macAddress", "create_port:mac_address"), ("deviceId", "create_port:device_id"),
                      ("deviceOwner", "create_port:device_owner"),
                      ("portSecurityEnabled", "create_port:port_security_enabled"),
                      ("allowedAddressPairs", "create_port:allowed_address_pairs"),
                      ("hostId", "create_port:binding:host_id"), ("profile", "create_port:binding:profile"),
                      ("tags", "create_port:tags")):
        if inputs.get(key) not in (None, [], {}):
            rules.append(rule)
    return rules


def evaluate(plan: dict, *, new_defaults: bool) -> tuple[list[Refusal], int]:
    """Every port create and every server-on-a-port hand-off in the plan; (refusals, ports evaluated)."""
    enf = make_enforcer(new_defaults)
    creds = _creds(plan)
    by_ref = {}
    for r in plan["resources"]:
        by_ref[f"<{r['type'].split(':')[1]}:{r['name']}>"] = r
    net_owner = {}
    for r in plan["resources"]:
        if r["type"] == T_NET:
            owner = r["inputs"].get("tenantId") or creds[r["provider"]]["project_id"]
            net_owner[f"<networking/network:{r['name']}>"] = (owner, bool(r["inputs"].get("shared")))
    shared_with = {(r["inputs"]["objectId"], r["inputs"]["targetTenant"]) for r in plan["resources"]
                   if r["type"] == T_RBAC and r["inputs"].get("objectType") == "network"
                   and r["inputs"].get("action") == "access_as_shared"}
    refusals, port_project, n = [], {}, 0
    for r in plan["resources"]:
        if r["type"] != T_PORT:
            continue
        n += 1
        c = creds[r["provider"]]
        i = r["inputs"]
        project = i.get("tenantId") or c["project_id"]
        port_project[f"<networking/port:{r['name']}>"] = project
        if project != c["project_id"] and "admin" not in c["roles"] and "service" not in c["roles"]:
            refusals.append(Refusal(r["name"], "(neutron-lib _validate_privileges)",
                                    f"body project {project} is not the token's {c['project_id']}"))
            continue
        owner, shared_flag = net_owner.get(i.get("networkId"), (None, False))
        target = {"project_id": project, "tenant_id": project, "network_id": i.get("networkId"),
                  "network:project_id": owner, "network:tenant_id": owner,
                  "network:shared": shared_flag or (i.get("networkId"), c["project_id"]) in shared_with,
                  "device_owner": i.get("deviceOwner") or ""}
        cred = {"roles": c["roles"], "project_id": c["project_id"], "user_id": "dcops-deployer"}
        for rule in _ports_requested(i):
            if not enf.enforce(rule, target, cred):
                refusals.append(Refusal(r["name"], rule, f"403 for {r['provider']} on network owned by {owner}"))
    for r in plan["resources"]:
        if r["type"] != T_INSTANCE:
            continue
        project = creds[r["provider"]]["project_id"]
        for net in r["inputs"].get("networks") or []:
            port = net.get("port")
            if port and port_project.get(port) != project:
                refusals.append(Refusal(r["name"], "(nova PortNotUsable)",
                                        f"port {port} belongs to {port_project.get(port)}, server to {project}"))
    return refusals, n
