"""A drill of two playbooks replayed from an AWX workflow's parts (dcops.drills.replay.ReplayContext): the
drill's playbook calls get the captured runs in the order they ran, each checked for playbook, mode and extra
vars, and a run the drill does not take, or a call with no run left, is refused with the reason. The parts travel
between the workflow's nodes as JSON (set_stats artifacts → the next node's extra vars)."""
import datetime as dt
import json

import pytest

from dcops.drills.core import DrillRefused, new_record
from dcops.drills.registry import get
from dcops.drills.replay import PARTS_VAR, ReplayContext, part_of, parts_from
from dcops.drills.runner import PlaybookRun, Step

BACKUP = {"netdev_hosts": "kg-fw-01", "netdev_backup_dir": "/var/lib/dcops/netdev-backups"}
RESTORE = {"drill_fw": "kg-fw-01", "drill_fw_restore_backup": "/var/lib/dcops/netdev-backups/kg-fw-01.conf"}


def _ctx(inv, parts):
    r, _ = new_record(get("firewall-restore"), inv, execute=True, options={}, started=dt.datetime.now(dt.timezone.utc),
                      env={"kind": "lab"}, operator=None, approver=None, approval_ref=None, sign_key=None,
                      via="AWX workflow")
    last = PlaybookRun("drills/firewall-restore.yml", False, status="successful", rc=0)
    return ReplayContext(inv, True, {}, r, r.id, captured=last, extravars={**RESTORE, "drill_run_id": "x"},
                         parts=parts), last


def test_the_workflow_parts_are_returned_in_the_order_they_ran(inv):
    first = PlaybookRun("netdev-backup.yml", False, status="successful", rc=0)
    ctx, last = _ctx(inv, [(first, BACKUP)])
    assert ctx.used is False
    assert ctx.playbook("netdev-backup.yml", BACKUP, check=False) is first
    assert ctx.used is False
    assert ctx.playbook("drills/firewall-restore.yml", RESTORE, check=False) is last
    assert ctx.used is True
    assert [p["playbook"] for p in ctx.record.playbooks] == ["netdev-backup.yml", "drills/firewall-restore.yml"]
    with pytest.raises(DrillRefused, match=r"runs another playbook \(x.yml\) here: run it with `dcops drill run` "
                                           r"or as its AWX workflow \(awx/workflows/\)"):
        ctx.playbook("x.yml", {}, check=False)


@pytest.mark.parametrize("call, why", [
    (("drills/firewall-restore.yml", RESTORE, False), "drill firewall-restore runs drills/firewall-restore.yml, "
                                                       "the run was netdev-backup.yml"),
    (("netdev-backup.yml", BACKUP, True), "the playbook ran for real; drill firewall-restore in this mode runs it "
                                          "in check mode"),
    (("netdev-backup.yml", {**BACKUP, "netdev_hosts": "kg-fw-02"}, False),
     "the playbook ran with other extra vars than the drill gives it: netdev_hosts='kg-fw-01' (the drill gives "
     "'kg-fw-02')"),
])
def test_a_part_that_is_not_what_the_drill_runs_is_refused(inv, call, why):
    ctx, _ = _ctx(inv, [(PlaybookRun("netdev-backup.yml", False, status="successful", rc=0), BACKUP)])
    path, ev, check = call
    with pytest.raises(DrillRefused) as e:
        ctx.playbook(path, ev, check=check)
    assert str(e.value) == why and ctx.taken == 0


def test_a_part_is_handed_on_as_json_and_read_back_whole():
    step = Step("Network-device configuration backup", "Save the running configuration", "kg-fw-01", "ok",
                "2026-12-01T00:20:00+00:00", "2026-12-01T00:20:02+00:00", 2.0, True, "", "ansible.builtin.copy")
    run = PlaybookRun("netdev-backup.yml", False, status="successful", rc=0, started="2026-12-01T00:19:58+00:00",
                      ended="2026-12-01T00:20:03+00:00", steps=[step], stats={"ok": {"kg-fw-01": 2}},
                      custom={"netdev_backup": {"kg-fw-01": "kg-fw-01.conf"}})
    part = json.loads(json.dumps(part_of(run, {**BACKUP, PARTS_VAR: []})))
    assert parts_from({PARTS_VAR: [part]}) == [(run, BACKUP)]
    assert parts_from({}) == []


@pytest.mark.parametrize("part, why", [
    ({"playbook": "netdev-backup.yml"}, "dcops_drill_parts[0] is not a workflow part (KeyError: 'extravars')"),
    ({"playbook": "x.yml", "check": False, "extravars": {}, "steps": [{"task": "t"}]},
     "dcops_drill_parts[0] is not a workflow part (TypeError: Step.__init__() missing 6 required positional "
     "arguments: 'play', 'host', 'status', 'started', 'ended', and 'duration_s')"),
])
def test_a_part_that_is_not_one_is_refused(part, why):
    with pytest.raises(DrillRefused) as e:
        parts_from({PARTS_VAR: [part]})
    assert str(e.value) == why
