"""Inventory checks pinned (issue 20): every reference, uniqueness, addressing, rule and capacity check
produces exactly its problem (severity, message, file and line) and nothing else, on the shipped inventory
with one thing changed in memory. Fast: the inventory is read once; `checks.run` is called directly."""
from __future__ import annotations

import dataclasses
import shutil
import ipaddress
from pathlib import Path

import pytest

from dcops import DEFAULT_INVENTORY
from dcops.model import PLATFORMS_DIR, PROFILES_DIR, checks
from dcops.model.errors import Loc, Problem
from dcops.model.loader import load_raw


@pytest.fixture(scope="module")
def loaded():
    return load_raw(DEFAULT_INVENTORY)


def run(loaded, *, broken=(), profiles: Path = PROFILES_DIR, **sections) -> set[tuple]:
    inv = loaded.inventory.model_copy(update=sections)
    # an item broken by its schema comes with the schema's own error (which stops the capacity check)
    schema = [Problem(Loc("schema.yaml", 1), "failed its schema")] if broken else []
    again = dataclasses.replace(loaded, inventory=inv, problems=schema, broken=frozenset(broken))
    return {(p.loc, p.severity, p.message) for p in checks.run(again, profiles, PLATFORMS_DIR)}


def changed(loaded, section: str, index: int, **changes) -> dict:
    items = list(getattr(loaded.inventory, section))
    items[index] = items[index].model_copy(update=changes)
    return {section: tuple(items)}


def at(loaded, *where) -> Loc:
    return loaded.sources.at(*where)


def index(loaded, section: str, name: str) -> int:
    return next(i for i, x in enumerate(getattr(loaded.inventory, section)) if x.name == name)


def test_shipped_inventory_has_no_problems(loaded):
    assert run(loaded) == set()


def test_nothing_to_check_without_an_inventory(loaded):
    assert checks.run(dataclasses.replace(loaded, inventory=None), PROFILES_DIR, PLATFORMS_DIR) == []


# ---------------------------------------------------------------- references: each one deleted fails here

VM = "du-lich-web-01"  # no HA group, has a backup policy and a volume


@pytest.mark.parametrize("field,target,what", [
    ("tenant", "tenants", "tenant"),
    ("system", "systems", "information system"),
    ("zone", "zones", "zone"),
    ("flavor", "flavors", "flavor"),
    ("image", "images", "image"),
    ("backup_policy", "storage", "backup policy"),
    ("boot_pool", "storage", "SAN pool"),
])
def test_vm_reference_to_a_missing_item(loaded, field, target, what):
    i = index(loaded, "vms", VM)
    assert run(loaded, **changed(loaded, "vms", i, **{field: "bogus"})) == {
        (at(loaded, "vms", i, field), "error", f"unknown {what} 'bogus'")}
    # an item that failed its own schema check is not reported again by every reference to it
    assert run(loaded, broken={(target, "bogus")}, **changed(loaded, "vms", i, **{field: "bogus"})) == set()
    assert run(loaded, broken={(target, "*")}, **changed(loaded, "vms", i, **{field: "bogus"})) == set()


def test_vm_ha_group_and_volume_pool_references(loaded):
    i = index(loaded, "vms", "qlcb-app-01")
    assert run(loaded, **changed(loaded, "vms", i, ha_group="bogus")) == {
        (at(loaded, "vms", i, "ha_group"), "error", "unknown HA group 'bogus'")}
    j = index(loaded, "vms", VM)
    vm = loaded.inventory.vms[j]
    vols = (vm.volumes[0].model_copy(update={"pool": "bogus"}),)
    assert run(loaded, **changed(loaded, "vms", j, volumes=vols)) == {
        (at(loaded, "vms", j, "volumes", 0, "pool"), "error", "unknown SAN pool 'bogus'")}


def test_system_owner_and_ha_group_system_references(loaded):
    assert run(loaded, **changed(loaded, "systems", 0, owner="bogus")) == {
        (at(loaded, "systems", 0, "owner"), "error", "unknown tenant 'bogus'")}
    got = run(loaded, **changed(loaded, "ha_groups", 0, system="bogus"))
    portal_web = [i for i, v in enumerate(loaded.inventory.vms) if v.ha_group == "portal-web"]
    assert got == {(at(loaded, "ha_groups", 0, "system"), "error", "unknown information system 'bogus'")} | {
        (at(loaded, "vms", i, "ha_group"), "error",
         f"HA group 'portal-web' belongs to system 'bogus', not 'portal'") for i in portal_web}


def test_host_aggregate_and_nic_network_references(loaded):
    i = index(loaded, "hosts", "kg-cmp-01")
    assert run(loaded, **changed(loaded, "hosts", i, aggregate="bogus")) == {
        (at(loaded, "hosts", i, "aggregate"), "error", "unknown aggregate 'bogus'")}
    h = loaded.inventory.hosts[0]
    nics = (h.nics[0], h.nics[1].model_copy(update={"network": "bogus"}), *h.nics[2:])
    assert run(loaded, **changed(loaded, "hosts", 0, nics=nics)) == {
        (at(loaded, "hosts", 0, "nics", 1, "network"), "error", "unknown network 'bogus'")}
    # the SAN and BMC fabrics are networks too
    nics = tuple(n.model_copy(update={"network": net}) for n, net in zip(h.nics, ("bmc", "san", "storage")))
    assert run(loaded, **changed(loaded, "hosts", 0, nics=nics)) == set()


def test_device_platform_profile_interface_zone_and_leased_line_references(loaded, tmp_path):
    d = loaded.inventory.network_devices[0]
    assert run(loaded, **changed(loaded, "network_devices", 0, platform="bogus")) == {
        (at(loaded, "network_devices", 0, "platform"), "error",
         "unknown platform 'bogus' (no folder platforms/bogus)")}
    snmp = d.snmp.model_copy(update={"profile": "bogus"})
    assert run(loaded, **changed(loaded, "network_devices", 0, snmp=snmp)) == {
        (at(loaded, "network_devices", 0, "snmp", "profile"), "error",
         "unknown SNMP profile 'bogus' (no file profiles/bogus.yaml)")}
    itfs = (d.interfaces[0].model_copy(update={"zone": "bogus"}), *d.interfaces[1:])
    assert run(loaded, **changed(loaded, "network_devices", 0, interfaces=itfs)) == {
        (at(loaded, "network_devices", 0, "interfaces", 0, "zone"), "error", "unknown zone 'bogus'")}
    assert run(loaded, **changed(loaded, "leased_lines", 0, device="bogus")) == {
        (at(loaded, "leased_lines", 0, "device"), "error", "unknown network device 'bogus'")}
    f = loaded.inventory.facility[0]
    assert run(loaded, **changed(loaded, "facility", 0, snmp=f.snmp.model_copy(update={"profile": "bogus"}))) == {
        (at(loaded, "facility", 0, "snmp", "profile"), "error",
         "unknown SNMP profile 'bogus' (no file profiles/bogus.yaml)")}


# ---------------------------------------------------------------- uniqueness

@pytest.mark.parametrize("section,what", [
    ("aggregates", "aggregate"), ("flavors", "flavor"), ("images", "image"), ("tenants", "tenant"),
    ("ha_groups", "ha group"), ("zones", "zone"), ("leased_lines", "leased line"),
])
def test_duplicate_names(loaded, section, what):
    items = getattr(loaded.inventory, section)
    dup = items[1].model_copy(update={"name": items[0].name})
    got = run(loaded, **{section: (items[0], dup, *items[2:])})
    assert (at(loaded, section, 1, "name"), "error", f"duplicate {what} name '{items[0].name}'") in got
    # the duplicate is reported once, at the second item (other checks may follow from the lost item)
    assert [g for g in got if g[2].startswith("duplicate ") and " name " in g[2]] == [
        (at(loaded, section, 1, "name"), "error", f"duplicate {what} name '{items[0].name}'")]


def test_duplicate_system_name(loaded):
    s = loaded.inventory.systems
    got = run(loaded, systems=(s[0], s[1], s[2].model_copy(update={"name": s[0].name}), *s[3:]))
    assert (at(loaded, "systems", 2, "name"), "error", f"duplicate system name '{s[0].name}'") in got


def test_a_name_three_times_is_reported_twice_against_the_first(loaded):
    f = loaded.inventory.flavors
    third = (f[0], f[1].model_copy(update={"name": f[0].name}), f[2].model_copy(update={"name": f[0].name}))
    got = {g for g in run(loaded, flavors=third + f[3:]) if g[2].startswith("duplicate")}
    assert got == {(at(loaded, "flavors", k, "name"), "error", f"duplicate flavor name '{f[0].name}'")
                   for k in (1, 2)}


@pytest.mark.parametrize("section,index_,first", [
    ("vms", 0, "hosts"), ("network_devices", 0, "hosts"), ("facility", 0, "hosts")])
def test_hostnames_are_unique_across_hosts_vms_devices_and_facility(loaded, section, index_, first):
    host = loaded.inventory.hosts[0].name
    got = run(loaded, **changed(loaded, section, index_, name=host))
    assert (at(loaded, section, index_, "name"), "error", f"duplicate hostname '{host}' (also in {first})") in got


def test_duplicate_hostname_between_a_device_and_a_facility_device(loaded):
    dev = loaded.inventory.network_devices[0].name
    got = run(loaded, **changed(loaded, "facility", 0, name=dev))
    assert (at(loaded, "facility", 0, "name"), "error",
            f"duplicate hostname '{dev}' (also in network_devices)") in got


def test_duplicate_backup_policy_and_san_pool(loaded):
    st = loaded.inventory.storage
    pols = (st.backup_policies[0], st.backup_policies[1].model_copy(update={"name": st.backup_policies[0].name}),
            *st.backup_policies[2:])
    got = run(loaded, storage=st.model_copy(update={"backup_policies": pols}))
    assert (at(loaded, "storage", None, "backup_policies", 1, "name"), "error",
            f"duplicate backup policy '{pols[0].name}'") in got
    pools = (st.san.pools[0], st.san.pools[1].model_copy(update={"name": st.san.pools[0].name}), *st.san.pools[2:])
    got = run(loaded, storage=st.model_copy(update={"san": st.san.model_copy(update={"pools": pools})}))
    assert (at(loaded, "storage", None, "san", "pools", 1, "name"), "error",
            f"duplicate SAN pool '{pools[0].name}'") in got


# ---------------------------------------------------------------- addressing

def test_duplicate_ip_between_two_hosts(loaded):
    h0 = loaded.inventory.hosts[0]
    assert run(loaded, **changed(loaded, "hosts", 1, bmc_ip=h0.mgmt_ip)) == {
        (at(loaded, "hosts", 1, "bmc_ip"), "error",
         f"duplicate IP {h0.mgmt_ip} (host kg-ctl-02 bmc_ip; already used by host {h0.name} mgmt_ip)")}


def test_duplicate_ip_between_a_device_and_a_host(loaded):
    h0 = loaded.inventory.hosts[0]
    d = loaded.inventory.network_devices[0]
    assert run(loaded, **changed(loaded, "network_devices", 0, mgmt_ip=h0.bmc_ip)) == {
        (at(loaded, "network_devices", 0, "mgmt_ip"), "error",
         f"duplicate IP {h0.bmc_ip} (device {d.name} mgmt_ip; already used by host {h0.name} bmc_ip)")}


def test_duplicate_ip_between_an_interface_and_a_vm(loaded):
    d = loaded.inventory.network_devices[0]  # port1 in edge 10.20.0.0/24
    i = index(loaded, "vms", VM)
    vm_ip = loaded.inventory.vms[i].ip
    itfs = (d.interfaces[0].model_copy(update={"zone": "dmz", "address": ipaddress.IPv4Interface(f"{vm_ip}/24")}),
            *d.interfaces[1:])
    assert run(loaded, **changed(loaded, "network_devices", 0, interfaces=itfs)) == {
        (at(loaded, "vms", i, "ip"), "error", f"duplicate IP {vm_ip} (VM {VM}; already used by {d.name} port1)")}


def test_duplicate_ip_between_two_facility_devices(loaded):
    f0 = loaded.inventory.facility[0]
    f1 = loaded.inventory.facility[1]
    assert run(loaded, **changed(loaded, "facility", 1, mgmt_ip=f0.mgmt_ip)) == {
        (at(loaded, "facility", 1, "mgmt_ip"), "error",
         f"duplicate IP {f0.mgmt_ip} (facility {f1.name}; already used by facility {f0.name})")}


def test_a_vm_on_a_zone_gateway_address_is_a_duplicate_ip(loaded):
    i = index(loaded, "vms", VM)
    assert run(loaded, **changed(loaded, "vms", i, ip=ipaddress.IPv4Address("10.20.10.1"))) == {
        (at(loaded, "vms", i, "ip"), "error",
         f"duplicate IP 10.20.10.1 (VM {VM}; already used by gateway of zone dmz)")}


def test_interfaces_sharing_the_zone_gateway_are_an_ha_pair_not_a_duplicate(loaded):
    d = loaded.inventory.network_devices[0]  # kg-ddos-01 port1 10.20.0.5 in edge (gateway 10.20.0.1)
    itfs = (d.interfaces[0].model_copy(update={"address": ipaddress.IPv4Interface("10.20.0.1/24")}),)
    assert run(loaded, **changed(loaded, "network_devices", 0, interfaces=itfs)) == set()


def test_management_addresses_must_be_in_a_management_zone(loaded):
    h = loaded.inventory.hosts[0]
    assert run(loaded, **changed(loaded, "hosts", 0, mgmt_ip=ipaddress.IPv4Address("10.20.20.250"))) == {
        (at(loaded, "hosts", 0, "mgmt_ip"), "error",
         f"host {h.name} mgmt_ip 10.20.20.250 is not in a management zone (10.10.0.0/23, 10.10.8.0/24)")}
    d = loaded.inventory.network_devices[0]
    assert run(loaded, **changed(loaded, "network_devices", 0, mgmt_ip=ipaddress.IPv4Address("10.20.20.251"))) == {
        (at(loaded, "network_devices", 0, "mgmt_ip"), "error",
         f"device {d.name} mgmt_ip 10.20.20.251 is not in a management zone (10.10.0.0/23, 10.10.8.0/24)")}
    f = loaded.inventory.facility[0]
    assert run(loaded, **changed(loaded, "facility", 0, mgmt_ip=ipaddress.IPv4Address("10.20.20.252"))) == {
        (at(loaded, "facility", 0, "mgmt_ip"), "error",
         f"facility {f.name} mgmt_ip 10.20.20.252 is not in a management zone (10.10.0.0/23, 10.10.8.0/24)")}


def test_overlapping_subnets_and_duplicate_vlans(loaded):
    z = loaded.inventory.zones
    oob = index(loaded, "zones", "oob")
    got = run(loaded, **changed(loaded, "zones", oob, subnet=ipaddress.IPv4Network("10.10.1.0/24")))
    assert (at(loaded, "zones", oob, "subnet"), "error",
            "subnet 10.10.1.0/24 of zone 'oob' overlaps 10.10.0.0/23 of zone 'mgmt'") in got
    assert run(loaded, **changed(loaded, "zones", oob, vlan=z[0].vlan)) == {
        (at(loaded, "zones", oob, "vlan"), "error", "duplicate VLAN 10 (also zone 'mgmt')")}


def test_interface_address_outside_its_zone(loaded):
    d = loaded.inventory.network_devices[0]
    itfs = (d.interfaces[0].model_copy(update={"address": ipaddress.IPv4Interface("10.20.1.5/24")}),)
    assert run(loaded, **changed(loaded, "network_devices", 0, interfaces=itfs)) == {
        (at(loaded, "network_devices", 0, "interfaces", 0, "address"), "error",
         f"{d.name} port1 address 10.20.1.5 is outside zone 'edge' subnet 10.20.0.0/24")}


@pytest.mark.parametrize("ip,message", [
    ("10.20.11.33", "IP 10.20.11.33 of VM du-lich-web-01 is outside zone 'dmz' subnet 10.20.10.0/24"),
    ("10.20.10.0", "IP 10.20.10.0 of VM du-lich-web-01 is the network or broadcast address of 10.20.10.0/24"),
    ("10.20.10.255", "IP 10.20.10.255 of VM du-lich-web-01 is the network or broadcast address of 10.20.10.0/24"),
])
def test_vm_address_must_be_a_host_address_of_its_zone(loaded, ip, message):
    i = index(loaded, "vms", VM)
    assert run(loaded, **changed(loaded, "vms", i, ip=ipaddress.IPv4Address(ip))) == {
        (at(loaded, "vms", i, "ip"), "error", message)}


# ---------------------------------------------------------------- rules

def test_public_vm_outside_the_dmz(loaded):
    i = index(loaded, "vms", "qlcb-app-01")
    assert run(loaded, **changed(loaded, "vms", i, public=True)) == {
        (at(loaded, "vms", i, "public"), "error",
         "VM qlcb-app-01 is public but sits in zone 'app' (only DMZ VMs get floating IPs)"),
        # "public" is stated once: the VM may not be public when its system is not
        (at(loaded, "vms", i, "public"), "error",
         "VM qlcb-app-01 is public (its own floating IP) but its system 'qlcb' is not public: set public on the "
         "system or drop it here")}


def test_vm_in_an_external_zone(loaded):
    i = index(loaded, "vms", "qlcb-app-01")
    got = run(loaded, **changed(loaded, "vms", i, zone="wan", ip=ipaddress.IPv4Address("10.160.5.5")))
    assert got == {(at(loaded, "vms", i, "zone"), "error", "zone 'wan' is external; VMs cannot be placed there")}


def test_boot_volume_smaller_than_the_image_minimum(loaded):
    i = index(loaded, "vms", VM)  # ubuntu-22.04, minimum 20 GB
    assert run(loaded, **changed(loaded, "vms", i, boot_volume_gb=19)) == {
        (at(loaded, "vms", i, "boot_volume_gb"), "error",
         "boot volume 19 GB is smaller than image 'ubuntu-22.04' minimum 20 GB")}
    assert run(loaded, **changed(loaded, "vms", i, boot_volume_gb=20)) == set()


def test_level_3_system_vm_needs_a_backup_policy_and_level_2_does_not(loaded):
    level = {s.name: s.security_level for s in loaded.inventory.systems}
    i3 = next(i for i, v in enumerate(loaded.inventory.vms) if level[v.system] == 3 and not v.ha_group)
    v3 = loaded.inventory.vms[i3]
    assert run(loaded, **changed(loaded, "vms", i3, backup_policy=None)) == {
        (at(loaded, "vms", i3), "error",
         f"VM {v3.name} serves level-3 system '{v3.system}' but has no backup_policy")}
    i2 = next(i for i, v in enumerate(loaded.inventory.vms) if level[v.system] == 2)
    assert run(loaded, **changed(loaded, "vms", i2, backup_policy=None)) == set()


def test_leased_line_peer_outside_its_subnet(loaded):
    assert run(loaded, **changed(loaded, "leased_lines", 0, peer=ipaddress.IPv4Address("198.51.100.9"))) == {
        (at(loaded, "leased_lines", 0, "peer"), "error", "peer 198.51.100.9 is outside 198.51.100.0/30")}


def test_no_ups_is_a_warning(loaded):
    others = tuple(f for f in loaded.inventory.facility if f.kind.value != "ups")
    assert run(loaded, facility=others) == {
        (loaded.sources.section_loc["facility"], "warning", "no UPS in the facility inventory")}


def test_san_pools_larger_than_the_usable_capacity(loaded):
    st = loaded.inventory.storage
    san = st.san.model_copy(update={"usable_tb": 329.0})
    got = run(loaded, storage=st.model_copy(update={"san": san}))
    assert got == {(at(loaded, "storage", None, "san", "pools"), "error",
                    "SAN pools add up to 330 TB, more than the 329 TB usable")}
    assert run(loaded, storage=st.model_copy(update={"san": st.san.model_copy(update={"usable_tb": 330.0})})) == set()


# ---------------------------------------------------------------- capacity (only when nothing else is wrong)

def _cpu_overcommit(loaded, ratio: float) -> dict:
    site = loaded.inventory.site
    cap = site.capacity.model_copy(update={"overcommit": site.capacity.overcommit.model_copy(update={"cpu": ratio})})
    return {"site": site.model_copy(update={"capacity": cap})}


def test_compute_demand_that_does_not_survive_losing_the_largest_host_is_a_warning(loaded):
    # 1,544 vCPU demanded; 24 hosts × 54 cores × 1.2 = 1,555 supplied, 1,490 without kg-cmp-20
    assert run(loaded, **_cpu_overcommit(loaded, 1.2)) == {
        (at(loaded, "site", None, "capacity"), "warning",
         "vCPU does not survive losing host kg-cmp-20 (N+1): demand 1,544 > 1,490 vCPU")}


def test_compute_over_capacity_is_an_error_not_also_a_warning(loaded):
    assert run(loaded, **_cpu_overcommit(loaded, 1.1)) == {
        (at(loaded, "site", None, "capacity"), "error",
         "vCPU over capacity: demand 1,544 vCPU > supply 1,426 vCPU (24 compute hosts with declared overcommit)")}


def test_capacity_is_not_looked_at_while_other_errors_stand(loaded):
    i = index(loaded, "vms", VM)
    got = run(loaded, **_cpu_overcommit(loaded, 1.1), **changed(loaded, "vms", i, flavor="bogus"))
    assert got == {(at(loaded, "vms", i, "flavor"), "error", "unknown flavor 'bogus'")}
    # … but warnings do not stop it
    others = tuple(f for f in loaded.inventory.facility if f.kind.value != "ups")
    assert len(run(loaded, **_cpu_overcommit(loaded, 1.1), facility=others)) == 2


def test_tape_too_small(loaded):
    st = loaded.inventory.storage
    tape = st.tape.model_copy(update={"capacity_tb": 0.001})
    assert run(loaded, storage=st.model_copy(update={"tape": tape})) == {
        (at(loaded, "storage", None, "tape", "capacity_tb"), "error",
         "tape too small for the retention: 50.9 TB needed > 0.0 TB")}


def test_san_pools_over_capacity_each_with_its_own_line(loaded):
    st = loaded.inventory.storage
    pools = tuple(p.model_copy(update={"capacity_tb": 1.0}) for p in st.san.pools)
    assert run(loaded, storage=st.model_copy(update={"san": st.san.model_copy(update={"pools": pools})})) == {
        (at(loaded, "storage", None, "san", "pools", 0, "capacity_tb"), "error",
         "SAN pool gold (ssd) over capacity: 24.8 TB allocated > 1.2 TB (thin ratio applied)"),
        (at(loaded, "storage", None, "san", "pools", 1, "capacity_tb"), "error",
         "SAN pool silver (sas) over capacity: 58.8 TB allocated > 1.2 TB (thin ratio applied)"),
        (at(loaded, "storage", None, "san", "pools", 2, "capacity_tb"), "error",
         "SAN pool bronze (nl-sas) over capacity: 111.0 TB allocated > 1.2 TB (thin ratio applied)"),
    }


def test_san_total_over_capacity(loaded):
    st = loaded.inventory.storage
    san = st.san.model_copy(update={"usable_tb": 10.0, "pools": tuple(p.model_copy(update={"capacity_tb": 3.0})
                                                                       for p in st.san.pools)})
    got = run(loaded, storage=st.model_copy(update={"san": san}))
    assert (at(loaded, "storage", None, "san", "usable_tb"), "error",
            "SAN over capacity: 194.6 TB allocated > 12.0 TB (usable × thin ratio)") in got
    assert len(got) == 4  # and each of the three pools


def test_capacity_problems_are_of_kind_capacity_and_warnings_are_not(loaded):
    """`kind="capacity"` is what lets `dcops validate` still print the capacity report."""
    def kinds(**sections) -> set[tuple]:
        inv = loaded.inventory.model_copy(update=sections)
        again = dataclasses.replace(loaded, inventory=inv, problems=[])
        return {(p.severity, p.kind) for p in checks.run(again, PROFILES_DIR, PLATFORMS_DIR)}

    st = loaded.inventory.storage
    assert kinds(**_cpu_overcommit(loaded, 1.1)) == {("error", "capacity")}
    assert kinds(**_cpu_overcommit(loaded, 1.2)) == {("warning", "")}
    assert kinds(storage=st.model_copy(update={"tape": st.tape.model_copy(update={"capacity_tb": 0.001})})) == {
        ("error", "capacity")}
    san = st.san.model_copy(update={"usable_tb": 10.0, "pools": tuple(p.model_copy(update={"capacity_tb": 3.0})
                                                                       for p in st.san.pools)})
    assert kinds(storage=st.model_copy(update={"san": san})) == {("error", "capacity")}
    i = index(loaded, "vms", VM)
    assert kinds(**changed(loaded, "vms", i, flavor="bogus")) == {("error", "")}


def test_san_pool_over_capacity_points_at_its_capacity_line(tmp_path):
    """With the pools written block-style, the pool's line and its capacity_tb line differ."""
    import shutil
    inv_dir = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inv_dir)
    path = inv_dir / "storage.yaml"
    text = path.read_text(encoding="utf-8")
    old = "      - {name: gold, tier: ssd, capacity_tb: 60, read_iops: 20000, write_iops: 10000}\n"
    assert old in text
    path.write_text(text.replace(old, "      - name: gold\n        tier: ssd\n        capacity_tb: 1\n"
                                      "        read_iops: 20000\n        write_iops: 10000\n"), encoding="utf-8")
    block = load_raw(inv_dir)
    got = run(block)
    line = text[:text.index(old)].count("\n") + 3
    assert {(Path(loc.file).name, loc.line, m.split(" over")[0]) for loc, _s, m in got} == {
        ("storage.yaml", line, "SAN pool gold (ssd)")}


@pytest.mark.parametrize("section,name,field,target", [
    ("systems", None, "owner", "tenants"),
    ("hosts", "kg-cmp-01", "aggregate", "aggregates"), ("leased_lines", None, "device", "network_devices"),
    ("vms", "qlcb-app-01", "ha_group", "ha_groups"),
])
def test_a_reference_to_an_item_broken_by_its_schema_is_not_reported_again(loaded, section, name, field, target):
    i = index(loaded, section, name) if name else 0
    bad = changed(loaded, section, i, **{field: "bogus"})
    assert run(loaded, broken={(target, "bogus")}, **bad) == set()
    assert run(loaded, broken={("elsewhere", "bogus")}, **bad) == {
        (at(loaded, section, i, field), "error", next(iter(run(loaded, **bad)))[2])}


def test_boot_volume_problem_points_at_the_boot_volume_line(loaded):
    i = index(loaded, "vms", "qlns-app-01")  # windows-2019 (60 GB minimum), boot_volume_gb: 120 written out
    loc = at(loaded, "vms", i, "boot_volume_gb")
    assert loc.line == at(loaded, "vms", i).line + 7
    assert run(loaded, **changed(loaded, "vms", i, boot_volume_gb=50)) == {
        (loc, "error", "boot volume 50 GB is smaller than image 'windows-2019' minimum 60 GB")}


def test_nested_items_written_block_style_point_at_the_field_line(tmp_path):
    """Flow-style items ({name: …, zone: …}) sit on one line; written block-style, the problem's line is the
    line of the field at fault, not of the item."""
    import shutil
    inv_dir = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inv_dir)

    def block(rel: str, old: str, new: str) -> int:
        path = inv_dir / rel
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return text[:text.index(old)].count("\n") + 1  # the item's first line

    nic = block("compute.yaml", "      - {name: eno1, speed_gbps: 10, network: mgmt}\n",
                "      - name: eno1\n        speed_gbps: 10\n        network: mgmt\n")
    vol = block("vms/so-du-lich.yaml", "      - {name: media, size_gb: 1000, pool: bronze}\n",
                "      - name: media\n        size_gb: 1000\n        pool: bronze\n")
    itf = block("network.yaml", "      - {name: port1, zone: edge, address: 10.20.0.5/24}\n",
                "      - name: port1\n        zone: edge\n        address: 10.20.0.5/24\n")
    pool = block("storage.yaml", "      - {name: silver, tier: sas, capacity_tb: 150, read_iops: 5000, write_iops: 2500}\n",
                 "      - tier: sas\n        name: silver\n        capacity_tb: 150\n        read_iops: 5000\n"
                 "        write_iops: 2500\n")
    ld = load_raw(inv_dir)
    inv = ld.inventory
    h = inv.hosts[0]
    got = run(ld, **changed(ld, "hosts", 0, nics=(h.nics[0].model_copy(update={"network": "bogus"}), *h.nics[1:])))
    assert {(Path(loc.file).name, loc.line) for loc, _s, _m in got} == {("compute.yaml", nic + 2)}
    i = index(ld, "vms", VM)
    vm = inv.vms[i]
    got = run(ld, **changed(ld, "vms", i, volumes=(vm.volumes[0].model_copy(update={"pool": "bogus"}),)))
    assert {(Path(loc.file).name, loc.line) for loc, _s, _m in got} == {("so-du-lich.yaml", vol + 2)}
    d = inv.network_devices[0]
    got = run(ld, **changed(ld, "network_devices", 0,
                            interfaces=(d.interfaces[0].model_copy(update={"zone": "bogus"}),)))
    assert {(Path(loc.file).name, loc.line) for loc, _s, _m in got} == {("network.yaml", itf + 1)}
    st = inv.storage
    pools = (st.san.pools[0], st.san.pools[1].model_copy(update={"name": st.san.pools[0].name}), st.san.pools[2])
    got = run(ld, storage=st.model_copy(update={"san": st.san.model_copy(update={"pools": pools})}))
    dup = [(Path(loc.file).name, loc.line) for loc, _s, m in got if m == "duplicate SAN pool 'gold'"]
    assert dup == [("storage.yaml", pool + 1)]


def test_boot_pool_problem_points_at_the_boot_pool_line(loaded):
    i = index(loaded, "vms", "csdl-giao-duc-db-01")  # boot_pool: gold written out, 7 lines into the item
    loc = at(loaded, "vms", i, "boot_pool")
    assert loc.line == at(loaded, "vms", i).line + 7
    assert run(loaded, **changed(loaded, "vms", i, boot_pool="bogus")) == {(loc, "error", "unknown SAN pool 'bogus'")}


def test_a_volume_on_a_pool_broken_by_its_schema_is_not_reported_again(loaded):
    i = index(loaded, "vms", VM)
    vm = loaded.inventory.vms[i]
    bad = changed(loaded, "vms", i, volumes=(vm.volumes[0].model_copy(update={"pool": "bogus"}),))
    assert run(loaded, broken={("storage", "bogus")}, **bad) == set()


def test_no_ups_warning_without_a_facility_section_points_at_the_site_file(loaded):
    sources = dataclasses.replace(loaded.sources, section_loc={k: v for k, v in loaded.sources.section_loc.items()
                                                               if k != "facility"})
    others = tuple(f for f in loaded.inventory.facility if f.kind.value != "ups")
    again = dataclasses.replace(loaded, sources=sources, problems=[],
                                inventory=loaded.inventory.model_copy(update={"facility": others}))
    site_file = loaded.sources.section_loc["site"].file
    assert [(p.loc, p.severity, p.message) for p in checks.run(again, PROFILES_DIR, PLATFORMS_DIR)] == [
        (Loc(site_file, 0), "warning", "no UPS in the facility inventory")]


# ---------------------------------------------------------------- the line of the key the operator wrote
# Edits made in memory have no line of their own (a key absent from the file falls back to its item's line),
# so these checks are pinned on a copy of the inventory with the YAML edited: the error must point at the key.

def run_files(tmp_path, *edits: tuple[str, str, str]):
    """Problems of a copy of the shipped inventory with each (file, old, new) replaced once, and a function
    giving the Loc of the line where a text starts in a file of that copy."""
    inv = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inv)
    for rel, old, new in edits:
        text = (inv / rel).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        (inv / rel).write_text(text.replace(old, new, 1), encoding="utf-8")

    def line(rel: str, needle: str, after: str = "") -> Loc:
        text = (inv / rel).read_text(encoding="utf-8")
        start = text.index(after) if after else 0
        return Loc(str(inv / rel), text[: text.index(needle, start)].count("\n") + 1)

    got = {(p.loc, p.severity, p.message) for p in checks.run(load_raw(inv), PROFILES_DIR, PLATFORMS_DIR)}
    return got, line


DU_LICH_WEB = ("vms/so-du-lich.yaml", "    ip: 10.20.10.33\n", "    ip: 10.20.10.33\n    public: true\n")
DU_LICH = "    security_level: 1\n    public: true\n"  # the system du-lich in organisation.yaml (WAF-published)
WAF_BYPASS = ("VM du-lich-web-01 is published through WAF pool pool-du-lich and also has a floating IP: the floating "
              "IP bypasses the WAF; remove it, or declare `publish: direct` with a reason on the system")


def test_a_floating_ip_on_a_waf_published_vm_points_at_its_public_line(tmp_path):
    got, line = run_files(tmp_path, DU_LICH_WEB)
    assert got == {(line("vms/so-du-lich.yaml", "public: true"), "error", WAF_BYPASS)}


def test_a_public_vm_of_a_system_that_is_not_points_at_its_public_line(tmp_path):
    got, line = run_files(tmp_path, DU_LICH_WEB, ("organisation.yaml", DU_LICH, "    security_level: 1\n"))
    assert got == {(line("vms/so-du-lich.yaml", "public: true"), "error",
                    "VM du-lich-web-01 is public (its own floating IP) but its system 'du-lich' is not public: "
                    "set public on the system or drop it here")}


def test_a_public_vm_outside_the_dmz_points_at_its_public_line(tmp_path):
    zone = ("vms/so-du-lich.yaml", "    zone: dmz\n", "    zone: app\n")
    got, line = run_files(tmp_path, DU_LICH_WEB, zone, ("organisation.yaml", DU_LICH, DU_LICH + "    publish: direct\n"
                                                        "    publish_reason: a non-HTTP service\n"))
    assert got == {(line("vms/so-du-lich.yaml", "public: true"), "error",
                    "VM du-lich-web-01 is public but sits in zone 'app' (only DMZ VMs get floating IPs)"),
                   (line("vms/so-du-lich.yaml", "ip: 10.20.10.33"), "error",
                    "IP 10.20.10.33 of VM du-lich-web-01 is outside zone 'app' subnet 10.20.20.0/23")}


def test_publish_direct_with_a_reason_lets_a_dmz_vm_keep_its_floating_ip(tmp_path):
    got, _ = run_files(tmp_path, DU_LICH_WEB, ("organisation.yaml", DU_LICH, DU_LICH + "    publish: direct\n"
                                               "    publish_reason: a non-HTTP service\n"))
    assert got == set()


def test_publish_direct_without_a_reason_on_a_system_that_is_not_public(tmp_path):
    got, line = run_files(tmp_path, ("organisation.yaml", DU_LICH, "    security_level: 1\n    publish: direct\n"))
    at_publish = line("organisation.yaml", "publish: direct")
    assert got == {
        (at_publish, "error", "system 'du-lich' says publish: direct but is not public"),
        (at_publish, "error", "system 'du-lich' is published directly (not through the WAF): say why in "
                              "publish_reason")}


def test_a_publish_reason_without_publish_direct_points_at_the_reason(tmp_path):
    got, line = run_files(tmp_path, ("organisation.yaml", DU_LICH, DU_LICH + "    publish_reason: forgot the switch\n"))
    assert got == {(line("organisation.yaml", "publish_reason:"), "error",
                    "system 'du-lich' has a publish_reason but is published through the WAF (publish_reason "
                    "belongs to publish: direct)")}


def test_a_device_system_reference_points_at_its_system_line(tmp_path):
    got, line = run_files(tmp_path, ("network.yaml", "    platform: fortiddos\n",
                                     "    platform: fortiddos\n    system: bogus\n"))
    assert got == {(line("network.yaml", "system: bogus"), "error", "unknown information system 'bogus'")}


def test_a_facility_system_reference_to_a_broken_system_is_not_reported_again(loaded):
    assert run(loaded, broken={("systems", "bogus")}, **changed(loaded, "facility", 0, system="bogus")) == set()
    assert run(loaded, **changed(loaded, "facility", 0, system="bogus")) == {
        (at(loaded, "facility", 0, "system"), "error", "unknown information system 'bogus'")}


def test_an_interface_written_as_a_block_is_reported_at_its_address_line(tmp_path):
    block = "      - name: port1\n        zone: edge\n        address: 10.20.10.250/24\n"
    got, line = run_files(tmp_path, ("network.yaml", "      - {name: port1, zone: edge, address: 10.20.0.5/24}\n",
                                     block))
    assert got == {(line("network.yaml", "address: 10.20.10.250/24"), "error",
                    "kg-ddos-01 port1 address 10.20.10.250 is outside zone 'edge' subnet 10.20.0.0/24")}


def test_a_ups_plan_over_its_battery_budget_is_reported_at_the_runtime(loaded):
    from dcops.model import capacity, power
    i = index(loaded, "facility", "kg-ups-01")
    short = changed(loaded, "facility", i, battery_runtime_min=2)
    plan = capacity.compute(loaded.inventory.model_copy(update=short)).ups_plan
    assert plan is not None and plan.fits is False and plan.ups == "kg-ups-01"
    assert run(loaded, **short) == {(at(loaded, "facility", i, "battery_runtime_min"), "error",
                                     power.budget_message(plan))}


def test_a_duplicate_backup_policy_is_reported_at_its_name_line(tmp_path):
    dup = ("    - target: tape\n      name: tape-daily-30d\n      full_every_days: 14\n      incremental_daily: true\n"
           "      change_rate: 0.03\n      retention_days: 30\n      rpo_hours: 24\n      rto_hours: 8\n")
    first = "      rto_hours: 8\n      replicate_to_dr: true\n"  # the end of the first policy, tape-daily-30d
    got, line = run_files(tmp_path, ("storage.yaml", first, first + dup))
    assert got == {(line("storage.yaml", "name: tape-daily-30d", after="- target: tape"), "error",
                    "duplicate backup policy 'tape-daily-30d'")}
