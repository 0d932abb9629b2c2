"""The backup system in the Pulumi program, under the SDK's mocks (`pulumi.runtime.set_mocks`, the offline
plan): one Bacula resource per policy and per VM on a tape policy, counted from the inventory; secrets
stay secrets; each resource waits for what it names; the plan diff shows backup resources added and
changed when the inventory's policies or VMs change."""
from __future__ import annotations

from collections import Counter

import pytest

from dcops.cloud import diff as plandiff
from dcops.cloud.runner import make_plan
from dcops.cloud.settings import BaculaSettings, SettingsInvalid

from .conftest import of

DYN = "pulumi-python:dynamic/bacula:"


def _tape_vms(inv):
    return [v for v in inv.vms if v.backup_policy and inv.backup_policy(v.backup_policy).target == "tape"]


def test_one_bacula_resource_per_policy_and_per_tape_vm(prod, inv):
    vms = _tape_vms(inv)
    used = [p for p in inv.storage.backup_policies if p.name in {v.backup_policy for v in vms}]
    replicated = [p for p in used if p.replicate_to_dr]
    assert len(vms) > 30 and len(used) == 2 and replicated  # the shipped site, so every branch counts
    n = Counter(r["kind"] for r in prod.plan["resources"] if r["kind"].startswith("bacula."))
    assert n == {
        "bacula.Client": len(vms),
        "bacula.FileSet": len(vms),
        # a job per VM, a DR copy job per source pool of a replicated policy, the restore job
        "bacula.Job": len(vms) + sum(2 + p.incremental_daily for p in replicated) + 1,
        "bacula.JobDefs": len(used),
        "bacula.Schedule": len(used) + 1,  # + the DR copy schedule
        # Scratch + per policy: full, incremental (if daily), differential, DR copies (if replicated)
        "bacula.Pool": 1 + sum(2 + p.incremental_daily + p.replicate_to_dr for p in used),
        "bacula.Storage": 2,  # the tape library and the DR site's
    }
    assert {r["name"] for r in of(prod.plan, "bacula.Client")} == {f"{v.name}-fd" for v in vms}
    assert {r["name"] for r in of(prod.plan, "bacula.FileSet")} == {f"{v.name}-data" for v in vms}
    assert all(r["parent"] == "dcops:cloud:BackupDirector::backup" and r["tenant"] is None
               for r in prod.plan["resources"] if r["kind"].startswith("bacula."))


def test_declarations_carry_the_inventory_and_keep_passwords_secret(prod, inv):
    by = {(r["kind"], r["name"]): r["inputs"] for r in prod.plan["resources"] if r["kind"].startswith("bacula.")}
    vm = inv.vm("portal-db-01")
    assert by[("bacula.Job", "portal-db-01")] == {
        "__provider": "[secret]", "comment": "", "kind": "Job", "name": "portal-db-01",
        "directives": {"JobDefs": vm.backup_policy, "Client": "portal-db-01-fd", "FileSet": "portal-db-01-data"}}
    client = by[("bacula.Client", "portal-db-01-fd")]["directives"]
    policy = inv.backup_policy(vm.backup_policy)
    assert client == {"Address": str(vm.ip), "FDPort": 9102, "Catalog": "MyCatalog", "Password": "[secret]",
                      "File Retention": f"{policy.retention_days} days",
                      "Job Retention": f"{policy.retention_days} days", "AutoPrune": "yes"}
    assert by[("bacula.FileSet", "portal-db-01-data")]["directives"] == {
        "Include": {"Options": {"signature": "SHA1"}, "File": [f"/srv/{v.name}" for v in vm.volumes]}}
    for (kind, _), inputs in by.items():
        if kind in ("bacula.Client", "bacula.Storage"):
            assert inputs["directives"]["Password"] == "[secret]"
        assert inputs["__provider"] == "[secret]"  # it holds the director's paths, never shown
    assert by[("bacula.Storage", "tape-01")]["directives"]["Address"] == "10.10.0.42"  # Pulumi.prod.yaml
    pools = {n: i["directives"] for (k, n), i in by.items() if k == "bacula.Pool"}
    assert pools["tape-monthly-60d-full"]["Volume Retention"] == "60 days"
    assert pools["tape-monthly-60d-full"]["Next Pool"] == "tape-monthly-60d-dr"
    # a job's level picks its pool: a differential run by hand never lands among the fulls
    jobdefs = by[("bacula.JobDefs", "tape-monthly-60d")]["directives"]
    assert {k: jobdefs[k] for k in ("Full Backup Pool", "Incremental Backup Pool", "Differential Backup Pool")} == {
        "Full Backup Pool": "tape-monthly-60d-full", "Incremental Backup Pool": "tape-monthly-60d-inc",
        "Differential Backup Pool": "tape-monthly-60d-diff"}
    assert pools["tape-monthly-60d-diff"]["Volume Retention"] == "60 days"


def test_each_resource_waits_for_the_resources_it_names(prod):
    deps = {r.name: set(r.dependencies) for r in prod.recorded if r.type.startswith(DYN)}
    assert {f"{DYN}Client::portal-db-01-fd", f"{DYN}FileSet::portal-db-01-data",
            f"{DYN}JobDefs::tape-daily-30d"} <= deps["portal-db-01"]
    assert {f"{DYN}Schedule::tape-daily-30d", f"{DYN}Storage::tape-01", f"{DYN}Pool::tape-daily-30d-full",
            f"{DYN}Pool::tape-daily-30d-inc", f"{DYN}Pool::tape-daily-30d-diff"} <= deps["tape-daily-30d"]
    assert {f"{DYN}Storage::tape-01-dr", f"{DYN}Pool::Scratch"} <= deps["tape-daily-30d-dr"]


def test_a_stack_without_a_director_declares_no_backup_resources(dr):
    assert not [r for r in dr.plan["resources"] if r["type"].startswith(DYN)]


@pytest.mark.parametrize("obj, message", [
    ({"confDir": "/etc/bacula/conf.d"}, "dcops:bacula.sdAddress is required"),
    ({"sdAddress": "10.10.0.42", "conf": "/x"}, "dcops:bacula: unknown keys ['conf']"),
    ({"sdAddress": "10.10.0.42", "confDir": "conf.d"}, "conf_d must be an absolute path"),
    ({"sdAddress": "10.10.0.42", "sdPort": 70000}, "sd_port must be a port number, not 70000"),
])
def test_bad_director_settings_are_refused(obj, message):
    with pytest.raises(SettingsInvalid, match=message.replace("[", r"\[").replace("]", r"\]")):
        BaculaSettings.from_obj(obj)


def test_plan_diff_shows_backup_resources_added_and_changed(prod, inv, tmp_path):
    moved = next(v for v in inv.vms if v.backup_policy == "snap-daily-7d")
    policies = tuple(p.model_copy(update={"retention_days": 90}) if p.name == "tape-monthly-60d" else p
                     for p in inv.storage.backup_policies)
    changed_inv = inv.model_copy(update={
        "storage": inv.storage.model_copy(update={"backup_policies": policies}),
        "vms": tuple(v.model_copy(update={"backup_policy": "tape-daily-30d"}) if v.name == moved.name else v
                     for v in inv.vms)})
    changed = make_plan("prod", inv=changed_inv).plan
    d = plandiff.diff(prod.plan, changed)
    added = {(r["kind"], r["name"]) for r in d["added"] if r["kind"].startswith("bacula.")}
    assert added == {("bacula.Client", f"{moved.name}-fd"), ("bacula.FileSet", f"{moved.name}-data"),
                     ("bacula.Job", moved.name)}
    bacula = {c["name"]: c for c in d["changed"] if c["kind"].startswith("bacula.")}
    monthly = [v.name for v in inv.vms if v.backup_policy == "tape-monthly-60d"]
    assert set(bacula) == {"tape-monthly-60d-full", "tape-monthly-60d-inc", "tape-monthly-60d-diff",
                           "tape-monthly-60d-dr", *(f"{v}-fd" for v in monthly)}
    policy_line = "Policy tape-monthly-60d: full every 30 day(s), incremental daily, kept {} days, RPO 24 h."
    assert bacula["tape-monthly-60d-full"]["changes"] == [
        {"path": "comment", "old": policy_line.format(60), "new": policy_line.format(90), "action": "update"},
        {"path": "directives.Volume Retention", "old": "60 days", "new": "90 days", "action": "update"}]
    assert bacula["tape-monthly-60d-inc"]["changes"] == bacula["tape-monthly-60d-diff"]["changes"] == [
        {"path": "directives.Volume Retention", "old": "60 days", "new": "90 days", "action": "update"}]
    assert {c["action"] for c in bacula.values()} == {"update"}
    assert not [r for r in d["removed"] if r["kind"].startswith("bacula.")]
    text = plandiff.render_text(d)
    assert f"+ {'bacula.Job':<28} {moved.name}" in text
    assert "      directives.Volume Retention: 60 days -> 90 days  (update)" in text
    # the same through `dcops plan --diff` on the saved offline plans, as a pull request's check runs it
    from typer.testing import CliRunner

    from dcops.cli import app
    from dcops.cloud.plan import dumps
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(dumps(prod.plan), encoding="utf-8")
    new.write_text(dumps(changed), encoding="utf-8")
    r = CliRunner().invoke(app, ["plan", "--diff", str(old), "--new", str(new)])
    assert r.exit_code == 0, r.output
    assert f"+ {'bacula.Job':<28} {moved.name}" in r.stdout
    assert "      directives.Volume Retention: 60 days -> 90 days  (update)" in r.stdout
