"""Plan JSON is deterministic, the fast mock runtime is equivalent to the stock one, and diffs are exact."""
from __future__ import annotations

import json
import subprocess
import sys

from dcops.cloud import diff as plandiff
from dcops.cloud.plan import dumps
from dcops.cloud.runner import make_plan
from dcops.model.schema import Volume
from tests.inventory_facts import count


def _small(inv, tenants=("so-yt", "so-tu-phap", "so-du-lich", "so-noi-vu")):
    """A slice of the site: the VMs of four tenants (systems, groups and policy stay whole)."""
    return inv.model_copy(update={"vms": tuple(v for v in inv.vms if v.tenant in tenants)})


def test_same_inventory_gives_byte_identical_json(prod, inv):
    again = make_plan("prod", inv=inv).plan
    assert dumps(again) == dumps(prod.plan)
    text = dumps(prod.plan)
    assert "timestamp" not in text and text.count("\n") > 10000


def test_cli_json_is_byte_identical_across_processes(prod, tmp_path):
    out = tmp_path / "plan.json"
    r = subprocess.run([sys.executable, "-c", "from dcops.cli import main; main()", "plan", "--json", str(out)],
                       capture_output=True, text=True, timeout=120, env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin"})
    assert r.returncode == 0, r.stderr
    assert "policy checks passed" in r.stdout and "compute.Instance" in r.stdout
    assert out.read_text(encoding="utf-8") == dumps(prod.plan)
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["by_type"]["compute.Instance"] == count("vms")


def test_fast_runtime_plans_exactly_like_the_stock_mock_runtime(inv):
    small = _small(inv)
    # a renamed VM too: its aliases reach the mock monitor the same way with and without the shortcuts
    small = small.model_copy(update={"vms": tuple(
        v.model_copy(update={"name": "yte-his-db-01", "previous_names": ("yte-db-01",)}) if v.name == "yte-db-01"
        else v for v in small.vms)})
    stock = make_plan("prod", inv=small, fast=False).plan
    fast = make_plan("prod", inv=small, fast=True).plan
    assert stock["summary"]["resources"] > 60
    assert dumps(fast) == dumps(stock)


def test_diff_after_adding_one_vm_shows_that_vm_its_volumes_and_attachments(prod, inv):
    new_vm = inv.vm("yte-app-03").model_copy(update={
        "name": "yte-app-04", "ip": "10.20.21.200",
        "volumes": (Volume(name="data", size_gb=300, pool="silver"), Volume(name="logs", size_gb=50, pool="silver"))})
    grown = inv.model_copy(update={"vms": inv.vms + (new_vm,)})
    d = plandiff.diff(prod.plan, make_plan("prod", inv=grown).plan)
    added = {(r["kind"], r["name"]) for r in d["added"]}
    assert added == {
        ("component.Server", "yte-app-04"), ("compute.Instance", "yte-app-04"),
        ("networking.Port", "yte-app-04-port"), ("blockstorage.Volume", "yte-app-04-boot"),
        ("blockstorage.Volume", "yte-app-04-data"), ("blockstorage.Volume", "yte-app-04-logs"),
        ("compute.VolumeAttach", "yte-app-04-data-attach"), ("compute.VolumeAttach", "yte-app-04-logs-attach")}
    assert d["removed"] == [] and d["new_findings"] == []
    # the only changes are the tenant's quotas, sized from its VMs
    assert {c["name"] for c in d["changed"]} <= {"quota-compute-so-yt", "quota-volume-so-yt", "quota-network-so-yt"}
    text = plandiff.render_text(d)
    assert text.startswith("Plan diff (prod): 7 to add, 3 to change, 0 to delete")
    assert "+ blockstorage.Volume" in text and "yte-app-04-logs  size=50, volumeType=silver" in text
    md = plandiff.render_markdown(d)
    assert "| `compute.Instance` | `yte-app-04` | so-yt |" in md
    assert "`volumeTypeQuota.gigabytes_silver`" in md


def test_growth_in_a_saturated_pool_shows_every_tenant_giving_up_headroom(prod, inv):
    # bronze is 92 % allocated: its quotas are capped to the pool, so more bronze for one tenant
    # is visibly less headroom for the others - the diff says so instead of overcommitting the SAN.
    grown = inv.model_copy(update={"vms": tuple(
        v.model_copy(update={"volumes": v.volumes + (Volume(name="extra", size_gb=2000, pool="bronze"),)})
        if v.name == "yte-db-01" else v for v in inv.vms)})
    run = make_plan("prod", inv=grown)
    d = plandiff.diff(prod.plan, run.plan)
    bronze = [c for c in d["changed"] if any(ch["path"] == "volumeTypeQuota.gigabytes_bronze" for ch in c["changes"])]
    assert len(bronze) > 3 and run.plan["findings"] == []


def test_diff_reports_changed_inputs_and_deletions(prod, inv):
    resized = inv.model_copy(update={"vms": tuple(
        v.model_copy(update={"flavor": "db.2xlarge"}) if v.name == "portal-db-01" else v
        for v in inv.vms if v.name != "du-lich-web-02")})
    d = plandiff.diff(prod.plan, make_plan("prod", inv=resized).plan)
    inst = next(c for c in d["changed"] if c["name"] == "portal-db-01")
    assert inst["changes"] == [{"path": "flavorName", "old": "db.xlarge", "new": "db.2xlarge", "action": "update",
                                "why": "resize: the server reboots"}]
    assert inst["action"] == "update"
    removed = {r["name"] for r in d["removed"] if r["custom"]}
    assert removed == {"du-lich-web-02", "du-lich-web-02-port", "du-lich-web-02-boot",
                       "du-lich-web-02-media", "du-lich-web-02-media-attach"}
    assert {r["name"] for r in d["removed"] if r["protect"]} == {"du-lich-web-02-boot", "du-lich-web-02-media"}
    assert "🛡️ **2 protected resource(s) deleted**" in plandiff.render_markdown(d)
    assert plandiff.render_text(plandiff.diff(prod.plan, prod.plan)).endswith("No changes.\n")


def test_diff_flags_a_group_outgrowing_its_hypervisors(prod, inv):
    fifth = inv.vm("qlvb-web-04").model_copy(update={"name": "qlvb-web-05", "ip": "10.20.10.60"})
    d = plandiff.diff(prod.plan, make_plan("prod", inv=inv.model_copy(update={"vms": inv.vms + (fifth,)})).plan)
    group = next(c for c in d["changed"] if c["name"] == "sg-qlvb-web")
    assert group["changes"] == [{"path": "policies", "old": "anti-affinity", "new": "soft-anti-affinity",
                                 "action": "replace"}]
    assert [(f["check"], f["subject"]) for f in d["new_findings"]] == [("anti-affinity-capacity", "qlvb-web")]
    assert "#### ⚠️ New findings" in plandiff.render_markdown(d)
    # Blast radius: a server group's policy cannot change in place, and a server's group hint cannot
    # either - the four running web servers are replaced, which the diff must say, not hide.
    replaced = {c["name"] for c in d["changed"] if c["action"] == "replace" and c["kind"] == "compute.Instance"}
    assert replaced == {"qlvb-web-01", "qlvb-web-02", "qlvb-web-03", "qlvb-web-04"}
    web1 = next(c for c in d["changed"] if c["name"] == "qlvb-web-01")
    assert web1["changes"][0]["path"] == "schedulerHints[0].group" and web1["delete_first"] and web1["downtime"]
    assert {(f["check"], f["subject"]) for f in d["blast"]} >= {("replace-downtime", "qlvb-web-01")}
    text = plandiff.render_text(d)
    assert "1 to add" not in text and "5 to replace" in text.splitlines()[0]
    assert "qlvb-web-01  [REPLACE (delete-then-create, downtime)]" in text
