"""`dcops backup run` and the DR copy job against real Bacula 9.6 daemons on 127.0.0.1.

Three clients are backed up in one run; one of them does not answer (its file daemon address is a port
nobody listens on): its job fails with the director's words and the other two are backed up and reported
from the catalogue. Then the DR copy jobs copy the good jobs to the DR library (its own media type), and with
the original jobs deleted and the main library's cartridge destroyed, a restore from the DR copy verifies
against the catalogue."""
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dcops.backup import catalogue
from dcops.backup.config import Deployment, clients_of, copy_jobs, render
from dcops.backup.lab import BaculaLab, _free_port, available
from dcops.backup.restore import restore_verified
from dcops.cli import app
from dcops.model import load_inventory

needs_bacula = pytest.mark.skipif(not available(), reason="Debian's bacula-director/sd/fd/console not installed")


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


def test_dry_run_lists_the_jobs_and_runs_nothing(inv):
    res = CliRunner().invoke(app, ["backup", "run", "-c", "portal-db-01", "-c", "mail-mbox-01", "--dr-copy",
                                   "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"mode": "dry-run", "jobs": [
        {"job": "portal-db-01", "client": "portal-db-01-fd", "level": "as scheduled", "kind": "backup"},
        {"job": "mail-mbox-01", "client": "mail-mbox-01-fd", "level": "as scheduled", "kind": "backup"},
        {"job": "tape-daily-30d-full-copy-dr", "client": "", "level": "", "kind": "dr-copy"},
        {"job": "tape-daily-30d-inc-copy-dr", "client": "", "level": "", "kind": "dr-copy"},
        {"job": "tape-daily-30d-diff-copy-dr", "client": "", "level": "", "kind": "dr-copy"},
        {"job": "tape-monthly-60d-full-copy-dr", "client": "", "level": "", "kind": "dr-copy"},
        {"job": "tape-monthly-60d-inc-copy-dr", "client": "", "level": "", "kind": "dr-copy"},
        {"job": "tape-monthly-60d-diff-copy-dr", "client": "", "level": "", "kind": "dr-copy"}]}


@pytest.mark.parametrize("args, message", [
    (["-c", "kg-fw-01"], "not a VM on a tape backup policy: kg-fw-01"),
    (["--level", "weekly"], "--level 'weekly': full, incremental or differential"),
    (["--execute"], "--execute needs --bconsole-conf and --catalogue"),
])
def test_bad_input_is_refused_before_anything_runs(args, message):
    res = CliRunner().invoke(app, ["backup", "run", *args])
    assert res.exit_code == 2 and message in " ".join(res.stderr.split()), res.stderr


def test_the_dr_copy_is_declared_for_replicated_policies_only(inv, tmp_path):
    conf = render(inv, Deployment(tmp_path, dr_dir=tmp_path / "dr"), clients_of(inv))
    d, sd = conf["bacula-dir.conf"], conf["bacula-sd.conf"]
    assert d.count("  Type = Copy\n") == 6 and d.count("Selection Type = PoolUncopiedJobs") == 6
    assert "Next Pool = tape-daily-30d-dr" in d and "Media Type = LTO-8-DR" in d
    assert f'Changer Device = "{tmp_path / "dr"}/changer.conf"' in sd and "Media Type = LTO-8-DR" in sd
    replicated = [p for p in inv.storage.backup_policies if p.replicate_to_dr]
    assert copy_jobs(replicated) == ["tape-daily-30d-full-copy-dr", "tape-daily-30d-inc-copy-dr",
                                     "tape-daily-30d-diff-copy-dr", "tape-monthly-60d-full-copy-dr",
                                     "tape-monthly-60d-inc-copy-dr", "tape-monthly-60d-diff-copy-dr"]


@pytest.mark.slow
@needs_bacula
def test_run_survives_a_dead_client_then_the_dr_copy_restores_when_the_main_library_is_gone(inv, tmp_path):
    paths = {}
    for vm in ("portal-db-01", "qlvb-db-01", "mail-mbox-01"):
        paths[vm] = tmp_path / vm
        paths[vm].mkdir()
        for i in range(3):
            (paths[vm] / f"{vm}-{i}.dat").write_bytes(os.urandom(200_000 + i))
    lab = BaculaLab(inv, {k: [str(v)] for k, v in paths.items()}, fd_connect_timeout="5 seconds")
    dead = next(c for c in lab.clients if c.name == "qlvb-db-01")
    dead.port = _free_port()  # the VM is down: nothing listens there
    with lab:
        lab.label_library()
        cmd = [sys.executable, "-m", "dcops.cli", "backup", "run", "--execute", "--json", "--dr-copy",
               "--bconsole-conf", str(lab.conf / "bconsole.conf"), "--catalogue", str(lab.workdir / "dir" / "bacula.db"),
               "-c", "portal-db-01", "-c", "qlvb-db-01", "-c", "mail-mbox-01", "--level", "full"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})
        assert proc.returncode == 1, proc.stderr
        jobs = {j["job"]: j for j in json.loads(proc.stdout)["jobs"]}
        assert list(jobs) == ["portal-db-01", "qlvb-db-01", "mail-mbox-01", "tape-daily-30d-full-copy-dr",
                              "tape-daily-30d-inc-copy-dr", "tape-daily-30d-diff-copy-dr",
                              "tape-monthly-60d-full-copy-dr", "tape-monthly-60d-inc-copy-dr",
                              "tape-monthly-60d-diff-copy-dr"]
        for vm in ("portal-db-01", "mail-mbox-01"):
            j = jobs[vm]
            assert (j["ok"], j["status"], j["level"], j["files"]) == (True, "T", "full", 4), j
            assert j["bytes"] == sum(200_000 + i for i in range(3))
        bad = jobs["qlvb-db-01"]
        assert bad["ok"] is False and bad["status"] in ("f", "E") and bad["bytes"] == 0
        assert "qlvb-db-01" in bad["error"] and "Termination:" in bad["error"], bad
        assert all(jobs[j]["ok"] for j in jobs if j.endswith("-copy-dr")), jobs

        with lab.catalogue() as con:
            copies = catalogue.jobs(con, types=("C",))
            dr_vols = con.execute("SELECT Media.VolumeName AS v, Media.VolBytes AS b FROM Media WHERE "
                                  "MediaType = 'LTO-8-DR' AND VolBytes > 1000").fetchall()
        # each good backup copied once, into its policy's DR pool, on the DR library's cartridges (a copy's
        # JobBytes counts the volume records it wrote, a little more than the files' bytes)
        assert sorted((c.client, c.pool, c.files, c.good) for c in copies) == [
            ("mail-mbox-01-fd", "tape-monthly-60d-dr", 4, True), ("portal-db-01-fd", "tape-daily-30d-dr", 4, True)]
        assert all(c.bytes >= jobs[c.client[:-3]]["bytes"] for c in copies)
        assert {r["v"][:2] for r in dr_vols} == {"DR"}
        _metrics_and_alerts(tmp_path, lab, jobs)
        _capacity(lab, jobs)
        # the next night, a file changed and a differential run by hand: it lands in the policy's differential
        # pool, and only the new job is copied, never one already copied (PoolUncopiedJobs)
        changed = paths["portal-db-01"] / "portal-db-01-1.dat"
        changed.write_bytes(os.urandom(300_000))
        again = subprocess.run(cmd[:cmd.index("-c")] + ["-c", "portal-db-01", "--level", "differential"],
                               capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stdout
        with lab.catalogue() as con:
            diff = catalogue.jobs(con, client="portal-db-01-fd")[-1]
            assert (diff.level, diff.pool, diff.good) == ("differential", "tape-daily-30d-diff", True)
            assert sorted((c.client, c.level) for c in catalogue.jobs(con, types=("C",))) == [
                ("mail-mbox-01-fd", "full"), ("portal-db-01-fd", "differential"), ("portal-db-01-fd", "full")]

        # the main site's library is lost: the original jobs go, its cartridges are unreadable
        with lab.catalogue() as con:
            originals = [j.job_id for j in catalogue.jobs(con, client="portal-db-01-fd")]
        lab.bconsole("\n".join(f"delete jobid={i}\nyes" for i in originals))
        for slot in (lab.workdir / "tape").glob("slot*"):
            slot.write_bytes(b"\0" * slot.stat().st_size)
        with lab.catalogue() as con:  # Bacula promotes the copy to the backup of record
            assert [(j.type, j.level, j.pool) for j in catalogue.jobs(con, client="portal-db-01-fd")] == [
                ("B", "full", "tape-daily-30d-dr"), ("B", "differential", "tape-daily-30d-dr")]
        res = restore_verified(lab, "portal-db-01-fd", tmp_path / "from-dr")  # the full, then the differential
        assert res.ok is True and res.files_checked == 3, res.reason
        assert (tmp_path / "from-dr" / str(changed).lstrip("/")).read_bytes() == changed.read_bytes()


def _metrics_and_alerts(tmp_path, lab, jobs):
    """The catalogue as metrics (textfile, linted by promtool), and the alerts Prometheus derives from them."""
    from dcops.backup.metrics import configured_jobs, samples
    prom = tmp_path / "backup.prom"
    res = CliRunner().invoke(app, ["backup", "metrics", "--catalogue", str(lab.workdir / "dir" / "bacula.db"),
                                   "--textfile", str(prom), "--json"])
    assert res.exit_code == 0, res.output
    got = {(s["metric"], s["labels"].get("job") or s["labels"].get("library"), s["labels"].get("status")): s["value"]
           for s in json.loads(res.stdout)}
    lint = subprocess.run(["promtool", "check", "metrics"], input=prom.read_text(), capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert got[("dcops_backup_last_job_ok", "portal-db-01", None)] == 1
    assert got[("dcops_backup_last_job_ok", "qlvb-db-01", None)] == 0
    assert got[("dcops_backup_failed_jobs_24h", "qlvb-db-01", None)] == 1
    assert got[("dcops_backup_never_succeeded", "qlvb-db-01", None)] == 1
    assert got[("dcops_backup_never_succeeded", "mail-mbox-01", None)] == 0
    assert got[("dcops_backup_last_success_bytes", "mail-mbox-01", None)] == jobs["mail-mbox-01"]["bytes"]
    assert ("dcops_backup_last_success_timestamp_seconds", "qlvb-db-01", None) not in got
    assert got[("dcops_backup_rpo_seconds", "mail-mbox-01", None)] == 24 * 3600
    assert got[("dcops_backup_library_volumes", "tape-01", "Append")] + got.get(
        ("dcops_backup_library_volumes", "tape-01", "Full"), 0) == 10
    assert got[("dcops_backup_library_capacity_bytes", "tape-01", None)] == 10 * 12_000_000  # 12 TB × 10⁻⁶
    with lab.catalogue() as con:
        items = samples(con, configured_jobs([c for c in lab.clients]))
        used = con.execute("SELECT SUM(VolBytes) FROM Media JOIN Storage USING (StorageId) "
                           "WHERE Storage.Name = 'tape-01'").fetchone()[0]
    assert got[("dcops_backup_library_used_bytes", "tape-01", None)] == used > 2 * 600_000
    # Bacula's own SchedTime/StartTime rows: every job started (the failed one too), so no schedule is missed
    # now; two nights later with no job since, every job's schedule is
    import datetime as dt

    from dcops.backup.catalogue import local_tz, started
    names = {c.name for c in lab.clients}
    with lab.catalogue() as con:
        assert set(started(con)) == names
        later = samples(con, configured_jobs(lab.clients), now=dt.datetime.now(local_tz()) + dt.timedelta(days=2))
    assert {j: got[("dcops_backup_schedule_missed", j, None)] for j in names} == {j: 0 for j in names}
    assert {s.labels["job"]: s.value for s in later if s.name == "schedule_missed"} == {j: 1 for j in names}
    stamps = [s.value for s in items if s.name == "last_success_timestamp_seconds"]
    copies = [s.value for s in items if s.name == "last_dr_copy_timestamp_seconds"]
    assert len(stamps) == 2 and len(copies) == 2
    t0 = min(stamps) - 600
    newest = max(stamps) - t0
    lab_of = {c.name: {"job": c.name, "client": f"{c.name}-fd", "policy": c.policy.name} for c in lab.clients}
    crit = [{"labels": lab_of["qlvb-db-01"], "severity": "critical"}]
    late = [{"labels": lab_of[j], "severity": "critical"} for j in ("mail-mbox-01", "portal-db-01")]
    proc = _promtool_test(tmp_path, items, t0, [
        (newest + 3600, "BackupJobFailed", crit),
        (newest + 3600, "BackupRpoMissed", []),  # an hour after the backups: within the 24 h RPO
        (newest + 3600, "BackupNeverSucceeded", [{"labels": lab_of["qlvb-db-01"], "severity": "warning"}]),
        (newest + 3600, "BackupDrCopyStale", []),  # the copies ran
        (newest + 3600, "TapeLibraryNearlyFull", []),
        (newest + 25 * 3600, "BackupRpoMissed", late),  # a day and an hour later with no backup
    ])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _capacity(lab, jobs):
    """Planned (inventory) beside measured (catalogue); the growth verdict flips with the window."""
    db = str(lab.workdir / "dir" / "bacula.db")
    res = CliRunner().invoke(app, ["backup", "capacity", "--catalogue", db, "--json"])
    assert res.exit_code == 0, res.output
    libs = {x["library"]: x for x in json.loads(res.stdout)["libraries"]}
    assert sorted(libs) == ["tape-01", "tape-01-dr"]
    main, dr = libs["tape-01"], libs["tape-01-dr"]
    with lab.catalogue() as con:
        used = con.execute("SELECT SUM(VolBytes) FROM Media JOIN Storage USING (StorageId) "
                           "WHERE Storage.Name = 'tape-01'").fetchone()[0]
    good = jobs["portal-db-01"]["bytes"] + jobs["mail-mbox-01"]["bytes"]
    assert (main["measured_used_bytes"], main["measured_capacity_bytes"], main["volumes"]) == (used, 120_000_000, 10)
    assert main["written_bytes_per_day"] == round(good / 7) and main["longest_retention_days"] == 60
    assert main["exhausts_before_recycling"] is False and main["planned_bytes"] > 0
    assert main["declared_capacity_bytes"] == 60 * 10**12 and dr["planned_bytes"] is None
    assert dr["written_bytes_per_day"] >= round(good / 7)  # the copies, with their record overhead
    # the same catalogue, growth measured over the last quarter hour: the library would fill within the day
    fast = CliRunner().invoke(app, ["backup", "capacity", "--catalogue", db, "--window-days", "0.01", "--json"])
    assert fast.exit_code == 1
    main = {x["library"]: x for x in json.loads(fast.stdout)["libraries"]}["tape-01"]
    assert main["exhausts_before_recycling"] is True and main["days_to_full"] < 60
    # `dcops capacity` itself: the inventory's rows, then the same libraries measured, and the same verdict
    top = CliRunner().invoke(app, ["capacity", "--catalogue", db, "--window-days", "0.01", "--json"])
    assert top.exit_code == 1, top.output
    doc = json.loads(top.stdout)
    assert doc["tape"]["name"] == "Tape (retention sets)" and doc["tape"]["supply"] == 60
    assert [x["library"] for x in doc["tape_measured"]["libraries"]] == ["tape-01", "tape-01-dr"]
    assert doc["tape_measured"]["libraries"][0]["exhausts_before_recycling"] is True
    assert doc["tape_measured"]["libraries"][0]["planned_bytes"] == main["planned_bytes"]
    text = CliRunner().invoke(app, ["capacity", "--catalogue", db, "--window-days", "0.01"])
    assert text.exit_code == 1
    line = next(ln for ln in text.stdout.splitlines() if ln.strip().startswith("tape-01: planned"))
    assert line.endswith("EXHAUSTS BEFORE RETENTION RECYCLES") and "of 60 TB; measured " in line, line
    assert "a tape library fills at the measured growth before retention recycles" in text.output
    calm = CliRunner().invoke(app, ["capacity", "--catalogue", db, "--json"])
    assert calm.exit_code == 0 and not any(x["exhausts_before_recycling"]
                                           for x in json.loads(calm.stdout)["tape_measured"]["libraries"])


@pytest.mark.parametrize("args, code, message", [
    (["--catalogue", "/nonexistent/bacula.db"], 1, "no catalogue at /nonexistent/bacula.db"),
    (["--catalogue", "/nonexistent/bacula.db", "--window-days", "0"], 2, "--window-days must be positive"),
])
def test_dcops_capacity_refuses_a_catalogue_it_cannot_read(args, code, message):
    res = CliRunner().invoke(app, ["capacity", *args])
    assert res.exit_code == code and message in res.output, res.output


def _rule_file(tmp_path):
    from dcops.backup.metrics import rules
    path = tmp_path / "backup-rules.json"
    path.write_text(json.dumps(rules()))
    return path


def _promtool_test(tmp_path, samples, t0: float, cases: list[tuple[float, str, list[dict]]]):
    from dcops.backup.metrics import PREFIX, rules
    summaries = {r["alert"]: r["annotations"]["summary"] for r in rules()["groups"][0]["rules"]}
    last = max(at for at, _, _ in cases)
    n = int(last // 60) + 2
    series = []
    for s in samples:
        v = s.value - t0 if s.name.endswith("timestamp_seconds") else s.value
        labels = ",".join(f'{k}="{v2}"' for k, v2 in s.labels.items())
        series.append({"series": f"{PREFIX}{s.name}{{{labels}}}", "values": f"{v}+0x{n}"})
    tests = [{"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": f"{int(at)}s", "alertname": name, "exp_alerts": [
            {"exp_labels": {**lab, "severity": sev},
             "exp_annotations": {"summary": summaries[name].replace("{{ $labels.job }}", lab.get("job", ""))
                                 .replace("{{ $labels.library }}", lab.get("library", ""))}}
            for lab, sev in [(e["labels"], e["severity"]) for e in expected]]}
        for at, name, expected in cases]}]
    spec = tmp_path / "backup-rules-test.json"
    spec.write_text(json.dumps({"rule_files": [str(_rule_file(tmp_path))], "evaluation_interval": "1m",
                                "tests": tests}))
    return subprocess.run(["promtool", "test", "rules", str(spec)], capture_output=True, text=True, timeout=300)


def test_alert_rules_fire_exactly_when_they_should_and_a_wrong_expectation_fails(tmp_path):
    """Without daemons: hand-made samples through Prometheus's engine; the harness can fail."""
    from dcops.backup.metrics import Sample
    lab = {"job": "portal-db-01", "client": "portal-db-01-fd", "policy": "tape-daily-30d"}
    items = [Sample("last_success_timestamp_seconds", lab, 600), Sample("rpo_seconds", lab, 86400),
             Sample("last_dr_copy_timestamp_seconds", lab, 600 - 2 * 86400), Sample("last_job_ok", lab, 1),
             Sample("library_used_bytes", {"library": "tape-01"}, 90), Sample("library_capacity_bytes",
                                                                            {"library": "tape-01"}, 100),
             Sample("schedule_missed", lab, 1)]
    stale = [{"labels": lab, "severity": "warning"}]
    full = [{"labels": {"library": "tape-01"}, "severity": "warning"}]
    ok = _promtool_test(tmp_path, items, 0, [(4000, "BackupDrCopyStale", stale), (4000, "TapeLibraryNearlyFull", full),
                                             (4000, "BackupJobFailed", []), (4000, "BackupRpoMissed", []),
                                             (60, "BackupScheduleMissed", [{"labels": lab, "severity": "critical"}])])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = _promtool_test(tmp_path, items, 0, [(4000, "BackupRpoMissed", [{"labels": lab, "severity": "critical"}])])
    assert wrong.returncode == 1 and "BackupRpoMissed" in wrong.stdout + wrong.stderr
