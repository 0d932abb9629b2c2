"""Backup-restore drill for real: sshd namespace hosts, ansible-runner over SSH, tape on the media server."""
import hashlib
import json

import pytest

from dcops.drills import record as rec
from dcops.drills.backup_restore import seed_data
from dcops.drills.core import run_drill
from dcops.drills.registry import get

pytestmark = pytest.mark.lab


def tree_digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_restore_drill_measures_rto_rpo_and_restores_identical_data(inv, lab_prefix, report_dir):
    seen = {}

    def before(ctx):
        seen["digest"] = tree_digest(ctx.lab.host_dir("portal-db-01") / "data")

    r, paths = run_drill(get("backup-restore"), inv, execute=True, options={"targets": ["portal-db-01"], "lab_data_mb": 2},
                         lab_prefix=lab_prefix, report_dir=report_dir, lab_hook=before)
    assert r.verdict == "pass", r.reason
    m = {x.name: x for x in r.measurements}
    # measured from real timestamps, within the policy (tape-daily-30d: RPO 24 h, RTO 8 h)
    assert 0 < m["rto"].value < 120 and m["rto"].limit == 8 * 3600 and m["rto"].met
    assert 0 < m["rpo"].value < 120 and m["rpo"].limit == 24 * 3600 and m["rpo"].met
    assert m["restored_bytes"].value >= 2 * 1024 * 1024
    assert r.systems == [{"system": "portal", "security_level": 3, "target": "portal-db-01",
                          "evidence": "backup-restore", "verified": True, "backup_set": r.systems[0]["backup_set"],
                          "policy": "tape-daily-30d", "at": r.systems[0]["at"]}]
    data = rec.load(paths["json"])
    assert data["schema"] == "dcops.drill-record/1" and data["mode"] == "execute"
    events = [e["event"] for e in data["timeline"]]
    assert events.index("data set destroyed (moved to quarantine)") < events.index("restore verified (all checksums match)")
    assert "| rto | portal-db-01 |" in paths["md"].read_text()
    assert "<td>rto</td>" in paths["html"].read_text()


def test_corrupted_backup_fails_clearly_and_touches_nothing(inv, lab_prefix, report_dir):
    seen = {}

    def nightly_backup_then_corrupt(ctx):
        lab = ctx.lab
        lab.target("qlvb-db-01", "by")  # a bystander in the same lab: must not be touched
        seed_data(lab.host_dir("qlvb-db-01") / "data", 256 * 1024)
        ctx.overlay = lab.overlay()
        pb = ctx.playbook("backup-jobs.yml", {"backup_hosts": "portal-db-01"}, check=False)
        assert pb.ok, pb.failed_steps
        ctx.record.steps.clear()
        ctx.record.playbooks.clear()
        sets = list((lab.host_dir("kg-bak-01") / "tape" / "portal-db-01").iterdir())
        assert len(sets) == 1
        archive = sets[0] / "data.tar.gz"
        blob = bytearray(archive.read_bytes())
        blob[len(blob) // 2] ^= 0xFF  # one flipped byte on "tape"
        archive.write_bytes(bytes(blob))
        seen["set"] = sets[0].name
        seen["before"] = {n: tree_digest(lab.host_dir(n)) for n in ("portal-db-01", "qlvb-db-01", "kg-bak-01")}

    def inspect(ctx):
        seen["after"] = {n: tree_digest(ctx.lab.host_dir(n)) for n in ("portal-db-01", "qlvb-db-01", "kg-bak-01")}

    r, paths = run_drill(get("backup-restore"), inv, execute=True,
                         options={"targets": ["portal-db-01"], "use_existing_backup": True, "lab_data_mb": 1},
                         lab_prefix=lab_prefix, report_dir=report_dir,
                         lab_hook=nightly_backup_then_corrupt, lab_after=inspect)
    assert r.verdict == "fail"
    assert "CHECKSUM MISMATCH" in r.reason and seen["set"] in r.reason and "nothing was restored" in r.reason
    # every byte on the target, the bystander and the media server is as before the drill
    assert seen["after"] == seen["before"]
    ran = {s.name for s in r.steps if s.status != "skipped"}
    assert "Destroy the data set on the host (moved to quarantine)" not in ran
    assert not [m for m in r.measurements if m.name in ("rto", "rpo")]
    assert r.systems[0]["verified"] is False
    data = json.loads(paths["json"].read_text())
    assert data["verdict"] == "fail"
    md = paths["md"].read_text()
    assert "**FAIL**" in md and "CHECKSUM MISMATCH" in md
