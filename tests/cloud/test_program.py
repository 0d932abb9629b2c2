"""The program's resources against what the inventory implies (counted after the mock run completed)."""
from __future__ import annotations

import ipaddress
from collections import Counter

from dcops.cloud.checks import run_all
from dcops.model.schema import HostRole

from tests.inventory_facts import count, volumes

from .conftest import of

DB_AND_ADMIN_PORTS = {22, 23, 3389, 5985, 5986, 1433, 1521, 3306, 5432, 6379, 9200, 27017}


def _ref(ref: str) -> str:
    return ref[1:-1].split(":", 1)[1]


def test_counts_per_type_match_the_inventory(prod, inv):
    plan = prod.plan
    n = Counter(r["kind"] for r in plan["resources"] if r["custom"])
    tenants = {v.tenant for v in inv.vms}
    cloud_zones = [z for z in inv.zones if not z.external]
    public_dmz = [v for v in inv.vms if v.public and inv.zone(v.zone).kind.value == "dmz"]
    ha_groups = {v.ha_group for v in inv.vms if v.ha_group}
    implicit = {v.system for v in inv.vms if not v.ha_group and inv.vm_security_level(v) >= 3}
    lbs = prod.policy.load_balancers

    assert n["identity.Project"] == n["identity.RoleAssignment"] == len(tenants) == count("tenants")
    assert n["compute.QuotaSetV2"] == n["blockstorage.QuoteSetV3"] == n["networking.QuotaV2"] == len(tenants)
    assert n["provider.openstack"] == len(tenants) + 1  # admin + one scoped to each project
    # floating IPs only for systems published directly (publish: direct), on their DMZ VMs or their LB VIPs;
    # the external network and the router exist only when one does (the shipped site: none, all via the WAF)
    direct = {s.name for s in inv.systems if s.public and s.publish == "direct"}
    direct_lbs = [lb for lb in lbs if inv.vm(next(v.name for v in inv.vms if v.ha_group == lb.ha_group)).system
                  in direct]
    edge = int(bool(public_dmz or direct_lbs))
    assert (edge, n["networking.Router"], n["networking.RouterInterface"]) == (0, 0, 0)
    assert n["networking.Network"] == n["networking.Subnet"] == len(cloud_zones) + edge
    assert n["compute.Instance"] == len(inv.vms) == count("vms")
    assert n["networking.Port"] == len(inv.vms) + edge  # + the router's DMZ port
    assert n["blockstorage.Volume"] == len(inv.vms) + sum(len(v.volumes) for v in inv.vms)
    assert n["compute.VolumeAttach"] == sum(len(v.volumes) for v in inv.vms) == volumes()
    assert n["networking.FloatingIp"] == len(public_dmz) + len(direct_lbs) == count("vms", public=True) + len(direct_lbs)
    assert n["compute.ServerGroup"] == len(ha_groups) + len(implicit)
    assert n["compute.Flavor"] == len(inv.flavors)
    assert n["blockstorage.VolumeTypeV3"] == n["blockstorage.QosV3"] == len(inv.storage.san.pools)
    assert n["loadbalancer.LoadBalancer"] == len(lbs)
    assert n["loadbalancer.Listener"] == n["loadbalancer.Pool"] == n["loadbalancer.Members"] \
        == sum(len(lb.listeners) for lb in lbs)
    assert plan["summary"]["resources"] == sum(n.values())


def test_aggregates_name_the_inventory_hypervisors(prod, inv):
    aggs = {r["name"]: r["inputs"] for r in of(prod.plan, "compute.AggregateV2")}
    for a in inv.aggregates:
        want = sorted(h.name for h in inv.hosts if h.aggregate == a.name)
        assert aggs[a.name]["hosts"] == want
        assert aggs[a.name]["zone"] == a.availability_zone
    placed = sum(len(a["hosts"]) for a in aggs.values())
    assert placed == sum(1 for h in inv.hosts if h.role is HostRole.compute) == count("hosts", role="compute")
    assert len(inv.hosts) == count("hosts")  # control, storage and backup hosts are not hypervisors


def test_level3_vms_are_anti_affine_and_carry_their_backup_policy(prod, inv):
    groups = {r["name"]: r["inputs"]["policies"] for r in of(prod.plan, "compute.ServerGroup")}
    instances = {r["name"]: r["inputs"] for r in of(prod.plan, "compute.Instance")}
    level3 = [v for v in inv.vms if inv.vm_security_level(v) >= 3]
    assert len(level3) > 100
    for vm in level3:
        i = instances[vm.name]
        assert i["metadata"]["backup_policy"] == vm.backup_policy and vm.backup_policy
        assert i["metadata"]["system"] == vm.system and i["metadata"]["owner"] == inv.system(vm.system).owner
        group = _ref(i["schedulerHints"][0]["group"])
        assert groups[group] in ("anti-affinity", "soft-anti-affinity"), vm.name
        if vm.ha_group:
            assert group == f"sg-{vm.ha_group}"
    # Hard anti-affinity is kept wherever the hypervisors can hold the group.
    assert groups["sg-qlvb-db"] == "anti-affinity"
    assert groups["sg-portal-web"] == "anti-affinity"  # 4 web VMs on 4 DMZ hypervisors


def test_no_rule_opens_admin_or_database_ports_to_the_internet(prod, inv):
    rules = of(prod.plan, "networking.SecGroupRule")
    assert len(rules) > 50
    mgmt = inv.zone("mgmt").subnet
    for r in rules:
        i = r["inputs"]
        src = ipaddress.ip_network(i["remoteIpPrefix"])
        ports = set(range(i["portRangeMin"], i["portRangeMax"] + 1)) if i.get("portRangeMin") else set()
        if not src.is_private or src.prefixlen == 0:
            assert not ports & DB_AND_ADMIN_PORTS, r["name"]
            assert i["protocol"] in ("tcp", "udp")  # never "any protocol" from outside
        if ports & {22, 3389, 5985, 5986}:
            assert src.subnet_of(mgmt), r["name"]
    # and the internet does reach the public web tier
    assert any(r["inputs"]["remoteIpPrefix"] == "0.0.0.0/0" and r["inputs"]["portRangeMin"] == 443 for r in rules)


def test_every_vm_port_has_its_zone_security_group(prod, inv):
    ports = {r["name"]: r["inputs"] for r in of(prod.plan, "networking.Port")}
    for vm in inv.vms:
        p = ports[f"{vm.name}-port"]
        assert f"<networking/secGroup:sg-{vm.zone}>" in p["securityGroupIds"]
        assert p["fixedIps"] == [{"ipAddress": str(vm.ip), "subnetId": f"<networking/subnet:subnet-{vm.zone}>"}]


def test_every_volume_matches_the_inventory(prod, inv):
    vols = {r["name"]: r["inputs"] for r in of(prod.plan, "blockstorage.Volume")}
    attach = {(_ref(r["inputs"]["instanceId"]), _ref(r["inputs"]["volumeId"]))
              for r in of(prod.plan, "compute.VolumeAttach")}
    expected = set()
    for vm in inv.vms:
        boot = vols[f"{vm.name}-boot"]
        assert (boot["size"], boot["volumeType"]) == (inv.boot_gb(vm), vm.boot_pool)
        assert boot["imageId"] == f"<images/Image:{vm.image}>"
        expected.add(f"{vm.name}-boot")
        for v in vm.volumes:
            got = vols[f"{vm.name}-{v.name}"]
            assert (got["size"], got["volumeType"]) == (v.size_gb, v.pool)
            assert (vm.name, f"{vm.name}-{v.name}") in attach
            expected.add(f"{vm.name}-{v.name}")
    assert set(vols) == expected
    # data-bearing resources are protected against deletion by a careless change
    assert all(r.get("protect") for r in of(prod.plan, "blockstorage.Volume") + of(prod.plan, "identity.Project"))
    assert not any(r.get("protect") for r in of(prod.plan, "compute.Instance"))


def test_volume_types_carry_san_qos_and_quotas_fit_the_san(prod, inv):
    qos = {r["name"]: r["inputs"]["specs"] for r in of(prod.plan, "blockstorage.QosV3")}
    for p in inv.storage.san.pools:
        assert qos[f"qos-{p.name}"] == {"read_iops_sec": str(p.read_iops), "write_iops_sec": str(p.write_iops)}
    quotas = [r["inputs"] for r in of(prod.plan, "blockstorage.QuoteSetV3")]
    total = sum(q["gigabytes"] for q in quotas)
    assert total <= inv.storage.san.usable_tb * 1000
    for p in inv.storage.san.pools:
        per_pool = sum(int(q["volumeTypeQuota"].get(f"gigabytes_{p.name}", 0)) for q in quotas)
        assert per_pool <= p.capacity_tb * 1000
    # quotas cover the demand of each tenant, per SAN pool too
    by_tenant_vol = {_ref(r["inputs"]["projectId"]): r["inputs"]["volumeTypeQuota"]
                     for r in of(prod.plan, "blockstorage.QuoteSetV3")}
    for t in {v.tenant for v in inv.vms}:
        demand = Counter()
        for v in inv.vms:
            if v.tenant == t:
                demand[v.boot_pool] += inv.boot_gb(v)
                for vol in v.volumes:
                    demand[vol.pool] += vol.size_gb
        for pool, gb in demand.items():
            assert int(by_tenant_vol[f"project-{t}"][f"gigabytes_{pool}"]) >= gb, (t, pool)
    by_project = {_ref(r["inputs"]["projectId"]): r["inputs"] for r in of(prod.plan, "compute.QuotaSetV2")}
    for t in {v.tenant for v in inv.vms}:
        vms = [v for v in inv.vms if v.tenant == t]
        assert by_project[f"project-{t}"]["instances"] >= len(vms)
        assert by_project[f"project-{t}"]["cores"] >= sum(inv.flavor(v.flavor).vcpus for v in vms)


def test_floating_ips_only_for_public_dmz_services(prod, inv):
    public = {v.name for v in inv.vms if v.public and v.zone == "dmz"}
    fips = [r for r in of(prod.plan, "networking.FloatingIp")]
    on_vms = {r["name"].removesuffix("-fip") for r in fips if not r["name"].startswith("lb-")}
    assert on_vms == public


def test_shipped_plans_pass_every_check(prod, dr):
    assert prod.plan["findings"] == []
    assert dr.plan["findings"] == []
    assert run_all(prod.plan, prod.inventory, prod.policy, prod.settings) == []


def test_dr_stack_holds_exactly_the_dr_systems(dr, inv):
    policies = {p.name: p for p in inv.storage.backup_policies}
    want = {s.name for s in inv.systems if s.security_level >= 3 and s.dr_required
            and any(policies[v.backup_policy].replicate_to_dr for v in inv.vms_of_system(s.name) if v.backup_policy)}
    instances = of(dr.plan, "compute.Instance")
    assert {i["inputs"]["metadata"]["system"] for i in instances} == want == set(dr.plan["systems"])
    assert len(instances) == sum(1 for v in inv.vms if v.system in want)
    assert "soc" in want and "backup" not in want  # backup: not dr_required, nothing replicated
    assert [n for n in dr.plan["notes"] if n["code"] == "dr-signals-disagree"] == []
    # sized from the inventory; no standing public exposure, no aggregates of hosts DR does not have
    n = Counter(r["kind"] for r in dr.plan["resources"])
    assert n["networking.FloatingIp"] == 0 and n["compute.AggregateV2"] == 0
    assert {i["inputs"]["availabilityZone"] for i in instances} <= {"az-dr1", "az-dr-dmz"}


def test_real_up_ordering_is_declared(prod, inv):
    """What `pulumi up` must order but cannot infer from IDs: RBAC and quotas before ports and volumes,
    flavor/key pair (referenced by name) and the compute quota before the instance."""
    deps = {(r.type.rsplit(":", 1)[-1], r.name): set(r.dependencies) for r in prod.recorded}
    for vm in inv.vms[::7]:
        t, z = vm.tenant, vm.zone
        assert {f"openstack:networking/rbacPolicyV2:RbacPolicyV2::rbac-net-{z}-{t}",
                f"openstack:networking/rbacPolicyV2:RbacPolicyV2::rbac-sg-{z}-{t}",
                f"openstack:networking/quotaV2:QuotaV2::quota-network-{t}"} <= deps[("Port", f"{vm.name}-port")]
        assert f"openstack:blockstorage/quoteSetV3:QuoteSetV3::quota-volume-{t}" in deps[("Volume", f"{vm.name}-boot")]
        assert {f"openstack:compute/flavor:Flavor::flavor-{vm.flavor}",
                "openstack:compute/keypair:Keypair::keypair-dcops-ops",
                f"openstack:compute/quotaSetV2:QuotaSetV2::quota-compute-{t}"} <= deps[("Instance", vm.name)]
