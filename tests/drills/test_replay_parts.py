"""A drill of two playbooks replayed from an AWX workflow's parts (dcops.drills.replay.ReplayContext): the
drill's playbook calls get the captured runs in the order they ran, each checked for playbook, mode and extra
vars, and a run the drill does not take, or a call with no run left, is refused with the reason."""
import datetime as dt

import pytest

from dcops.drills.core import DrillRefused, new_record
from dcops.drills.registry import get
from dcops.drills.replay import ReplayContext
from dcops.drills.runner import PlaybookRun

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
