"""The CrossGuard pack's validations on resources shaped as pulumi_policy hands them (ResourceValidationArgs:
resource_type, name, props with the engine's camelCase keys, opts with protect / ignore_changes /
delete_before_replace / aliases / parent URN, provider with its name): the shipped plan passes, seeded bad
resources are reported."""
from __future__ import annotations

import ast
import copy
from types import SimpleNamespace

from dcops import PROJECT_ROOT
from dcops.cloud.crossguard import POLICIES, validate

from .conftest import of


def _args(r: dict) -> SimpleNamespace:
    opts = r.get("options") or {}
    parent = r.get("parent")
    return SimpleNamespace(
        resource_type=r["type"], name=r["name"], props=r["inputs"],
        urn=f"urn:pulumi:prod::dcops-cloud::{r['type']}::{r['name']}",
        opts=SimpleNamespace(protect=bool(r.get("protect")), ignore_changes=opts.get("ignoreChanges", []),
                             delete_before_replace=opts.get("deleteBeforeReplace"), aliases=opts.get("aliases", []),
                             parent=f"urn:pulumi:prod::dcops-cloud::{parent}" if parent else None),
        provider=SimpleNamespace(name=r["provider"], resource_type="pulumi:providers:openstack") if r["provider"] else None)


def _violations(resources) -> dict[str, list[str]]:
    out = {}
    for r in resources:
        for policy in POLICIES:
            for msg in validate(policy, _args(r)):
                out.setdefault(policy, []).append(msg)
    return out


def test_the_shipped_plan_passes_every_policy(prod):
    assert _violations(prod.plan["resources"]) == {}


def seeded_bad_resources(prod_plan: dict) -> list[dict]:
    """Nine resources, each broken the way the first real `pulumi up` would have been refused."""
    plan = copy.deepcopy(prod_plan)
    port = next(r for r in of(plan, "networking.Port") if r["name"] == "yte-db-01-port")
    port["provider"] = "tenant-so-yt"          # the tenant pins the address: Neutron 403
    orphan = next(r for r in of(plan, "networking.Port") if r["name"] == "yte-app-02-port")
    del orphan["inputs"]["tenantId"]           # admin-made in the admin project: Nova PortNotUsable
    nosg = next(r for r in of(plan, "networking.Port") if r["name"] == "yte-app-03-port")
    nosg["inputs"]["securityGroupIds"] = []
    inst = next(r for r in of(plan, "compute.Instance") if r["name"] == "yte-db-01")
    del inst["options"]["deleteBeforeReplace"]
    boot = next(r for r in of(plan, "blockstorage.Volume") if r["name"] == "yte-db-01-boot")
    del boot["options"]["ignoreChanges"]
    data = next(r for r in of(plan, "blockstorage.Volume") if r["name"] == "yte-db-01-data")
    del data["inputs"]["enableOnlineResize"]
    rule = copy.deepcopy(next(r for r in of(plan, "networking.SecGroupRule")
                              if r["inputs"].get("remoteIpPrefix") == "0.0.0.0/0"))
    rule["name"] = "sg-dmz-ssh-from-anywhere"
    rule["inputs"].update(portRangeMin=22, portRangeMax=22, protocol="tcp")
    # the load balancer's VIP of a WAF-published system with its own public address (the way lb-portal was
    # shipped until the WAF check covered VIPs), and a floating IP that names no system
    vip_fip = {"type": "openstack:networking/floatingIp:FloatingIp", "kind": "networking.FloatingIp",
               "name": "lb-portal-fip", "custom": True, "parent": "dcops:cloud:PublicService::lb-portal",
               "provider": "tenant-vp-ubnd", "tenant": "vp-ubnd",
               "inputs": {"description": "lb-portal VIP", "pool": "public", "portId": "<networking/port:lb-portal-vip>",
                          "tags": ["managed_by=dcops", "system=portal"]}}
    untagged = copy.deepcopy(vip_fip)
    untagged["name"], untagged["inputs"]["tags"] = "hand-made-fip", ["managed_by=dcops"]
    return [port, orphan, nosg, inst, boot, data, rule, vip_fip, untagged]


#: policy -> the seeded resources it must name
SEEDED_SUBJECTS = {
    "fixed-ip-ports-by-admin": ["yte-app-02-port", "yte-db-01-port"],
    "replacement-safety": ["yte-db-01", "yte-db-01-boot", "yte-db-01-data"],
    "vm-ports-have-security-groups": ["yte-app-03-port"],
    "floating-ips-published-directly": ["hand-made-fip", "lb-portal-fip"],
    "no-internet-admin-or-db": ["sg-dmz-ssh-from-anywhere"],
    "management-only-from-mgmt": ["sg-dmz-ssh-from-anywhere"],
}


def test_seeded_bad_resources_are_reported(prod):
    got = _violations(seeded_bad_resources(prod.plan))
    subjects = {p: sorted(m.split(":", 1)[0] for m in msgs) for p, msgs in got.items()}
    assert subjects == SEEDED_SUBJECTS


def test_the_pack_wraps_every_policy():
    """The pack (run by `pulumi preview --policy-pack infra/policy` in its own virtualenv, where
    pulumi-policy is installed) registers each validation by name."""
    src = (PROJECT_ROOT / "infra" / "policy" / "__main__.py").read_text(encoding="utf-8")
    tree = ast.parse(src)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "pulumi_policy" for n in tree.body)
    assert "POLICIES.items()" in src and "EnforcementLevel.MANDATORY" in src
    assert (PROJECT_ROOT / "infra" / "policy" / "PulumiPolicy.yaml").is_file()


def test_a_floating_ip_of_a_system_published_directly_passes(direct, monkeypatch, inv):
    """The same policy accepts the floating IPs of a system the inventory publishes directly, with a reason."""
    from dcops.cloud import crossguard

    from .conftest import published_directly
    fips = of(direct.plan, "networking.FloatingIp")
    system = {r["name"]: "portal" if r["name"] == "lb-portal-fip" else "du-lich" for r in fips}
    assert fips and all(f"system={system[r['name']]}" in r["inputs"]["tags"] for r in fips)
    assert {p: v for p, v in _violations(fips).items()} == {"floating-ips-published-directly": [
        f"{r['name']}: system {system[r['name']]} is published through the WAF (pool-{system[r['name']]}): a floating "
        "IP bypasses the WAF (declare `publish: direct` with a reason on the system, or drop it)" for r in fips]}
    monkeypatch.setattr(crossguard, "_site", lambda: (published_directly(inv), None))
    assert [m for r in fips for m in validate("floating-ips-published-directly", _args(r))] == []
