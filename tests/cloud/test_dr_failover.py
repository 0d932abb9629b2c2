"""DR failover as stack config: standby holds capacity and restore targets, active runs and publishes;
the switch is updates and additions only, never a replacement."""
from __future__ import annotations

import pytest

from dcops.cloud import diff as plandiff
from dcops.cloud.runner import make_plan
from dcops.cloud.settings import SettingsInvalid

from .conftest import of

ACTIVE = {"dcops:drMode": "active", "dcops:drPublic": '{"cidr": "198.51.100.0/26", "gateway": "198.51.100.1"}'}


@pytest.fixture(scope="module")
def active(inv):
    return make_plan("dr", inv=inv, overrides=ACTIVE)


def test_standby_holds_restore_targets_and_publishes_nothing(dr, prod, inv):
    instances = of(dr.plan, "compute.Instance")
    assert {i["inputs"]["powerState"] for i in instances} == {"shutoff"}
    assert of(dr.plan, "networking.FloatingIp") == [] and of(dr.plan, "networking.Router") == []
    # the data path: every DR volume names the production volume and the backup policy it is restored from
    policies = {p.name: p for p in inv.storage.backup_policies}
    restored = 0
    for v in of(dr.plan, "blockstorage.Volume"):
        meta = v["inputs"]["metadata"]
        vm = inv.vm(meta["vm"])
        if vm.backup_policy and policies[vm.backup_policy].replicate_to_dr:
            assert (meta["restore_from"], meta["restore_via"]) == (f"prod:{v['name']}", vm.backup_policy)
            restored += 1
        else:  # no replica at DR: rebuilt from the image, and the plan says which VMs (per system)
            assert "restore_from" not in meta
            note = next(n for n in dr.plan["notes"] if n["code"] == "dr-rebuilt-not-restored"
                        and n["subject"] == vm.system)
            assert vm.name in note["message"]
    assert restored > 0
    assert all("restore_from" not in v["inputs"]["metadata"] for v in of(prod.plan, "blockstorage.Volume"))
    assert all("powerState" not in i["inputs"] for i in of(prod.plan, "compute.Instance"))


def test_active_runs_and_publishes_from_the_dr_public_segment(active, dr, inv):
    assert active.plan["findings"] == []
    assert {i["inputs"]["powerState"] for i in of(active.plan, "compute.Instance")} == {"active"}
    fips = {r["name"] for r in of(active.plan, "networking.FloatingIp")}
    # every public DR system is published through the WAF: no VM of it gets a floating IP at DR either
    # (one would bypass the WAF); the plan says where their public path has to come from instead
    assert {f for f in fips if not f.startswith("lb-")} == set()
    waf_dr = {s for s in dr.plan["systems"] if inv.system(s).public and inv.system(s).publish == "waf"
              and any(v.system == s and v.zone == "dmz" for v in inv.vms)}
    assert {n["subject"] for n in active.plan["notes"] if n["code"] == "dr-waf-published"} == waf_dr and waf_dr
    assert not any(n["code"] == "dr-waf-published" for n in dr.plan["notes"])  # standby publishes nothing
    assert {f for f in fips if f.startswith("lb-")} == {"lb-portal-fip", "lb-dvc-fip", "lb-mail-fip"}
    ext = next(r for r in of(active.plan, "networking.Subnet") if r["name"] == "subnet-public")
    assert (ext["inputs"]["cidr"], ext["inputs"]["gatewayIp"]) == ("198.51.100.0/26", "198.51.100.1")


def test_the_switch_replaces_and_deletes_nothing(active, dr):
    d = plandiff.diff(dr.plan, active.plan)
    assert d["removed"] == [] and plandiff.blast_errors(d) == 0
    assert {c["action"] for c in d["changed"]} == {"update"}
    # servers power on; the tenants' floating-IP quotas open for exactly the published services
    assert {ch["path"] for c in d["changed"] for ch in c["changes"]} == {"powerState", "floatingip"}
    back = plandiff.diff(active.plan, dr.plan)  # failback: the public edge goes, nothing else
    assert {r["kind"] for r in back["removed"] if r["custom"]} <= {
        "networking.FloatingIp", "networking.Router", "networking.RouterInterface", "networking.Port",
        "networking.Network", "networking.Subnet"}


def test_switch_settings_are_validated(inv):
    with pytest.raises(SettingsInvalid, match="needs dcops:drPublic"):
        make_plan("dr", inv=inv, overrides={"dcops:drMode": "active"})
    with pytest.raises(SettingsInvalid, match="for the DR stack"):
        make_plan("prod", inv=inv, overrides={"dcops:drMode": "active"})
    with pytest.raises(SettingsInvalid, match="'standby' or 'active'"):
        make_plan("dr", inv=inv, overrides={"dcops:drMode": "hot"})
