"""DR failover drill in a namespace lab with real components: the DR volume restored through Bacula 9.6 and
verified against the catalogue, an nftables DNAT on the link balancer moved, HTTP probes every 100 ms through
the published address (slow answers counted as outage), the data fetched back through it. A restore that
fails switches nothing: production still serves and the record says so."""
import json
import shutil

import pytest

from dcops.backup.lab import available
from dcops.backup.throughput import measure
from dcops.drills import bacula_restore, dr_failover, readiness
from dcops.drills.core import DrillRefused, run_drill
from dcops.drills.lab import DrillLab
from dcops.drills.registry import get

from .test_backup_restore_bacula import _corrupt_job

VM = "portal-db-01"


def _plan(path, power="active"):
    """The part of `dcops plan --stack dr --json` (drMode active) the drill reads, for portal."""
    meta = {"system": "portal", "vm": VM}
    res = [{"kind": "compute.Instance", "name": n, "inputs": {"powerState": power, "metadata": {"system": "portal"}}}
           for n in (VM, "portal-db-02", "portal-web-01")]
    res += [{"kind": "blockstorage.Volume", "name": f"{VM}-boot", "inputs": {"metadata": {**meta, "role": "boot"}}},
            {"kind": "blockstorage.Volume", "name": f"{VM}-data", "inputs": {"metadata": {
                **meta, "role": "data", "restore_from": f"prod:{VM}-data", "restore_via": "tape-daily-30d"}}}]
    res += [{"kind": "networking.FloatingIp", "name": n, "inputs": {"tags": ["managed_by=dcops", "system=portal"]}}
            for n in ("lb-portal-fip", "portal-web-01-fip")]
    path.write_text(json.dumps({"format": "dcops-plan/1", "stack": "dr", "resources": res}))
    return path


STEPS_OK = [
    ("Production serves at the published address before the switch", "pass"),
    ("Restore the declared backup set into the DR volume through Bacula, verified against the catalogue", "pass"),
    ("The DR volume holds the data set (every file against the catalogue)", "pass"),
    ("The service answers from DR at the published address", "pass"),
    ("The data served from DR is the backed-up data set", "pass"),
    ("Switched back: production answers every probe again", "pass"),
]


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.skipif(not available(), reason="Debian's bacula-director/sd/fd/console not installed")
def test_failover_to_dr_measures_rto_rpo_verifies_data_and_a_failed_restore_switches_nothing(inv, lab_prefix,
                                                                                            report_dir, tmp_path):
    drill = get("dr-failover")
    plan = _plan(tmp_path / "dr-active.json")
    with DrillLab(lab_prefix) as dl:
        dr_failover.build_lab(dl, inv, [VM], {})
        fl = dl.services["dr_failover"]
        r, _ = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                         options={"targets": [VM], "dr_plan": str(plan)})
        assert r.verdict == "pass", r.reason
        assert [(s.name, s.status) for s in r.steps] == STEPS_OK
        assert r.environment["kind"] == "lab" and "1:" in r.environment["scale"]
        sw = r.details["switch"]
        assert (sw["system"], sw["published_via"], sw["dr_target"]) == ("portal", "lb-portal-fip", "198.51.100.10")
        assert sw["data_path"] == [{"volume": f"{VM}-data", "role": "data", "restore_from": f"prod:{VM}-data",
                                    "restore_via": "tape-daily-30d"}]
        m = {x.name: x for x in r.measurements}
        assert list(m) == ["rpo", "dr_restore", "rto", "rto_with_restore", "restored_files_verified",
                           "failback_outage"]
        # lab figures: measured, labelled, never compared with the production limits
        assert all(x.measured_in == "lab" and x.met is None for x in m.values())
        assert m["rto"].limit == inv.backup_policy("tape-daily-30d").rto_hours * 3600 and "not compared" in m["rto"].comparison
        assert 0 < m["rto"].value < 10 and m["rto_with_restore"].value > m["rto"].value
        assert 0 < m["rpo"].value < 120 and "JobId 1" in m["rpo"].detail
        assert m["restored_files_verified"].value == 18
        f = r.details["failover"]
        assert f["probes"] >= 1 and f["failed"] + f["slow"] >= 1  # the switch is not free, and it is counted
        probes = [json.loads(x) for x in (report_dir / f"{r.id}.probes.jsonl").read_text().splitlines()]
        assert {p["site"] for p in probes if p["ok"]} == {"prod", "dr"}
        assert [a["name"] for a in r.artefacts] == ["probe log from the users' host: one HTTP request per line"]
        assert [(e["what"], e["state"], e["ok"]) for e in r.end_state] == [
            ("public address", f"{dr_failover.PUBLISHED} — not moved: the link balancer sends the published "
                               "address to production", True),
            ("service", "on production (verified: the last probes answered by production)", True),
            ("DR volume", "holds the restored data set (18 files), standby", True),
            ("DR instance", "standby (stopped, no floating IP)", True)]
        assert r.systems[0]["evidence"] == "dr-failover" and r.systems[0]["verified"] is True

        # the mechanism behind dr-readiness' throughput (bench/bench_restore.py runs it on ≥ 1 GB): real Bacula
        # restores, caches dropped before each, every file verified; on the lab's 2 MB it is refused as a figure
        bl = dl.services["bacula"]
        tp = measure(bl, f"{VM}-fd", tmp_path / "tp", runs=1, warmup=0)
        assert [(x["bytes"] > 2_000_000, x["files_verified"], x["caches_dropped"]) for x in tp["runs"]] == [
            (True, 18, True)] and tp["median_mbps"] > 0 and tp["engine"] == "bacula"
        (tmp_path / "restore.json").write_text(json.dumps({"figures": tp}))
        assert readiness.bacula_measured(tmp_path / "restore.json")[2]["why_not"].endswith("< 1 GB: would measure "
                                                                                             "overhead")

        # the DR copy of the newest job is unreadable: nothing switches, production keeps serving
        with bl.catalogue() as con:
            newest = max(j.job_id for j in bacula_restore.catalogue.jobs(con, client=f"{VM}-fd"))
        _corrupt_job(bl, newest)
        shutil.rmtree(fl.dr_volume)  # back to an empty standby volume
        fl.dr_volume.mkdir()
        r2, _ = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                          options={"targets": [VM], "dr_plan": str(plan)})
        assert r2.verdict == "fail" and "Block checksum mismatch" in r2.reason, r2.reason
        assert [s.status for s in r2.steps] == ["pass", "fail"]
        assert [x.name for x in r2.measurements] == ["rpo"]  # taken before the fault, kept
        assert [(e["what"], e["state"], e["ok"]) for e in r2.end_state] == [
            ("public address", f"{dr_failover.PUBLISHED} — not moved: the link balancer sends the published "
                               "address to production", True),
            ("service", "on production (verified: the last probes answered by production)", True),
            ("DR volume", "empty (standby, untouched)", True),
            ("DR instance", "standby (stopped, no floating IP)", True)]
        assert r2.systems[0]["verified"] is False
        assert dr_failover.published_target(dl.lab) == dr_failover.PROD_LINK[1].split("/")[0]


def test_the_switch_comes_from_the_active_plan_and_bad_plans_are_refused(inv, tmp_path):
    sw = dr_failover.switch_from_plan(json.loads(_plan(tmp_path / "a.json").read_text()), VM, "portal")
    assert sw["floating_ips"] == ["lb-portal-fip", "portal-web-01-fip"] and sw["instances"] == 3
    with pytest.raises(DrillRefused, match=r"declares portal's instances shutoff: plan the switch with "
                                           r"dcops:drMode active"):
        dr_failover.switch_from_plan(json.loads(_plan(tmp_path / "s.json", "shutoff").read_text()), VM, "portal")
    with pytest.raises(DrillRefused, match="portal-db-02 is not in the DR plan|no data path for portal-db-02"):
        dr_failover.switch_from_plan(json.loads(_plan(tmp_path / "b.json").read_text()), "portal-db-02", "portal")
    with pytest.raises(DrillRefused, match="must be the DR stack's plan"):
        dr_failover.switch_from_plan({"format": "dcops-plan/1", "stack": "prod"}, VM, "portal")
    # targets: one VM whose data replicates to DR, never a silent substitute
    assert dr_failover.targets(inv, {}) == ["mail-ldap-01"]
    with pytest.raises(DrillRefused, match="portal-web-01: its system is not dr_required or its backup policy"):
        dr_failover.targets(inv, {"targets": ["portal-web-01"]})
    with pytest.raises(DrillRefused, match="one system at a time"):
        dr_failover.targets(inv, {"targets": [VM, "mail-ldap-01"]})
    r, _ = run_drill(get("dr-failover"), inv, execute=True, report_dir=tmp_path / "rec", options={"targets": [VM]})
    assert r.verdict == "fail" and r.reason.startswith("dr-failover runs in a lab")


def test_the_shipped_active_plan_moves_a_waf_published_system_to_its_dr_vip(inv):
    """portal is published through the WAF: the DR active plan gives it no floating IP (it would bypass the WAF),
    so what the drill moves is the link balancer's target to lb-portal's VIP at DR; a plan with neither is refused."""
    from dcops.cloud.runner import make_plan

    plan = make_plan("dr", inv=inv, overrides={
        "dcops:drMode": "active", "dcops:drPublic": '{"cidr": "198.51.100.0/26", "gateway": "198.51.100.1"}'}).plan
    sw = dr_failover.switch_from_plan(plan, VM, "portal")
    assert (sw["floating_ips"], sw["published_via"], sw["instances"]) == ([], "lb-portal VIP", 18)
    assert [d["restore_from"] for d in sw["data_path"]] == [f"prod:{VM}-data"]
    bare = {**plan, "resources": [r for r in plan["resources"] if r["kind"] != "loadbalancer.LoadBalancer"]}
    with pytest.raises(DrillRefused, match="publishes nothing for portal at DR \\(no floating IP, no load balancer VIP"):
        dr_failover.switch_from_plan(bare, VM, "portal")
