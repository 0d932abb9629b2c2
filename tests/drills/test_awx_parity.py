"""A drill run by AWX/AAP (plain ansible-playbook) writes the same record and verdict as `dcops drill run`.

One lab (a media server over SSH), the dr-readiness drill run twice against it: through dcops (ansible-
runner) and through `ansible-playbook` in a subprocess with the same inventory and extra vars, where the
playbooks' own callback (playbooks/callback_plugins/dcops_drill_record.py) and verdict play make the
record. The two records agree field by field except times, ids, signatures and `operator.via`; both
pass the compliance verifier's hash, chain and signature checks (and are reported lab, no evidence).
"""
import copy
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from dcops import PROJECT_ROOT, paths
from dcops.compliance.evidence import chain_breaks, record_problems
from dcops.drills import readiness
from dcops.drills.core import run_drill
from dcops.drills.inventory import dynamic, static_yaml
from dcops.drills.registry import get
from dcops.drills.replay import OPTIONS_VAR, REPORT_DIR_ENV
from dcops.drills.runner import RUNNER_ENV

from .conftest import _can_lab

pytestmark = pytest.mark.lab

OPERATOR, APPROVER = "an.nv@kg", "binh.tt@kg"
TIMES = {"started", "ended", "started_at", "finished_at", "duration_s", "at", "id", "integrity"}


@pytest.fixture(scope="module")
def runs(inv, tmp_path_factory):
    """The same drill on the same lab, once through dcops and once through plain ansible-playbook."""
    if not _can_lab():
        pytest.skip("needs root and OpenSSH server (network namespaces)")
    from dcops.drills.lab import DrillLab
    tmp = tmp_path_factory.mktemp("awx")
    key = tmp / "operator"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", OPERATOR, "-f", str(key)], check=True)
    need = readiness.required(inv)
    plan = tmp / "dr.json"
    plan.write_text(json.dumps({"format": "dcops-plan/1", "stack": "dr", "systems": sorted(need), "resources": [
        {"kind": "compute.Instance", "name": v} for vms in need.values() for v in vms if v != "portal-db-02"]}))
    options = {"targets": ["kg-bak-01"], "dr_plan": str(plan), "throughput_mbps": "250", "records": str(tmp)}
    folder = tmp / "records"
    env = {"DCOPS_OPERATOR": OPERATOR, "DCOPS_APPROVER": APPROVER, "DCOPS_APPROVAL_REF": "QĐ 12/QĐ-STTTT",
           "DCOPS_SIGN_KEY": str(key)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    prefix = f"dcd{secrets.token_hex(2)}-"
    try:
        drill = get("dr-readiness")
        with DrillLab(prefix) as dl:
            readiness.build_lab(dl, inv, ["kg-bak-01"], {"lab_sets": 2})
            ours, _ = run_drill(drill, inv, execute=True, lab=dl, report_dir=folder, options=options)
            inv_file = tmp / "hosts.json"
            inv_file.write_text(json.dumps(static_yaml(dynamic(inv, dl.overlay(), lab=True))))
            extra = tmp / "extra.json"
            extra.write_text(json.dumps({"drill_media_servers": "kg-bak-01", OPTIONS_VAR: options}))
            penv = {k: v for k, v in os.environ.items() if k != RUNNER_ENV}
            penv.update(paths.as_env(), ANSIBLE_CONFIG=str(paths.PLAYBOOKS / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp / "cp"), ANSIBLE_LOCAL_TEMP=str(tmp / "at"),
                        PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
                        **{REPORT_DIR_ENV: str(folder)})
            exe = shutil.which("ansible-playbook") or str(Path(os.sys.executable).parent / "ansible-playbook")
            proc = subprocess.run(["ip", "netns", "exec", dl.control_ns, exe, "-i", str(inv_file), "-e", f"@{extra}",
                                   str(paths.PLAYBOOKS / drill.playbook)], env=penv, capture_output=True,
                                  text=True, timeout=300)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        left = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                if n.startswith(prefix)]
        for n in left:
            subprocess.run(["ip", "netns", "del", n], check=False)
    assert not left, f"namespaces left behind: {left}"
    recs = sorted(folder.glob("*.json"))
    assert len(recs) == 2, (proc.stdout[-3000:], proc.stderr[-3000:])
    loaded = [dict(json.loads(p.read_text()), _path=str(p)) for p in recs]
    mine = next(r for r in loaded if r["id"] == ours.id)
    theirs = next(r for r in loaded if r["id"] != ours.id)
    return SimpleNamespace(ours=mine, theirs=theirs, proc=proc, key=key, folder=folder)


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMES and k != "_path"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_ansible_playbook_writes_the_same_record_and_verdict_as_dcops(runs):
    ours, theirs, proc = copy.deepcopy(runs.ours), copy.deepcopy(runs.theirs), runs.proc
    assert ours["operator"]["via"] == "dcops drill run" and theirs["operator"]["via"] == "ansible-playbook"
    for r in (ours, theirs):
        r["operator"].pop("via")
    a, b = _strip(ours), _strip(theirs)
    assert sorted(a) == sorted(b)
    for key in a:  # field by field, so a difference names its field
        assert a[key] == b[key], (key, proc.stdout[-4000:], proc.stderr[-3000:])
    # the drill did something worth comparing: steps on the media server, figures, a verdict with a reason
    assert {s["name"] for s in ours["steps"]} >= {"Find the backup catalogues", "Report the media server"}
    missed = "estimated_restore of portal missed its target"
    assert ours["verdict"] == "fail" and ours["reason"].startswith(missed)
    assert "portal: 1 VM(s) not in the DR plan: portal-db-02" in [f["message"] for f in ours["findings"]]
    assert ours["environment"]["kind"] == "lab" and list(ours["lab"]["targets"]) == ["kg-bak-01"]
    # the job fails with the drill, and says why
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert "DCOPS DRILL dr-readiness: FAIL (lab)" in proc.stdout
    assert f"drill dr-readiness FAILED (lab): {missed}" in proc.stdout


def test_both_records_pass_the_compliance_verifier(runs, inv):
    allowed = runs.folder / "allowed_signers"
    allowed.write_text(f"{OPERATOR} " + " ".join(Path(f"{runs.key}.pub").read_text().split()[:2]) + "\n")
    recs = [runs.ours, runs.theirs]
    ctx = SimpleNamespace(allowed_signers=allowed, chain_breaks=chain_breaks(recs))
    assert ctx.chain_breaks == set()
    for r in recs:  # signed, chained, unaltered: only the lab keeps them from being evidence
        assert record_problems(ctx, r) == ["env_lab"], r["id"]
    first, second = sorted(recs, key=lambda r: r["started_at"])
    assert second["integrity"]["prev"] == first["integrity"]["hash"]
