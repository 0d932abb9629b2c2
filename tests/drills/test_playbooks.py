"""The playbooks: lint-clean offline, syntax-valid, and fed by the model's inventory only."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from dcops import PROJECT_ROOT

PLAYBOOKS = PROJECT_ROOT / "playbooks"


def test_ansible_lint_offline_is_clean():
    """ansible-lint (production profile) also syntax-checks every playbook."""
    exe = shutil.which("ansible-lint")
    if not exe:
        pytest.skip("ansible-lint not installed")
    proc = subprocess.run([exe, "--offline", "--nocolor", "-q"], cwd=PLAYBOOKS, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_inventory_script_is_the_model(inv):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run([sys.executable, "inventory/dcops.py", "--list"], cwd=PLAYBOOKS, capture_output=True,
                          text=True, env=env, check=True)
    dyn = json.loads(proc.stdout)
    hv = dyn["_meta"]["hostvars"]
    assert set(hv) >= {v.name for v in inv.vms} | {h.name for h in inv.hosts} | {d.name for d in inv.network_devices}
    assert sorted(dyn["drill_enabled"]["hosts"]) == sorted(
        [x.name for x in (*inv.vms, *inv.hosts, *inv.network_devices) if x.drill_enabled])
    assert hv["kg-lb-01"]["dcops_leased_lines"][0]["interface"] == "wan1"
    assert hv["portal-db-01"]["dcops_rpo_hours"] == 24 and hv["portal-db-01"]["dcops_backup_target"] == "tape"
    assert dyn["all"]["vars"]["dcops_site"]["ntp_servers"] == [str(s) for s in inv.site.ntp_servers]


def test_ansible_reads_the_inventory_script():
    exe = shutil.which("ansible-inventory")
    proc = subprocess.run([exe, "--graph", "drill_enabled"], cwd=PLAYBOOKS, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "portal-db-01" in proc.stdout and "kg-lb-01" in proc.stdout


def test_overlay_may_only_change_connection_settings(inv):
    from dcops.drills.inventory import dynamic
    with pytest.raises(ValueError, match="connection settings"):
        dynamic(inv, {"portal-db-01": {"dcops_drill_enabled": True}})
    # a targets file cannot swap the platform or the UPS shutdown command; only an in-process lab can
    for key, value in (("dcops_platform", "linux"), ("drill_power_shutdown_command", "/bin/true")):
        with pytest.raises(ValueError, match="connection settings"):
            dynamic(inv, {"kg-fw-01": {key: value}})
        assert dynamic(inv, {"kg-fw-01": {key: value}}, lab=True)["_meta"]["hostvars"]["kg-fw-01"][key] == value
    with pytest.raises(KeyError):
        dynamic(inv, {"nope": {"ansible_host": "127.0.0.1"}})
    d = dynamic(inv, {"portal-db-01": {"ansible_host": "172.31.0.2"}})
    assert d["_meta"]["hostvars"]["portal-db-01"]["ansible_host"] == "172.31.0.2"
    assert d["_meta"]["hostvars"]["portal-db-01"]["dcops_address"] == "10.20.30.10"


def test_extra_vars_cannot_bypass_the_drill_enabled_guard(tmp_path):
    """Plain ansible-playbook (what AWX runs) with every override a caller could try: REFUSED by the
    guard plugin, which reads the model, before any task touches the host. The hosts point at a closed
    local port so nothing leaves the machine even if the guard failed."""
    exe = shutil.which("ansible-playbook")
    overlay = tmp_path / "overlay.json"
    overlay.write_text(json.dumps({"qlvb-db-02": {"ansible_host": "127.0.0.1", "ansible_port": 9}}))
    records = tmp_path / "records"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DCOPS_ANSIBLE_OVERLAY": str(overlay),
           "ANSIBLE_NOCOLOR": "1", "DCOPS_DRILL_REPORT_DIR": str(records)}
    env.pop("DCOPS_DRILL_RUNNER", None)
    for extra in ({"drill_targets": "qlvb-db-02", "dcops_drill_enabled": True},
                  {"drill_targets": "qlvb-db-02", "dcops_drill_enabled": True, "inventory_hostname": "portal-db-01",
                   "groups": {"drill_enabled": ["qlvb-db-02"]}, "group_names": ["drill_enabled"]}):
        proc = subprocess.run([exe, "drills/backup-restore.yml", "-e", json.dumps(extra)], cwd=PLAYBOOKS,
                              capture_output=True, text=True, env=env, timeout=300)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "REFUSED: qlvb-db-02" in out, out[-2000:]
        assert "UNREACHABLE" not in out and "Check the data set exists" not in out
        assert "ok=0" in out.split("PLAY RECAP")[-1] or "failed=1" in out.split("PLAY RECAP")[-1]
    # the playbooks' own record (callback dcops_drill_record): a failed staging run, the refusal on it
    recs = [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))]
    assert len(recs) == 2 and {r["verdict"] for r in recs} == {"fail"}
    assert {r["environment"]["kind"] for r in recs} == {"staging"} and recs[0]["operator"]["via"] == "ansible-playbook"
    refused = [s for s in recs[0]["steps"] if s["status"] == "failed"]
    assert refused and refused[0]["host"] == "qlvb-db-02" and refused[0]["message"].startswith("REFUSED: qlvb-db-02")
