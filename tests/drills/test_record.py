"""Records: where a drill ran, what its figures may be compared with, and the signed hash chain —
checked with ssh-keygen itself, not with dcops' own verifier."""
import json
import subprocess

from dcops.drills import record as rec
from dcops.drills.core import environment, label_measurements


def test_only_an_unaltered_run_is_production():
    assert environment(lab=None, lab_prefix=None, overlay=None, control_ns=None)["kind"] == "production"
    assert environment(lab=None, lab_prefix="dcdab12-", overlay=None, control_ns=None)["kind"] == "lab"
    # a targets file that only moves the connection is still not the real system
    staging = environment(lab=None, lab_prefix=None, overlay={"kg-bak-01": {"ansible_host": "192.0.2.9"}},
                          control_ns=None)
    assert staging["kind"] == "staging" and "inventory addresses" in staging["reason"]
    assert environment(lab=None, lab_prefix=None, overlay=None, control_ns="ns1")["kind"] == "staging"


def test_a_rehearsal_figure_is_never_met():
    r = rec.DrillRecord("backup-restore", "t", "execute", environment={"kind": "lab", "reason": "", "scale": ""})
    r.measurements = [rec.Measurement("rto", 12.0, "s", "x", 8 * 3600, True, scale="4.2 MB of 60 GB"),
                      rec.Measurement("rto", 9e9, "s", "y", 8 * 3600, False),
                      rec.Measurement("dr_coverage", 90.0, "%", "site", 100.0, False, measured_in="model")]
    label_measurements(r)
    lab_ok, lab_bad, model = r.measurements
    assert lab_ok.met is None and "within the production limit" in lab_ok.comparison and "4.2 MB" in lab_ok.comparison
    assert lab_bad.met is None and "beyond" in lab_bad.comparison  # not a pass, not a production failure either
    assert model.met is False and model.comparison == ""  # figures from the inventory compare everywhere
    prod = rec.DrillRecord("backup-restore", "t", "execute")
    prod.measurements = [rec.Measurement("rto", 12.0, "s", "x", 8 * 3600, True)]
    label_measurements(prod)
    assert prod.measurements[0].met is True and prod.measurements[0].measured_in == "production"


def test_records_are_chained_and_signed_for_ssh_keygen(tmp_path, monkeypatch):
    monkeypatch.delenv("DCOPS_OPERATOR", raising=False)
    key = tmp_path / "op"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    folder = tmp_path / "records"
    paths = []
    for i in range(2):
        r = rec.DrillRecord("backup-restore", "t", "execute", id=f"run-{i}", operator=rec.operator("an.nv@kg"),
                            approver=rec.approver("binh.tt@kg", "QĐ 12/QĐ-STTTT"))
        paths.append(rec.save(r, folder, key))
    first, second = (json.loads(p["json"].read_text()) for p in paths)
    assert first["integrity"]["prev"] == rec.GENESIS and second["integrity"]["prev"] == first["integrity"]["hash"]
    assert first["integrity"]["hash"] == rec.canonical_hash(first)
    assert first["operator"] == {"name": "an.nv@kg", "account": first["operator"]["account"], "via": "dcops drill run"}
    assert first["approver"] == {"name": "binh.tt@kg", "ref": "QĐ 12/QĐ-STTTT"}
    assert (folder / "CHAIN_HEAD").read_text().split() == [second["integrity"]["hash"], "run-1"]
    allowed = tmp_path / "allowed"
    allowed.write_text("an.nv@kg " + " ".join(key.with_suffix(".pub").read_text().split()[:2]) + "\n")

    def verify(path):
        with open(path, "rb") as fh:
            return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "an.nv@kg",
                                   "-n", rec.SIG_NAMESPACE, "-s", f"{path}.sig"], stdin=fh,
                                  capture_output=True).returncode
    assert verify(paths[0]["json"]) == 0
    paths[0]["json"].write_text(paths[0]["json"].read_text().replace('"pending"', '"pass"'))
    assert verify(paths[0]["json"]) != 0
    # the login account is never taken for the person
    anon = rec.DrillRecord("x", "t", "execute")
    assert anon.operator["name"] is None and "@" in anon.operator["account"]
