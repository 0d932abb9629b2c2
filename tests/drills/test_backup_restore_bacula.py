"""The backup-restore drill through real Bacula (Debian's 9.6 director, storage daemon with the disk-based
virtual autochanger, file daemon on 127.0.0.1) in a namespace lab: RPO from the catalogue's job that ran
before the drill, RTO from the real restore, every file checked against the catalogue's SHA-1; then a
cartridge missing from the library, then one with flipped bytes in the drill's job, fail the drill clearly
(the library's own slot list; Bacula's words) and nothing on the target changes. A lab run stays a rehearsal
for compliance."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dcops.backup.lab import available
from dcops.drills import backup_restore, bacula_restore
from dcops.drills.core import run_drill
from dcops.drills.lab import DrillLab
from dcops.drills.registry import get

from .test_backup_restore import tree_digest

needs_bacula = pytest.mark.skipif(not available(), reason="Debian's bacula-director/sd/fd/console not installed")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _corrupt_job(bl, job_id: int) -> str:
    """Flip a byte every 16 KiB of the volume from where `job_id` starts (JobMedia's address) to its end."""
    with bl.catalogue() as con:
        row = con.execute("SELECT Media.VolumeName AS vol, Media.Slot AS slot, JobMedia.StartFile AS f, "
                          "JobMedia.StartBlock AS b FROM JobMedia JOIN Media USING (MediaId) WHERE JobId = ? "
                          "ORDER BY JobMediaId LIMIT 1", (job_id,)).fetchone()
    path = bl.workdir / "tape" / f"slot{row['slot']}"
    blob = bytearray(path.read_bytes())
    for k in range((int(row["f"]) << 32 | int(row["b"])) + 4096, len(blob), 16384):
        blob[k] ^= 0xFF
    path.write_bytes(bytes(blob))
    return row["vol"]


@pytest.mark.lab
@pytest.mark.slow
@needs_bacula
def test_drill_restores_through_bacula_and_a_corrupted_volume_fails_touching_nothing(inv, lab_prefix, report_dir,
                                                                                     tmp_path):
    from typer.testing import CliRunner

    from dcops.cli import app
    drill = get("backup-restore")
    with DrillLab(lab_prefix) as dl:
        backup_restore.build_lab(dl, inv, ["portal-db-01"], {"lab_data_mb": 2})
        bl = dl.services["bacula"]
        pids = [p.pid for p in bl.procs.values()]
        assert len(pids) == 3 and all(map(_alive, pids))
        data = dl.host_dir("portal-db-01") / "data"
        original = tree_digest(data)
        # the schedule's last run, before the drill: a real job in the catalogue
        scheduled = bacula_restore.backup(bl, "portal-db-01")
        assert scheduled.good and scheduled.level == "full" and scheduled.files == 19  # 17 files, 2 folders

        r, paths = run_drill(drill, inv, execute=True, options={"targets": ["portal-db-01"]}, lab=dl,
                             report_dir=report_dir)
        assert r.verdict == "pass", r.reason
        assert r.details["engine"] == "bacula" and r.details["director"]["version"].startswith("9.6")
        assert tree_digest(data) == original
        m = {x.name: x for x in r.measurements}
        assert set(m) == {"rpo", "drill_backup_age", "rto", "restored_bytes", "restored_files_verified",
                          "restore_throughput"}
        assert f"JobId {scheduled.job_id}," in m["rpo"].detail and 0 < m["rpo"].value < 600
        assert m["rpo"].value > m["drill_backup_age"].value > 0  # the drill's own job is newer, and apart
        assert f"JobId {scheduled.job_id})" not in m["drill_backup_age"].detail
        assert m["restored_files_verified"].value == 17
        assert m["restored_bytes"].value >= 2 * 1024 * 1024 and 0 < m["rto"].value < 600
        for x in (m["rpo"], m["rto"]):  # a lab figure is never compared with the production limit
            assert x.met is None and x.measured_in == "lab" and "MB restored" in x.scale
        assert [(s.name, s.status) for s in r.steps] == [(bacula_restore.STEP_RESTORE, "pass"),
                                                         (bacula_restore.STEP_SWAP, "pass")]
        (state,) = r.end_state
        assert state["ok"] is True and state["state"].startswith("restored through Bacula")
        (s,) = r.systems
        assert (s["engine"], s["verified"], s["evidence"]) == ("bacula", True, "backup-restore")
        assert not (data.parent / "drill-quarantine" / r.id).exists()
        assert not (bl.workdir / "restore" / r.id).exists()
        # a lab run is a rehearsal: the compliance report does not count it
        res = CliRunner().invoke(app, ["compliance", "--json", "--drills", str(report_dir),
                                       "--dr-plan", str(tmp_path / "none.json")])
        portal = next(x for x in json.loads(res.stdout)["systems"] if x["name"] == "portal")
        ctl = next(c for c in portal["controls"] if c["id"] == "backup-restore-drill")
        assert ctl["status"] == "missing" and "phòng thí nghiệm" in ctl["message"], ctl

        # the cartridge the restore needs leaves the library (taken out, never returned from the vault): the
        # autochanger no longer reports its barcode and its slot is empty; the drill says so and touches nothing
        with bl.catalogue() as con:
            newest = max(j.job_id for j in bacula_restore.catalogue.jobs(con, client="portal-db-01-fd"))
            vol = con.execute("SELECT Media.VolumeName AS v, Media.Slot AS s FROM JobMedia JOIN Media USING (MediaId) "
                              "WHERE JobId = ?", (newest,)).fetchone()
            restores = con.execute("SELECT COUNT(*) FROM Job WHERE Type = 'R'").fetchone()[0]
        tape = bl.workdir / "tape"
        barcodes = (tape / "barcodes").read_text()
        (tape / "barcodes").write_text("".join(ln + "\n" for ln in barcodes.splitlines()
                                               if not ln.startswith(f"{vol['s']}:")))
        (tape / f"slot{vol['s']}").rename(tmp_path / "out-of-the-library")
        before = tree_digest(dl.host_dir("portal-db-01"))
        r3, paths3 = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                               options={"targets": ["portal-db-01"], "use_existing_backup": True})
        magazine = 1 if vol["s"] <= 5 else 2  # storage.yaml: 10 slots in 2 magazines
        want = (f"volume {vol['v']} (JobId {newest}, slot {vol['s']}, magazine {magazine} in the catalogue) is not "
                f"in the library {bl.tape.name}: its autochanger does not report it")
        assert (r3.verdict, r3.reason) == ("fail", f"{bacula_restore.STEP_RESTORE} on portal-db-01: restore failed: "
                                                   f"{want} (0 file(s) checked)")
        assert tree_digest(dl.host_dir("portal-db-01")) == before
        assert [(x.name, x.status) for x in r3.steps] == [(bacula_restore.STEP_RESTORE, "fail")]
        assert r3.measurements == [] and r3.systems[0]["verified"] is False
        assert r3.end_state[0]["state"].startswith(f"untouched at {data} (the restore failed verification")
        assert not (bl.workdir / "restore" / r3.id).exists()
        with bl.catalogue() as con:  # no restore job was started
            assert con.execute("SELECT COUNT(*) FROM Job WHERE Type = 'R'").fetchone()[0] == restores
        assert want in paths3["md"].read_text()
        (tmp_path / "out-of-the-library").rename(tape / f"slot{vol['s']}")  # back in its slot
        (tape / "barcodes").write_text(barcodes)

        # the cartridge holding the drill's job goes bad: the next drill restores that job
        with bl.catalogue() as con:
            newest = max(j.job_id for j in bacula_restore.catalogue.jobs(con, client="portal-db-01-fd"))
        _corrupt_job(bl, newest)
        before = tree_digest(dl.host_dir("portal-db-01"))
        r2, paths2 = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                               options={"targets": ["portal-db-01"], "use_existing_backup": True})
        assert r2.verdict == "fail" and "Block checksum mismatch" in r2.reason, r2.reason
        assert r2.reason.startswith(f"{bacula_restore.STEP_RESTORE} on portal-db-01: restore failed:")
        assert tree_digest(dl.host_dir("portal-db-01")) == before
        assert [(x.name, x.status) for x in r2.steps] == [(bacula_restore.STEP_RESTORE, "fail")]
        assert r2.measurements == [] and r2.systems[0]["verified"] is False
        (state,) = r2.end_state
        assert state["state"].startswith(f"untouched at {data} (the restore failed verification")
        assert not (bl.workdir / "restore" / r2.id).exists()
        assert "Block checksum mismatch" in paths2["md"].read_text()
    assert not any(map(_alive, pids))  # the lab's teardown stopped the daemons


def test_engine_bacula_without_the_lab_s_director_is_refused(inv, report_dir):
    r, _ = run_drill(get("backup-restore"), inv, execute=True, report_dir=report_dir,
                     options={"targets": ["portal-db-01"], "engine": "bacula"})
    assert r.verdict == "fail" and r.reason.startswith("engine=bacula restores through the lab's Bacula")
    assert r.steps == [] and r.playbooks == []


def test_an_unknown_engine_is_refused(inv, report_dir):
    r, _ = run_drill(get("backup-restore"), inv, execute=False, report_dir=report_dir,
                     options={"targets": ["portal-db-01"], "engine": "netbackup"})
    assert r.verdict == "fail" and r.reason == "engine 'netbackup': one of bacula, media-server"


def _bacula_pids(lab_prefix: str) -> set[int]:
    """This lab's Bacula daemons: their configuration lives in the lab's folder (/tmp/<lab>-…), so daemons of a
    demo or a test running beside this one are not counted."""
    out = subprocess.run(["pgrep", "-x", "bacula-dir|bacula-sd|bacula-fd"], capture_output=True, text=True).stdout
    mine = set()
    for pid in out.split():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended meanwhile
        if f"{tempfile.gettempdir()}/{lab_prefix}" in cmd:
            mine.add(int(pid))
    return mine


@pytest.mark.lab
@pytest.mark.slow
@needs_bacula
def test_the_cli_lab_run_restores_through_bacula_and_leaves_nothing_running(lab_prefix, tmp_path):
    assert _bacula_pids(lab_prefix) == set()
    proc = subprocess.run([sys.executable, "-m", "dcops.cli", "drill", "run", "backup-restore", "--lab", "--lab-name",
                           lab_prefix.rstrip("-"), "--execute", "-t", "portal-db-01", "-o", "lab_data_mb=1",
                           "--report", str(tmp_path), "--json"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = json.loads(proc.stdout)
    assert (rec["verdict"], rec["details"]["engine"], rec["environment"]["kind"]) == ("pass", "bacula", "lab")
    assert [s["status"] for s in rec["steps"]] == ["pass", "pass"]
    assert _bacula_pids(lab_prefix) == set()  # the lab's director, storage and file daemons were stopped
