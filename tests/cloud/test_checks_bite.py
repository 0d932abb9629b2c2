"""The checks can fail: broken models, policies and plans are reported, each by its own check."""
from __future__ import annotations

import copy

import pytest
from ruamel.yaml import YAML

from dcops.cloud import checks
from dcops.cloud.policy import DEFAULT_POLICY, PolicyInvalid, load_policy
from dcops.cloud.runner import make_plan

from .conftest import of, published_directly


def _codes(findings) -> set[str]:
    return {f.check if hasattr(f, "check") else f["check"] for f in findings}


def _broken_policy(tmp_path, mutate) -> str:
    yaml = YAML(typ="safe")
    doc = yaml.load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    mutate(doc)
    path = tmp_path / "policy.yaml"
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    return str(path)


def test_ssh_from_the_internet_in_the_policy_is_reported(tmp_path, inv):
    path = _broken_policy(tmp_path, lambda d: d["zones"]["dmz"].append(
        {"from": ["internet"], "protocol": "tcp", "ports": "22", "service": "ssh-direct"}))
    plan = make_plan("prod", inv=inv, policy=path).plan
    bad = [f for f in plan["findings"] if f["subject"].startswith("sg-dmz-ssh-direct")]
    assert {f["check"] for f in bad} == {"no-internet-admin-or-db", "management-only-from-mgmt"}
    assert "opens ssh (22/tcp) to 0.0.0.0/0" in " ".join(f["message"] for f in bad)


def test_wide_port_range_from_the_internet_covering_a_database_is_reported(tmp_path, inv):
    path = _broken_policy(tmp_path, lambda d: d["zones"]["app"].append(
        {"from": ["internet"], "protocol": "tcp", "ports": "1500-1600", "service": "wide"}))
    plan = make_plan("prod", inv=inv, policy=path).plan
    msgs = [f["message"] for f in plan["findings"] if f["check"] == "no-internet-admin-or-db"]
    assert msgs == ["sg-app: opens oracle (1521/tcp) to 0.0.0.0/0"]


def test_policy_naming_an_unknown_zone_is_refused(tmp_path, inv):
    path = _broken_policy(tmp_path, lambda d: d["zones"]["db"].append(
        {"from": ["dbz"], "protocol": "tcp", "ports": "5432", "service": "pg"}))
    with pytest.raises(PolicyInvalid, match="unknown source zone 'dbz'"):
        load_policy(inv, path)


def test_vm_without_security_group_is_reported(prod):
    plan = copy.deepcopy(prod.plan)
    port = next(r for r in of(plan, "networking.Port") if r["name"] == "portal-db-01-port")
    port["inputs"].pop("securityGroupIds")
    found = checks.check_ports_have_security_groups(plan)
    assert [(f.check, f.subject) for f in found] == [("vm-has-security-group", "portal-db-01-port")]


def test_level3_vm_without_backup_policy_or_group_is_reported(inv):
    vm = inv.vm("qlns-db-01")
    broken = inv.model_copy(update={"vms": tuple(
        v.model_copy(update={"backup_policy": None}) if v.name == vm.name else v for v in inv.vms)})
    run = make_plan("prod", inv=broken)
    got = {(f["check"], f["subject"]) for f in run.plan["findings"]}
    # the plan tags the VM as the (broken) model says; the checks catch it against the level
    assert ("level3-backup", "qlns-db-01") in got
    plan = copy.deepcopy(run.plan)
    inst = next(r for r in of(plan, "compute.Instance") if r["name"] == "qlns-app-01")
    inst["inputs"].pop("schedulerHints")
    found = checks.check_instances_protected(plan, broken)
    assert ("level3-anti-affinity", "qlns-app-01") in {(f.check, f.subject) for f in found}


def test_volume_size_or_type_drift_is_reported(prod, inv):
    plan = copy.deepcopy(prod.plan)
    vol = next(r for r in of(plan, "blockstorage.Volume") if r["name"] == "portal-db-01-data")
    vol["inputs"]["size"] = 10
    vol["inputs"]["volumeType"] = "bronze"
    att = next(r for r in of(plan, "compute.VolumeAttach") if r["name"] == "yte-db-01-data-attach")
    plan["resources"].remove(att)
    found = {(f.check, f.subject, f.message) for f in checks.check_volumes(plan, inv)}
    assert ("volume-matches-inventory", "portal-db-01-data",
            "10 GB bronze, inventory says 1000 GB gold") in found
    assert ("volume-attached", "yte-db-01-data", "not attached to yte-db-01") in found


def _vip_fip(lb: str, system: str) -> dict:
    """The floating IP PublicService gives a load balancer's VIP (components.py), as the plan records it."""
    return {"type": "openstack:networking/floatingIp:FloatingIp", "kind": "networking.FloatingIp", "custom": True,
            "name": f"{lb}-fip", "parent": f"dcops:cloud:PublicService::{lb}", "provider": "tenant-vp-ubnd",
            "tenant": "vp-ubnd", "inputs": {"description": f"{lb} VIP", "pool": "public",
                                            "portId": f"<networking/port:{lb}-vip>",
                                            "tags": ["managed_by=dcops", f"system={system}"]}}


def test_floating_ip_on_a_private_vm_is_reported(prod, inv):
    plan = copy.deepcopy(prod.plan)
    fip = _vip_fip("lb-portal", "portal")
    fip["name"], fip["inputs"]["portId"] = "qlns-db-01-fip", "<networking/port:qlns-db-01-port>"
    plan["resources"].append(fip)
    found = checks.check_floating_ips(plan, inv)
    assert [(f.check, f.subject) for f in found] == [("floating-ip-public-dmz", "qlns-db-01-fip")]


def test_floating_ip_around_the_waf_is_reported(prod, inv, direct):
    """A WAF-published VM with a floating IP (the plan drifted from the inventory, or `public` was set
    behind validate's back) is a finding; the same VM of a `publish: direct` system is not."""
    fip = next(r for r in of(direct.plan, "networking.FloatingIp") if r["name"] == "du-lich-web-01-fip")
    assert checks.check_floating_ips(direct.plan, published_directly(inv)) == []
    plan = copy.deepcopy(prod.plan)
    plan["resources"].append(copy.deepcopy(fip))
    waf_inv = inv.model_copy(update={"vms": tuple(v.model_copy(update={"public": True})
                                                  if v.name == "du-lich-web-01" else v for v in inv.vms)})
    found = checks.check_floating_ips(plan, waf_inv)
    assert [(f.check, f.subject, f.message) for f in found] == [
        ("floating-ip-public-dmz", "du-lich-web-01-fip",
         "du-lich-web-01 is published through the WAF (pool-du-lich): a floating IP bypasses it")]


def test_a_load_balancer_vip_floating_ip_around_the_waf_is_reported(prod, inv):
    """portal, dvc and mail are published through the WAF: their Octavia VIPs get no floating IP (one was a public
    path around the WAF), and a plan that has one anyway is a finding naming the WAF pool it bypasses."""
    assert of(prod.plan, "networking.FloatingIp") == []
    assert {lb["name"] for lb in of(prod.plan, "loadbalancer.LoadBalancer")} == {"lb-portal", "lb-dvc", "lb-mail"}
    plan = copy.deepcopy(prod.plan)
    plan["resources"] += [_vip_fip("lb-portal", "portal"), _vip_fip("lb-mail", "mail")]
    assert [(f.check, f.subject, f.message) for f in checks.check_floating_ips(plan, inv)] == [
        ("floating-ip-public-dmz", "lb-portal-fip", "lb-portal's VIP is portal's, published through the WAF "
         "(pool-portal): a floating IP on the VIP bypasses it (declare `publish: direct` with a reason, or drop it)"),
        ("floating-ip-public-dmz", "lb-mail-fip", "lb-mail's VIP is mail's, published through the WAF "
         "(pool-mail): a floating IP on the VIP bypasses it (declare `publish: direct` with a reason, or drop it)")]


def test_a_load_balancer_of_a_system_published_directly_keeps_its_floating_ip(direct, inv):
    """`publish: direct` with a reason on the system gives its VIP the floating IP back, and the check accepts it."""
    assert direct.plan["findings"] == []
    assert {r["name"] for r in of(direct.plan, "networking.FloatingIp") if r["name"].startswith("lb-")} == {
        "lb-portal-fip"}
    assert checks.check_floating_ips(direct.plan, published_directly(inv)) == []
    assert [r["name"] for r in of(direct.plan, "networking.Router")] == ["rt-dmz-public"]


def test_quotas_beyond_the_san_are_reported(prod, inv):
    plan = copy.deepcopy(prod.plan)
    q = next(r for r in of(plan, "blockstorage.QuoteSetV3") if r["name"] == "quota-volume-so-tnmt")
    q["inputs"]["volumeTypeQuota"]["gigabytes_bronze"] = "90000"
    q["inputs"]["gigabytes"] = 400000
    found = {(f.check, f.subject) for f in checks.check_san_quotas(plan, inv)}
    assert found == {("quota-within-san", "bronze"), ("quota-within-san", "san-01")}


def test_dr_stack_missing_or_extra_systems_is_reported(dr, inv):
    plan = copy.deepcopy(dr.plan)
    plan["resources"] = [r for r in plan["resources"]
                         if not (r["kind"] == "compute.Instance" and r["inputs"]["metadata"]["system"] == "qlcb")]
    extra = copy.deepcopy(next(r for r in of(plan, "compute.Instance")))
    extra["name"] = "gis-app-01"
    extra["inputs"]["metadata"]["system"] = "gis"  # level 2: never a DR system
    plan["resources"].append(extra)
    found = {(f.check, f.subject) for f in checks.check_scope(plan, inv, dr.settings)}
    assert found == {("stack-scope", "qlcb"), ("stack-scope", "gis")}


def test_dr_rule_follows_stack_config_not_code(inv):
    # soc's backups replicate to DR; without dr_required the default rule (both signals) leaves it out
    soc_not_required = inv.model_copy(update={"systems": tuple(
        s.model_copy(update={"dr_required": False}) if s.name == "soc" else s for s in inv.systems)})
    both = make_plan("dr", inv=soc_not_required)
    either = make_plan("dr", inv=soc_not_required,
                       overrides={"dcops:dr": '{"min_security_level": 3, "match": "either"}'})
    assert "soc" not in both.plan["systems"] and "soc" in either.plan["systems"]
    included = make_plan("dr", inv=inv, overrides={"dcops:dr": '{"include": ["backup"]}'})
    assert "backup" in included.plan["systems"]
    narrowed = make_plan("dr", inv=inv, overrides={"dcops:dr": '{"exclude": ["portal"]}'})
    assert "portal" not in narrowed.plan["systems"] and narrowed.plan["findings"] == []


def test_fixed_ip_port_by_a_tenant_or_in_another_project_is_reported(prod):
    """The plan check agrees with the Neutron oracle (test_neutron_policy.py) on the two ways to get it wrong."""
    from .neutron_oracle import evaluate

    plan = copy.deepcopy(prod.plan)
    port = next(r for r in of(plan, "networking.Port") if r["name"] == "an-sinh-app-01-port")
    port["provider"] = "tenant-so-ldtbxh"  # the tenant pins the address itself (the shipped program before #14)
    del port["inputs"]["tenantId"]
    other = next(r for r in of(plan, "networking.Port") if r["name"] == "portal-web-01-port")
    other["inputs"]["tenantId"] = "<identity/project:project-so-ldtbxh>"  # admin-made, wrong project
    found = {(f.check, f.subject) for f in checks.check_port_ownership(plan)}
    assert found == {("fixed-ip-port-by-admin", "an-sinh-app-01-port"), ("port-in-server-project", "portal-web-01")}
    refused = {(r.resource, r.rule) for r in evaluate(plan, new_defaults=True)[0]}
    assert refused == {("an-sinh-app-01-port", "create_port:fixed_ips:ip_address"),
                       ("portal-web-01", "(nova PortNotUsable)")}
