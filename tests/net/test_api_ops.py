"""Issue 15 §8: the vendor-API operations the playbooks and drills run on the controller
(`python -m dcops.net.api_ops`), and the netdev-backup playbook backing up the FortiGate and the Palo
Alto through their APIs — against the emulators of tests/net/emulators (documentation links there)."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dcops import PROJECT_ROOT
from dcops.model.ansible_inventory import platform_knowledge

from .emulators import Server
from .emulators import fortios as fe
from .emulators import panos as pe

#: what the one inventory gives every role (all.vars.dcops_platforms, from each platform.yaml `ansible:`),
#: for the static inventories below: the roles keep no per-platform list of their own
PLATFORM_VARS = f"  vars:\n    dcops_platforms: {json.dumps(platform_knowledge())}\n"


def _ops(*args, env):
    return subprocess.run([sys.executable, "-m", "dcops.net.api_ops", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture
def fgt(tmp_path):
    token = "emu-" + secrets.token_hex(12)
    with Server(fe.Handler, fe.FortiGate("kg-fw-01", token)) as srv:
        srv.env = {**os.environ, "DCOPS_FORTIOS_API_TOKEN": token}
        srv.common = ["--platform", "fortios", "--host", "127.0.0.1", "--port", str(srv.port), "--no-https",
                      "--device", "kg-fw-01", "--state-dir", str(tmp_path / "state")]
        yield srv


@pytest.fixture
def pan(tmp_path):
    key = "emu-" + secrets.token_hex(12)
    with Server(pe.Handler, pe.PanFirewall("kg-fw-03", {key: "dcops"})) as srv:
        srv.env = {**os.environ, "DCOPS_PANOS_API_KEY": key}
        srv.common = ["--platform", "panos", "--host", "127.0.0.1", "--port", str(srv.port), "--no-https",
                      "--device", "kg-fw-03", "--state-dir", str(tmp_path / "state")]
        yield srv


def test_backup_saves_only_when_the_configuration_changed(fgt, tmp_path):
    b = tmp_path / "backups"
    first = _ops("backup", *fgt.common, "--backups", str(b), env=fgt.env)
    assert first.returncode == 0, first.stderr
    saved = Path(first.stdout.split()[1])
    assert first.stdout.startswith("saved ") and saved.read_text() == fgt.device.config
    again = _ops("backup", *fgt.common, "--backups", str(b), env=fgt.env)
    assert again.stdout.strip() == f"unchanged {saved}"
    assert len(list((b / "kg-fw-01").iterdir())) == 1


def test_wrong_credential_exits_non_zero_with_device_and_step(fgt, tmp_path):
    env = {**fgt.env, "DCOPS_FORTIOS_API_TOKEN": "emu-wrong"}
    proc = _ops("backup", *fgt.common, "--backups", str(tmp_path / "b"), env=env)
    assert proc.returncode == 1
    assert "kg-fw-01: connect failed:" in proc.stderr and "API token was refused (401)" in proc.stderr
    assert not (tmp_path / "b").exists()


def test_arm_then_confirm_from_another_process_keeps_the_restore(pan, tmp_path):
    before = pan.device.running
    cfg = tmp_path / "last-good.xml"
    cfg.write_text('<config version="10.2.0"><devices><entry name="localhost.localdomain"><deviceconfig><system>'
                   '<hostname>restored</hostname></system></deviceconfig></entry></devices></config>\n')
    armed = _ops("arm", *pan.common, "--config", str(cfg), "--revert-after", "60", env=pan.env)
    assert armed.returncode == 0, armed.stderr
    assert "<hostname>restored</hostname>" in pan.device.running and pan.device.lock_holder is not None
    done = _ops("confirm", *pan.common, env=pan.env)
    assert (done.returncode, done.stdout.strip()) == (0, "confirmed"), done.stderr
    assert pan.device.lock_holder is None and pan.device.running != before
    late = _ops("rollback", *pan.common, env=pan.env)      # rollback after confirm: back to the config before
    assert late.returncode == 0 and pan.device.running == before


def test_arm_without_confirm_reverts_by_the_timer(fgt, tmp_path, rendered_fortios):
    before = fgt.device.config
    cfg = tmp_path / "last-good.conf"
    cfg.write_text(rendered_fortios)
    armed = _ops("arm", *fgt.common, "--config", str(cfg), "--revert-after", "2", env=fgt.env)
    assert armed.returncode == 0, armed.stderr
    assert fgt.device.config != before
    end = time.monotonic() + 60
    while fgt.device.config != before and time.monotonic() < end:
        time.sleep(0.2)
    assert fgt.device.config == before
    late = _ops("confirm", *fgt.common, env=fgt.env)
    assert late.returncode == 1 and "confirm failed: " in late.stderr and "no commit pending" in late.stderr


@pytest.fixture
def rendered_fortios(monkeypatch):
    from dcops.model import load_inventory
    from dcops.net import render
    from dcops.net.connect import resolve_placeholders
    for var in ("DCOPS_FW_HA_KEY", "DCOPS_NET_SSH_KEY_PUB", "DCOPS_SNMP_AUTH_KEY", "DCOPS_SNMP_PRIV_KEY"):
        monkeypatch.setenv(var, f"fake-{var.lower()}")
    inv = load_inventory()
    return resolve_placeholders(render.render_device(render.RenderContext.build(inv), inv.device("kg-fw-01")).config)


def test_netdev_backup_playbook_backs_up_both_firewalls_through_their_apis(fgt, pan, tmp_path):
    """The playbook on the controller: FortiOS via REST, PAN-OS via the XML API; a second run stores nothing new."""
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        f"all:\n{PLATFORM_VARS}  hosts:\n"
        f"    kg-fw-01: {{dcops_platform: fortios, dcops_api_host: 127.0.0.1, dcops_api_port: {fgt.port}, "
        "dcops_api_https: false, ansible_connection: local}\n"
        f"    kg-fw-03: {{dcops_platform: panos, dcops_api_host: 127.0.0.1, dcops_api_port: {pan.port}, "
        "dcops_api_https: false, ansible_connection: local}\n"
        "    kg-waf-01: {dcops_platform: fortiweb, ansible_connection: local}\n")
    env = {**fgt.env, **pan.env, "ANSIBLE_CONFIG": str(PROJECT_ROOT / "playbooks" / "ansible.cfg"),
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    exe = Path(sys.executable).with_name("ansible-playbook")

    def play():
        return subprocess.run([str(exe), "-i", str(inv), str(PROJECT_ROOT / "playbooks" / "netdev-backup.yml"),
                               "-e", "netdev_hosts=all", "-e", f"netdev_backup_dir={tmp_path / 'b'}"],
                              capture_output=True, text=True, timeout=300, env=env)
    first = play()
    out = first.stdout
    assert first.returncode == 2, out[-3000:]          # kg-waf-01 fails: no backup method, never skipped silently
    assert "kg-waf-01: no backup method for platform fortiweb" in out
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["kg-fw-01", "kg-fw-03"]
    assert next((tmp_path / "b" / "kg-fw-01").iterdir()).read_text() == fgt.device.config
    assert pe.canonical(next((tmp_path / "b" / "kg-fw-03").iterdir()).read_text()) == pan.device.running
    second = play()
    assert "changed=0" in second.stdout.split("kg-fw-01")[-1].splitlines()[0]
    assert [len(list((tmp_path / "b" / d).iterdir())) for d in ("kg-fw-01", "kg-fw-03")] == [1, 1]


def _drill(fgt, tmp_path, backup: Path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(f"all:\n{PLATFORM_VARS}  hosts:\n"
                   f"    kg-fw-01: {{dcops_platform: fortios, dcops_api_host: 127.0.0.1, dcops_api_port: {fgt.port}, "
                   f"dcops_api_https: false, dcops_api_state_dir: '{tmp_path / 'state'}', ansible_connection: local}}\n")
    # the role's API steps alone, as `dcops drill run` runs this playbook (it takes the backup first and writes
    # the record itself): a plain run of this one playbook is refused by the drill's own verdict play, rightly
    env = {**fgt.env, "ANSIBLE_CONFIG": str(PROJECT_ROOT / "playbooks" / "ansible.cfg"),
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "DCOPS_DRILL_RUNNER": "1"}
    exe = Path(sys.executable).with_name("ansible-playbook")
    return subprocess.run([str(exe), "-i", str(inv), str(PROJECT_ROOT / "playbooks" / "drills" / "firewall-restore.yml"),
                           "-e", "drill_fw=kg-fw-01", "-e", f"drill_fw_restore_backup={backup}", "-e", "drill_run_id=t1",
                           "-e", "drill_fw_restore_revert_after_s=60", "-e", '{"drill_fw_restore_checks": []}'],
                          capture_output=True, text=True, timeout=300, env=env)


def test_firewall_restore_drill_restores_a_fortigate_through_its_api(fgt, tmp_path):
    """The drill's role on FortiOS: arm (commit with revert) → checks → confirm, all through the REST API."""
    last_good = fgt.device.config.replace('set hostname "kg-fw-01"', 'set hostname "kg-fw-01-last-good"')
    backup = tmp_path / "20260101T000000Z.conf"
    backup.write_text(last_good)
    proc = _drill(fgt, tmp_path, backup)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert fgt.device.config == last_good and fgt.device.restores == [last_good]
    assert not (tmp_path / "state" / f"127.0.0.1_{fgt.port}" / "pending.json").exists()   # confirmed, timer stopped


def test_firewall_restore_drill_on_a_fortigate_rolls_back_when_the_restore_fails(fgt, tmp_path):
    before = fgt.device.config
    backup = tmp_path / "20260101T000000Z.conf"
    backup.write_text(before.replace('set hostname "kg-fw-01"', 'set hostname "other"'))
    fgt.device.fail_next_restore_midway = True     # HTTP 500 with half the file applied
    proc = _drill(fgt, tmp_path, backup)
    assert proc.returncode == 2
    assert "Firewall restore of kg-fw-01 from 20260101T000000Z.conf failed" in proc.stdout
    assert "rolled back to the pre-drill configuration" in proc.stdout
    assert fgt.device.config == before
