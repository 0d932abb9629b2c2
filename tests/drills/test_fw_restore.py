"""Firewall-restore drill for real: nftables firewall in a namespace, zone hosts, TCP checks through it."""
import pytest

from dcops.drills import fw_restore
from dcops.drills.core import run_drill
from dcops.drills.registry import get

pytestmark = pytest.mark.lab


def test_restore_last_good_config_and_verify_policy(inv, lab_prefix, report_dir):
    seen = {}

    def after(ctx):
        seen["running"] = ctx.lab.lab.ruleset("fw")
        seen["boot"] = (ctx.lab.host_dir("kg-fw-01") / "nftables.conf").read_text()

    r, paths = run_drill(get("firewall-restore"), inv, execute=True, lab_prefix=lab_prefix, report_dir=report_dir,
                         lab_after=after)
    assert r.verdict == "pass", r.reason
    before = r.details["policy_checks"]["before"]["violations"]
    assert before == ["DMZ web → app SSH is blocked (expected deny, connected)",
                      "app → DMZ web is blocked (expected deny, connected)"]
    assert r.details["policy_checks"]["after"]["violations"] == []
    checks = {s.name: s.status for s in r.steps if s.source == "dcops" and s.name.startswith("policy: ")}
    assert len(checks) == 4 and set(checks.values()) == {"pass"}
    (diff,) = [s for s in r.steps if s.name.startswith("difference: running")]
    assert "-table inet factory_default {" in diff.diff and "+table inet dcops_policy {" in diff.diff
    assert "table inet dcops_policy" in seen["running"] and "factory_default" not in seen["running"]
    assert seen["boot"].startswith("flush ruleset") and "dcops_policy" in seen["boot"]
    (rto,) = [m for m in r.measurements if m.name == "rto"]
    assert 0 < rto.value < 120 and rto.limit == fw_restore.target_s()
    # measured on a Linux/nftables stand-in: never "met" against the production target
    assert rto.met is None and rto.measured_in == "lab" and "nftables stand-in" in rto.scale
    assert r.environment["kind"] == "lab" and "not compliance evidence" in paths["md"].read_text()
    # the record says the lab replaced the FortiGate by a Linux stand-in
    assert r.environment["lab_overrides"]["kg-fw-01"]["dcops_platform"] == "linux"
    assert any("is fortios in the inventory" in f["message"] and "stand-in" in f["message"] for f in r.findings)


def test_a_backup_that_breaks_the_policy_is_rolled_back(inv, lab_prefix, report_dir, tmp_path):
    bad = tmp_path / "kg-fw-01" / "20260101T000000Z.conf"
    bad.parent.mkdir()
    bad.write_text("table inet everything_open {\n  chain forward {\n"
                   "    type filter hook forward priority filter; policy accept;\n  }\n}\n")
    seen = {}

    def after(ctx):
        seen["running"] = ctx.lab.lab.ruleset("fw")

    r, _ = run_drill(get("firewall-restore"), inv, execute=True, lab_prefix=lab_prefix, report_dir=report_dir,
                     options={"backup": str(bad), "lab_incident": "none"}, lab_after=after)
    assert r.verdict == "fail"
    assert "traffic policy violated after the restore" in r.reason or "rolled back" in r.reason
    # the firewall is back on its pre-drill (good) policy, not on the bad backup
    assert "dcops_policy" in seen["running"] and "everything_open" not in seen["running"]
    assert not [m for m in r.measurements if m.name == "rto"]
    assert r.end_state[0]["state"].startswith("rolled back to the pre-drill configuration") and r.end_state[0]["ok"]


def test_without_a_backup_the_drill_takes_one_first_and_backups_are_idempotent(inv, lab_prefix, report_dir, tmp_path):
    backups = tmp_path / "backups"
    seen = {}

    def after(ctx):
        seen["first"] = sorted(p.name for p in (backups / "kg-fw-01").iterdir())
        again = ctx.playbook("netdev-backup.yml", {"netdev_hosts": "kg-fw-01", "netdev_backup_dir": str(backups)},
                             check=False)
        seen["again_ok"] = again.ok
        seen["again_failed"] = [again.status, again.rc] + [(st.task, st.message[:300]) for st in again.steps
                                                            if st.status not in ("ok", "skipped")]
        seen["second"] = sorted(p.name for p in (backups / "kg-fw-01").iterdir())

    r, _ = run_drill(get("firewall-restore"), inv, execute=True, lab_prefix=lab_prefix, report_dir=report_dir,
                     options={"backups_dir": str(backups), "lab_incident": "none"}, lab_after=after)
    assert r.verdict == "pass", r.reason
    assert any("took one from the device" in f["message"] for f in r.findings)
    assert len(seen["first"]) == 1 and seen["again_ok"] and seen["second"] == seen["first"], seen
    assert "table inet dcops_policy" in (backups / "kg-fw-01" / seen["first"][0]).read_text()


def test_a_lost_session_leaves_a_pending_revert_on_the_record_and_the_device_reverts(inv, lab_prefix, report_dir,
                                                                                     tmp_path):
    """The controller loses the firewall right as the backup is loaded: the record must say the
    configuration is unconfirmed with an automatic revert pending at a deadline — and the device
    must then really revert by itself."""
    import time

    from dcops.drills.record import parse_time
    bad = tmp_path / "kg-fw-01" / "20260101T000000Z.conf"
    bad.parent.mkdir()
    bad.write_text("table inet everything_open {\n  chain forward {\n"
                   "    type filter hook forward priority filter; policy accept;\n  }\n}\n")
    seen = {}

    def hook(ctx):
        seen["ctx"] = ctx

    def progress(kind, data):
        if kind == "task" and data.get("task") == "Load the last good configuration" and "killed" not in seen:
            dl = seen["ctx"].lab
            dl.lab.stop(dl.targets["kg-fw-01"].sshd_pid)  # no new session either (connection refused)
            seen["killed"] = dl.lab.kill_sessions("fw")

    def after(ctx):
        seen["at_end"] = ctx.lab.lab.ruleset("fw")
        (state,) = ctx.record.end_state
        deadline = parse_time(state["revert_deadline"]).timestamp()
        time.sleep(max(0.0, deadline - time.time()) + 4)
        seen["after_deadline"] = ctx.lab.lab.ruleset("fw")

    r, _ = run_drill(get("firewall-restore"), inv, execute=True, lab_prefix=lab_prefix, report_dir=report_dir,
                     options={"backup": str(bad), "lab_incident": "none", "revert_after_s": 8},
                     lab_hook=hook, lab_after=after, progress=progress)
    assert seen["killed"] >= 1 and r.verdict == "fail", (seen.get("killed"), r.verdict, r.reason, r.end_state)
    (state,) = r.end_state
    assert not state["ok"] and state["revert"] == "pending" and state["state"].startswith("UNCONFIRMED"), (state, r.reason)
    assert "dcops_policy" in seen["after_deadline"] and "everything_open" not in seen["after_deadline"]