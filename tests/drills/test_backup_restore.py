"""Backup-restore drill for real: sshd namespace hosts, ansible-runner over SSH, tape on the media server.

One lab for both runs: first a drill that passes (and leaves its backup set on "tape"), then
the same set with one flipped byte — the drill must fail clearly and touch nothing.
"""
import datetime as dt
import hashlib
import json
import subprocess

import pytest

from dcops.drills import backup_restore
from dcops.drills import record as rec
from dcops.drills.core import run_drill
from dcops.drills.lab import DrillLab
from dcops.drills.registry import get

pytestmark = pytest.mark.lab


def _sshd_sessions(ns: str) -> int:
    """sshd session processes (not the listener) in a namespace."""
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    n = 0
    for pid in pids:
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0]
        except FileNotFoundError:
            continue
        n += cmd.startswith(b"sshd:") and b"[listener]" not in cmd
    return n


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
        backup_restore.build_lab(dl, inv, ["portal-db-01"], {"lab_data_mb": 2, "engine": "media-server"})
        dl.target("qlvb-db-01", "by")  # a bystander: must never be touched
        backup_restore.seed_data(dl.host_dir("qlvb-db-01") / "data", 256 * 1024)
        original = tree_digest(dl.host_dir("portal-db-01") / "data")
        # the production schedule's last run, 20 h before the drill, in the media server's catalogue
        scheduled = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=20)).strftime("%Y%m%dT%H%M%S%fZ")
        (dl.host_dir("kg-bak-01") / "tape" / "portal-db-01" / scheduled).mkdir(parents=True)

        # 1. the drill: backup, destroy, restore, verify — measured, but in a lab: never "met"
        r, paths = run_drill(drill, inv, execute=True, options={"targets": ["portal-db-01"]}, lab=dl,
                             report_dir=report_dir)
        assert r.verdict == "pass", r.reason
        assert r.environment["kind"] == "lab"
        assert tree_digest(dl.host_dir("portal-db-01") / "data") == original
        m = {x.name: x for x in r.measurements}
        # tape-daily-30d: RPO 24 h, RTO 8 h. The RPO is the age of the scheduled set at the loss, not
        # of the set the drill has just written (reported apart as drill_backup_age)
        assert 20 * 3600 < m["rpo"].value < 20 * 3600 + 300 and m["rpo"].limit == 24 * 3600
        assert scheduled in m["rpo"].detail
        assert 0 < m["drill_backup_age"].value < 300 and m["drill_backup_age"].limit is None
        assert 0 < m["rto"].value < 300 and m["rto"].limit == 8 * 3600
        for x in (m["rpo"], m["rto"]):
            assert x.met is None and x.measured_in == "lab" and "not compared" in x.comparison
            assert "1:" in x.scale and "MB restored" in x.scale
        assert m["restored_bytes"].value >= 2 * 1024 * 1024
        assert r.end_state[0]["state"].startswith("restored from backup") and r.end_state[0]["ok"]
        (s,) = r.systems
        assert (s["system"], s["evidence"], s["verified"], s["policy"]) == ("portal", "backup-restore", True,
                                                                           "tape-daily-30d")
        data = rec.load(paths["json"])
        assert data["schema"] == "dcops.drill-record/2" and data["mode"] == "execute"
        events = [e["event"] for e in data["timeline"]]
        assert events.index("data set destroyed (moved to quarantine)") < events.index(
            "restore verified (all checksums match)")
        assert "| rto | portal-db-01 |" in paths["md"].read_text()
        assert "<td>rto</td>" in paths["html"].read_text()
        assert not (dl.host_dir("portal-db-01") / "drill-quarantine" / r.id).exists()

        # 2. one flipped byte on "tape", then the drill restores that set
        bset = sorted((dl.host_dir("kg-bak-01") / "tape" / "portal-db-01").iterdir())[-1]  # the drill's set
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
        assert "untouched" in r2.end_state[0]["state"] and "stopped before destroying" in r2.end_state[0]["state"]

        # 3. a good archive but a manifest that does not match: the restore fails after the data set
        # was destroyed; the original goes back and the record says where the data is
        blob[len(blob) // 2] ^= 0xFF
        archive.write_bytes(bytes(blob))
        manifest = bset / "MANIFEST.sha256"
        manifest.write_text(manifest.read_text().replace(manifest.read_text()[:8], "00000000", 1))
        r3, _ = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                          options={"targets": ["portal-db-01"], "use_existing_backup": True})
        assert r3.verdict == "fail" and "Verify every restored file" in r3.reason
        assert tree_digest(dl.host_dir("portal-db-01") / "data") == original
        (state,) = r3.end_state
        assert state["state"].startswith("the original, put back at /var/lib/dcops/data") and state["ok"]
        assert not [x for x in r3.measurements if x.name in ("rto", "rpo")]


def test_a_lab_run_is_no_compliance_evidence(inv, lab_prefix, report_dir, tmp_path):
    """A 4 MB lab restore of mail-ldap-01, with operator, approver and signature, must not make the
    level-3 mail system pass its restore-drill control (it did before: the record did not say lab)."""
    from typer.testing import CliRunner

    from dcops.cli import app
    key = tmp_path / "op"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("an.nv@kg " + " ".join(key.with_suffix(".pub").read_text().split()[:2]) + "\n")
    with DrillLab(lab_prefix) as dl:
        backup_restore.build_lab(dl, inv, ["mail-ldap-01"], {"lab_data_mb": 4, "engine": "media-server"})
        r, paths = run_drill(get("backup-restore"), inv, execute=True, options={"targets": ["mail-ldap-01"]},
                             lab=dl, report_dir=report_dir, operator="an.nv@kg", approver="binh.tt@kg",
                             sign_key=key)
    assert r.verdict == "pass", r.reason
    assert r.environment["kind"] == "lab" and paths["sig"].exists()
    data = json.loads(paths["json"].read_text())
    assert data["operator"]["name"] == "an.nv@kg" and data["approver"]["name"] == "binh.tt@kg"
    assert data["systems"][0]["verified"] is True  # the restore itself worked …
    res = CliRunner().invoke(app, ["compliance", "--json", "--drills", str(report_dir), "--allowed-signers",
                                   str(allowed), "--dr-plan", str(tmp_path / "none.json")])
    doc = json.loads(res.stdout)
    mail = next(s for s in doc["systems"] if s["name"] == "mail")
    ctl = next(c for c in mail["controls"] if c["id"] == "backup-restore-drill")
    # … but it is a rehearsal: "Thiếu bằng chứng", with the reason
    assert ctl["status"] == "missing" and "phòng thí nghiệm" in ctl["message"], ctl


def test_a_lost_session_after_the_destroy_leaves_the_data_in_quarantine_and_the_record_says_so(
        inv, lab_prefix, report_dir):
    seen = {}
    with DrillLab(lab_prefix) as dl:
        backup_restore.build_lab(dl, inv, ["portal-db-01"], {"lab_data_mb": 1, "engine": "media-server"})
        original = tree_digest(dl.host_dir("portal-db-01") / "data")

        def progress(kind, data):
            # the data set has just been moved to quarantine: the controller loses the host
            if kind == "task" and data.get("task") == "Pull the backup set from the media server" \
                    and "killed" not in seen:
                seen["sessions"] = _sshd_sessions(dl.lab.ns("t0"))
                # the listener first (no reconnect), then what is left of the sessions: stopping the listener's
                # process group may already have ended them, so they are counted before
                dl.lab.stop(dl.targets["portal-db-01"].sshd_pid)
                seen["killed"] = dl.lab.kill_sessions("t0")

        r, _ = run_drill(get("backup-restore"), inv, execute=True, options={"targets": ["portal-db-01"]}, lab=dl,
                         report_dir=report_dir, progress=progress)
        quarantine = dl.host_dir("portal-db-01") / "drill-quarantine" / r.id
        assert seen["sessions"] >= 1 and _sshd_sessions(dl.lab.ns("t0")) == 0 and r.verdict == "fail"
        (state,) = r.end_state
        assert not state["ok"] and state["state"].startswith(
            f"IN QUARANTINE at /var/lib/dcops/drill-quarantine/{r.id} on portal-db-01")
        assert f"mv /var/lib/dcops/drill-quarantine/{r.id} /var/lib/dcops/data" in state["detail"]
        # … which is where the original really is, byte for byte
        assert tree_digest(quarantine) == original
