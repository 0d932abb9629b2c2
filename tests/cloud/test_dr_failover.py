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


def test_active_runs_and_publishes_through_the_waf_only(active, dr, inv):
    assert active.plan["findings"] == []
    assert {i["inputs"]["powerState"] for i in of(active.plan, "compute.Instance")} == {"active"}
    # every public DR system is published through the WAF: no floating IP at DR either, on a VM or on a load
    # balancer's VIP (either would bypass the WAF); the plan says per system where its public path moves to
    assert of(active.plan, "networking.FloatingIp") == [] and of(active.plan, "networking.Router") == []
    waf_dr = {s for s in dr.plan["systems"] if inv.system(s).public and inv.system(s).publish == "waf"
              and any(v.system == s and v.zone == "dmz" for v in inv.vms)}
    notes = {n["subject"]: n["message"] for n in active.plan["notes"] if n["code"] == "dr-waf-published"}
    assert set(notes) == waf_dr and waf_dr
    assert not any(n["code"] == "dr-waf-published" for n in dr.plan["notes"])  # standby publishes nothing
    lbs = {r["name"]: r["inputs"]["vipAddress"] for r in of(active.plan, "loadbalancer.LoadBalancer")}
    assert lbs == {"lb-portal": "10.20.10.200", "lb-dvc": "10.20.10.201", "lb-mail": "10.20.10.202"}
    assert notes["portal"] == ("published through the WAF (pool-portal): DR active gives it no floating IP (one would "
                               "bypass the WAF); at failover its WAF pool / link-balancer target moves to lb-portal "
                               "VIP 10.20.10.200 at DR, behind a WAF neither the inventory nor this program has")
    for system, message in notes.items():  # a system without a load balancer: its DR DMZ VMs
        if not any(lb.removeprefix("lb-") == system for lb in lbs):
            web = sorted(f"{v.name} {v.ip}" for v in inv.vms if v.system == system and v.zone == "dmz")
            assert f"moves to {', '.join(web)} at DR" in message


def test_a_direct_system_is_published_from_the_dr_public_segment(inv):
    """A system declared `publish: direct` (with a reason) gets its VIP's floating IP at DR, from drPublic."""
    from .conftest import published_directly
    plan = make_plan("dr", inv=published_directly(inv, "portal", vips=()), overrides=ACTIVE).plan
    assert plan["findings"] == []
    assert {r["name"] for r in of(plan, "networking.FloatingIp")} == {
        "lb-portal-fip", *(f"{v.name}-fip" for v in inv.vms if v.system == "portal" and v.zone == "dmz")}
    ext = next(r for r in of(plan, "networking.Subnet") if r["name"] == "subnet-public")
    assert (ext["inputs"]["cidr"], ext["inputs"]["gatewayIp"]) == ("198.51.100.0/26", "198.51.100.1")


def test_the_switch_replaces_and_deletes_nothing(active, dr):
    d = plandiff.diff(dr.plan, active.plan)
    assert d["removed"] == [] and d["added"] == [] and plandiff.blast_errors(d) == 0
    assert {c["action"] for c in d["changed"]} == {"update"}
    # servers power on; nothing else changes (no floating IP: every public DR system is WAF-published)
    assert {ch["path"] for c in d["changed"] for ch in c["changes"]} == {"powerState"}
    back = plandiff.diff(active.plan, dr.plan)  # failback: the servers power off, nothing is removed
    assert back["removed"] == [] and {ch["path"] for c in back["changed"] for ch in c["changes"]} == {"powerState"}


def test_switch_settings_are_validated(inv):
    with pytest.raises(SettingsInvalid, match="needs dcops:drPublic"):
        make_plan("dr", inv=inv, overrides={"dcops:drMode": "active"})
    with pytest.raises(SettingsInvalid, match="for the DR stack"):
        make_plan("prod", inv=inv, overrides={"dcops:drMode": "active"})
    with pytest.raises(SettingsInvalid, match="'standby' or 'active'"):
        make_plan("dr", inv=inv, overrides={"dcops:drMode": "hot"})
