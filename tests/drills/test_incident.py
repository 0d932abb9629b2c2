"""Incident-response drill in a namespace lab with real components: sshd and a service on the VM, nftables
isolation checked with real connections, evidence over SSH, the restore through Bacula 9.6 verified against the
catalogue. A restore that fails leaves the VM isolated and its compromised data set where it was."""
import hashlib

import pytest

from dcops.backup.lab import available
from dcops.drills import bacula_restore, incident
from dcops.drills.core import run_drill
from dcops.drills.lab import DrillLab
from dcops.drills.registry import get

from .test_backup_restore import tree_digest
from .test_backup_restore_bacula import _corrupt_job

STEPS_OK = [
    ("A good backup from before the incident is in the catalogue", "pass"),
    ("The VM's service is reachable before the incident", "pass"),
    ("Triage: the data set differs from the last good backup's catalogue digests", "pass"),
    ("Isolate the VM (service blocked, forensic SSH still open)", "pass"),
    ("Collect evidence over the forensic channel", "pass"),
    (bacula_restore.STEP_RESTORE, "pass"),
    (bacula_restore.STEP_SWAP, "pass"),
    ("Lift the isolation: the service is reachable again", "pass"),
]


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.skipif(not available(), reason="Debian's bacula-director/sd/fd/console not installed")
def test_incident_is_contained_evidenced_restored_and_a_failed_restore_keeps_the_vm_isolated(inv, lab_prefix,
                                                                                            report_dir):
    drill = get("incident-response")
    with DrillLab(lab_prefix) as dl:
        incident.build_lab(dl, inv, ["portal-db-01"], {})
        data = dl.host_dir("portal-db-01") / "data"
        clean = tree_digest(data)
        r, paths = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                             options={"targets": ["portal-db-01"], "participants": "an.nv@kg, binh.tt@kg"})
        assert r.verdict == "pass", r.reason
        assert [(s.name, s.status) for s in r.steps] == STEPS_OK
        assert r.details["participants"] == ["an.nv@kg", "binh.tt@kg"]
        assert [p.rsplit("/", 1)[-1] for p in r.details["integrity"]["unexpected"]] == [".sess-7f3a.php"]
        assert [p.rsplit("/", 1)[-1] for p in r.details["integrity"]["changed"]] == ["part-000.dmp"]
        m = [(x.name, x.value) for x in r.measurements]
        assert [n for n, _ in m] == ["time_to_isolate", "time_to_evidence", "time_to_restore", "time_to_recover",
                                     "restored_files_verified"]
        assert 0 < m[0][1] <= m[1][1] <= m[2][1] <= m[3][1] < 600 and m[4][1] == 17
        assert all(x.measured_in == "lab" for x in r.measurements)
        # the data set is the clean backup again, the intruder's files kept as evidence in quarantine
        assert tree_digest(data) == clean
        kept = data.parent / "incident-quarantine" / r.id
        assert (kept / incident.PLANTED).is_file()
        (art,) = r.artefacts
        body = (report_dir / f"{r.id}.evidence.txt").read_bytes()
        assert art["sha256"] == hashlib.sha256(body).hexdigest() and incident.PLANTED.encode() in body
        assert b"table inet dcops_isolation" in body
        assert [(e["what"], e["state"], e["ok"]) for e in r.end_state] == [
            ("compromised data set", f"kept as evidence in quarantine at {kept}", True),
            ("network isolation", "lifted; service reachable", True)]
        assert incident.TABLE not in dl.lab.ruleset("vm") and incident._reachable(dl, "portal-db-01")
        assert r.systems[0]["evidence"] == "incident-response" and r.systems[0]["verified"] is True
        assert r.environment["kind"] == "lab"

        # the last good backup's cartridge is bad: the VM must stay isolated, its data set as the intruder left it
        bl = dl.services["bacula"]
        with bl.catalogue() as con:
            newest = max(j.job_id for j in bacula_restore.catalogue.jobs(con, client="portal-db-01-fd"))
        _corrupt_job(bl, newest)
        r2, _ = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                          options={"targets": ["portal-db-01"]})
        assert r2.verdict == "fail" and "Block checksum mismatch" in r2.reason, r2.reason
        assert [s.status for s in r2.steps] == ["pass"] * 5 + ["fail"]
        assert (data / incident.PLANTED).is_file()  # untouched: the compromised set stays for the responders
        states = {e["what"]: e for e in r2.end_state}
        assert states["network isolation"]["ok"] is False
        assert states["network isolation"]["state"] == "STILL ISOLATED: table inet dcops_isolation on portal-db-01"
        assert states["data set"]["ok"] is False and "untouched" in states["data set"]["state"]
        assert incident.TABLE in dl.lab.ruleset("vm") and not incident._reachable(dl, "portal-db-01")
        assert [x.name for x in r2.measurements] == []
        assert any("no participants named" in f["message"] for f in r2.findings)


def test_incident_drill_refuses_without_a_lab_and_more_than_one_vm(inv, report_dir):
    r, _ = run_drill(get("incident-response"), inv, execute=True, report_dir=report_dir,
                     options={"targets": ["portal-db-01"]})
    assert r.verdict == "fail" and r.reason.startswith("incident-response runs in a lab")
    r, _ = run_drill(get("incident-response"), inv, execute=True, report_dir=report_dir,
                     options={"targets": ["portal-db-01", "mail-ldap-01"]})
    assert r.verdict == "fail" and r.reason == "incident-response drills one VM at a time"
    r, _ = run_drill(get("incident-response"), inv, execute=True, report_dir=report_dir,
                     options={"targets": ["qlvb-db-02"]})
    assert r.verdict == "fail" and "not marked drill_enabled" in r.reason
