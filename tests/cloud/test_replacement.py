"""Replacements tell the truth: the provider's own replace-on-change set, delete-first where a resource
holds a unique thing, images that never re-image a running disk, volumes that grow but never shrink or
move pools silently."""
from __future__ import annotations

import copy
import json

from typer.testing import CliRunner

from dcops.cli import app
from dcops.cloud import checks, diff as plandiff
from dcops.cloud.plan import dumps
from dcops.cloud.replacement import DELETE_FIRST, TABLE, derive
from dcops.cloud.runner import make_plan

from .conftest import of
from tests.inventory_facts import count


def test_replace_table_matches_the_installed_provider():
    """Regenerate from pulumi_openstack's docstrings: a provider upgrade that changes what forces a
    replacement fails here until data/replace_on_change.json is regenerated and reviewed."""
    shipped = json.loads(TABLE.read_text(encoding="utf-8"))
    assert derive() == shipped
    t = shipped["types"]
    inst, port, vol = (t["openstack:compute/instance:Instance"], t["openstack:networking/port:Port"],
                       t["openstack:blockstorage/volume:Volume"])
    assert (inst["availabilityZone"], inst["networks"], inst["blockDevices"], inst["schedulerHints"]) == ("replace",) * 4
    assert (inst["flavorName"], inst["metadata"], inst["name"]) == ("update",) * 3
    assert (port["networkId"], port["tenantId"], port["fixedIps"], port["securityGroupIds"]) == (
        "replace", "replace", "update", "update")
    assert (vol["imageId"], vol["size"], vol["volumeType"]) == ("replace", "update", "update")


def test_every_unique_holder_is_replaced_delete_first_and_the_check_bites(direct):
    prod = direct  # the router and its interface exist only when something has a floating IP
    plan = prod.plan
    for typ in DELETE_FIRST:
        rs = [r for r in plan["resources"] if r["type"] == typ]
        assert rs, typ
        assert all(r["options"]["deleteBeforeReplace"] for r in rs), typ
    broken = copy.deepcopy(plan)
    inst = next(r for r in of(broken, "compute.Instance") if r["name"] == "yte-db-01")
    del inst["options"]["deleteBeforeReplace"]
    vol = next(r for r in of(broken, "blockstorage.Volume") if r["name"] == "yte-db-01-data")
    vol["inputs"]["enableOnlineResize"] = False
    del vol["options"]["retainOnDelete"]
    boot = next(r for r in of(broken, "blockstorage.Volume") if r["name"] == "yte-db-01-boot")
    del boot["options"]["ignoreChanges"]
    found = {(f.check, f.subject) for f in checks.check_replacement_safety(broken)}
    assert found == {("replace-delete-first", "yte-db-01"), ("data-volume-online-resize", "yte-db-01-data"),
                     ("data-volume-retained", "yte-db-01-data"), ("boot-volume-image-pinned", "yte-db-01-boot")}


def _edited(plan: dict, name: str, kind: str, **inputs) -> dict:
    new = copy.deepcopy(plan)
    r = next(r for r in of(new, kind) if r["name"] == name)
    r["inputs"].update(inputs)
    return new


def test_an_availability_zone_move_is_a_replacement_with_downtime(prod):
    d = plandiff.diff(prod.plan, _edited(prod.plan, "yte-db-01", "compute.Instance", availabilityZone="az-kg2"))
    c, attach = d["changed"]  # the data volume's attachment follows the server it holds
    assert (c["name"], c["action"], c["delete_first"], c["downtime"]) == ("yte-db-01", "replace", True, True)
    assert (attach["name"], attach["action"], attach["changes"][0]["path"]) == (
        "yte-db-01-data-attach", "replace", "instanceId")
    assert [(f["severity"], f["check"]) for f in d["blast"]] == [("warning", "replace-downtime")]
    assert "2 to replace" in plandiff.render_text(d).splitlines()[0]
    md = plandiff.render_markdown(d)
    assert "REPLACE (delete-then-create, downtime)" in md and "#### ⚠️ Blast radius" in md


def test_a_network_move_replaces_the_port_and_the_server_on_it(prod, inv):
    """Move a VM from app to db in the inventory: its port changes network (replace), the server booted on
    that port follows, and so do its volume attachments; the protected volumes stay."""
    vm = inv.vm("an-sinh-app-01")
    moved = inv.model_copy(update={"vms": tuple(
        v.model_copy(update={"zone": "db", "ip": "10.20.30.201"}) if v.name == vm.name else v for v in inv.vms)})
    d = plandiff.diff(prod.plan, make_plan("prod", inv=moved).plan)
    by = {c["name"]: c for c in d["changed"]}
    assert by["an-sinh-app-01-port"]["action"] == "replace"
    assert {ch["path"] for ch in by["an-sinh-app-01-port"]["changes"] if ch["action"] == "replace"} == {"networkId"}
    assert by["an-sinh-app-01"]["action"] == "replace"
    assert any(ch["path"] == "networks[0].port" and ch["action"] == "replace" for ch in by["an-sinh-app-01"]["changes"])
    assert not any(c["action"] == "replace" for c in d["changed"] if c["kind"] == "blockstorage.Volume")
    assert plandiff.blast_errors(d) == 0


def test_a_new_image_under_the_same_name_never_replaces_a_boot_volume(prod, inv):
    """Pin the image to a new Glance ID (what a name lookup would return after an upload): the
    ubuntu boot volumes see the change, ignore it, and nothing is replaced."""
    bumped = make_plan("prod", inv=inv, overrides={"dcops:imageIds": '{"ubuntu-22.04": "6b4a0c2e-new-image"}'}).plan
    d = plandiff.diff(prod.plan, bumped)
    boots = [c for c in d["changed"] if c["kind"] == "blockstorage.Volume"]
    assert len(boots) == sum(1 for v in inv.vms if v.image == "ubuntu-22.04") == count("vms", image="ubuntu-22.04")
    assert {c["action"] for c in boots} == {"ignored"}
    assert not any(c["action"] == "replace" for c in d["changed"]) and d["blast"] == []


def test_grow_is_online_but_shrink_and_retype_are_refused(prod, tmp_path):
    grown = _edited(prod.plan, "yte-db-01-data", "blockstorage.Volume", size=9999)
    d = plandiff.diff(prod.plan, grown)
    assert d["changed"][0]["action"] == "update" and d["blast"] == []
    old_size = next(r for r in of(prod.plan, "blockstorage.Volume") if r["name"] == "yte-db-01-data")["inputs"]["size"]
    shrunk = _edited(prod.plan, "yte-db-01-data", "blockstorage.Volume", size=old_size - 100)
    retyped = _edited(shrunk, "yte-app-01-boot", "blockstorage.Volume", volumeType="gold")
    d = plandiff.diff(prod.plan, retyped)
    assert {(f["check"], f["subject"]) for f in d["blast"]} == {("cannot-apply", "yte-db-01-data"),
                                                                ("cannot-apply", "yte-app-01-boot")}
    assert "Cinder cannot shrink" in plandiff.render_text(d) and "CANNOT APPLY" in plandiff.render_markdown(d)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(dumps(prod.plan), encoding="utf-8")
    new.write_text(dumps(retyped), encoding="utf-8")
    r = CliRunner().invoke(app, ["plan", "--diff", str(old), "--new", str(new)])
    assert r.exit_code == 1 and "2 change(s) that pulumi up cannot or must not apply" in r.output


def test_deleting_a_protected_or_dr_vm_is_an_error(prod):
    gone = copy.deepcopy(prod.plan)
    dr_vm = next(r for r in of(gone, "compute.Instance") if r["inputs"]["metadata"]["dr"] == "true")
    gone["resources"] = [r for r in gone["resources"] if r is not dr_vm]
    d = plandiff.diff(prod.plan, gone)
    assert [(f["check"], f["subject"]) for f in d["blast"]] == [("delete-dr-system", dr_vm["name"])]


def _renamed(inv, old: str, new: str, declare: bool):
    return inv.model_copy(update={"vms": tuple(
        v.model_copy(update={"name": new, "previous_names": (old,) if declare else ()}) if v.name == old else v
        for v in inv.vms)})


def test_a_declared_rename_keeps_every_resource(prod, inv):
    """yte-db-01 (a boot and a data volume) renamed with previous_names: 0 creates, 0 deletes, the diff says rename."""
    run = make_plan("prod", inv=_renamed(inv, "yte-db-01", "yte-his-db-01", declare=True))
    assert run.plan["findings"] == []
    d = plandiff.diff(prod.plan, run.plan)
    assert [r for r in d["added"] if r["custom"]] == [] and d["removed"] == []
    moved = {c["name"]: c for c in d["changed"] if c["renamed_from"]}
    assert set(moved) == {"yte-his-db-01", "yte-his-db-01-port", "yte-his-db-01-boot", "yte-his-db-01-data",
                          "yte-his-db-01-data-attach"}
    assert not any(c["action"] in ("replace", "cannot-apply") for c in d["changed"]) and d["blast"] == []
    text = plandiff.render_text(d)
    assert "0 to add" in text and "0 to delete" in text and "renamed" in text.splitlines()[0]
    assert "renamed from yte-db-01" in text


def test_an_undeclared_rename_is_refused_with_the_fix(prod, inv, tmp_path):
    run = make_plan("prod", inv=_renamed(inv, "yte-db-01", "yte-his-db-01", declare=False))
    d = plandiff.diff(prod.plan, run.plan)
    checks_ = {(f["check"], f["subject"]) for f in d["blast"]}
    assert ("rename-without-previous-name", "yte-his-db-01") in checks_
    assert {("delete-protected", "yte-db-01-boot"), ("delete-protected", "yte-db-01-data")} <= checks_
    msg = next(f["message"] for f in d["blast"] if f["check"] == "rename-without-previous-name")
    assert "previous_names: [yte-db-01] on yte-his-db-01" in msg
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(dumps(prod.plan), encoding="utf-8")
    new.write_text(dumps(run.plan), encoding="utf-8")
    r = CliRunner().invoke(app, ["plan", "--diff", str(old), "--new", str(new), "--markdown"])
    assert r.exit_code == 1 and "rename-without-previous-name" in r.output


def test_a_previous_name_still_in_use_is_an_error(inv):
    clash = inv.model_copy(update={"vms": tuple(
        v.model_copy(update={"previous_names": ("yte-app-01",)}) if v.name == "yte-db-01" else v for v in inv.vms)})
    notes = make_plan("prod", inv=clash).plan["notes"]
    assert [(n["code"], n["subject"]) for n in notes if n["severity"] == "error"] == [
        ("previous-name-in-use", "yte-db-01")]
