"""Backup-restore drill for real: sshd namespace hosts, ansible-runner over SSH, tape on the media server.

One lab for both runs: first a drill that passes (and leaves its backup set on "tape"), then
the same set with one flipped byte — the drill must fail clearly and touch nothing.
"""
import hashlib
import json

import pytest

from dcops.drills import backup_restore
from dcops.drills import record as rec
from dcops.drills.core import run_drill
from dcops.drills.lab import DrillLab
from dcops.drills.registry import get

pytestmark = pytest.mark.lab


def tree_digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_restore_drill_passes_then_a_corrupted_backup_fails_and_touches_nothing(inv, lab_prefix, report_dir):
    drill = get("backup-restore")
    hosts = ("portal-db-01", "qlvb-db-01", "kg-bak-01")
    with DrillLab(lab_prefix) as dl:
        backup_restore.build_lab(dl, inv, ["portal-db-01"], {"lab_data_mb": 2})
        dl.target("qlvb-db-01", "by")  # a bystander: must never be touched
        backup_restore.seed_data(dl.host_dir("qlvb-db-01") / "data", 256 * 1024)
        original = tree_digest(dl.host_dir("portal-db-01") / "data")

        # 1. the drill: backup, destroy, restore, verify — measured against the policy
        r, paths = run_drill(drill, inv, execute=True, options={"targets": ["portal-db-01"]}, lab=dl,
                             report_dir=report_dir)
        assert r.verdict == "pass", r.reason
        assert tree_digest(dl.host_dir("portal-db-01") / "data") == original
        m = {x.name: x for x in r.measurements}
        # tape-daily-30d: RPO 24 h, RTO 8 h; the measured values come from real timestamps
        assert 0 < m["rto"].value < 300 and m["rto"].limit == 8 * 3600 and m["rto"].met
        assert 0 < m["rpo"].value < 300 and m["rpo"].limit == 24 * 3600 and m["rpo"].met
        assert m["restored_bytes"].value >= 2 * 1024 * 1024
        (s,) = r.systems
        assert (s["system"], s["evidence"], s["verified"], s["policy"]) == ("portal", "backup-restore", True,
                                                                           "tape-daily-30d")
        data = rec.load(paths["json"])
        assert data["schema"] == "dcops.drill-record/1" and data["mode"] == "execute"
        events = [e["event"] for e in data["timeline"]]
        assert events.index("data set destroyed (moved to quarantine)") < events.index(
            "restore verified (all checksums match)")
        assert "| rto | portal-db-01 |" in paths["md"].read_text()
        assert "<td>rto</td>" in paths["html"].read_text()
        assert not (dl.host_dir("portal-db-01") / "drill-quarantine" / r.id).exists()

        # 2. one flipped byte on "tape", then the drill restores that set
        (bset,) = list((dl.host_dir("kg-bak-01") / "tape" / "portal-db-01").iterdir())
        archive = bset / "data.tar.gz"
        blob = bytearray(archive.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        archive.write_bytes(bytes(blob))
        before = {n: tree_digest(dl.host_dir(n)) for n in hosts}
        r2, paths2 = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                               options={"targets": ["portal-db-01"], "use_existing_backup": True})
        assert r2.verdict == "fail"
        assert "CHECKSUM MISMATCH" in r2.reason and bset.name in r2.reason and "nothing was restored" in r2.reason
        # every byte on the target, the bystander and the media server is as before
        assert {n: tree_digest(dl.host_dir(n)) for n in hosts} == before
        ran = {s.name for s in r2.steps if s.status != "skipped"}
        assert "Destroy the data set on the host (moved to quarantine)" not in ran
        assert not [x for x in r2.measurements if x.name in ("rto", "rpo")]
        assert r2.systems[0]["verified"] is False
        assert json.loads(paths2["json"].read_text())["verdict"] == "fail"
        md = paths2["md"].read_text()
        assert "**FAIL**" in md and "CHECKSUM MISMATCH" in md
