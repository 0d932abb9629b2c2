"""One Ansible inventory: what `dcops inventory ansible` prints is what the playbooks get, and platform
knowledge comes from platform.yaml, so a platform without it is reported, never silently skipped."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from dcops import PROJECT_ROOT
from tests.extension import add_firewall_platform, copy_data

PLAYBOOKS = PROJECT_ROOT / "playbooks"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **extra}


def test_the_cli_shows_exactly_what_playbooks_get() -> None:
    cli = subprocess.run([sys.executable, "-m", "dcops.cli", "inventory", "ansible", "--list"], capture_output=True,
                         text=True, env=_env(), timeout=120, check=True)
    script = subprocess.run([sys.executable, "inventory/dcops.py", "--list"], cwd=PLAYBOOKS, capture_output=True,
                            text=True, env=_env(), timeout=120, check=True)
    assert json.loads(cli.stdout) == json.loads(script.stdout)
    platforms = json.loads(cli.stdout)["all"]["vars"]["dcops_platforms"]
    assert platforms["linux"]["show"] == ["nft", "list", "ruleset"] and "fortios" not in platforms


def test_platform_knowledge_follows_platform_yaml(tmp_path) -> None:
    """A platform folder with an `ansible:` section reaches the roles through the inventory, no role edit."""
    data = copy_data(tmp_path, folders=("inventory", "network_configs"))
    add_firewall_platform(data)
    spec = data.network_configs / "platforms" / "junos-srx" / "platform.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "ansible:\n  show: [cli, -c, show configuration]\n",
                    encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "dcops.cli", "inventory", "ansible", "--list"], capture_output=True,
                       text=True, timeout=120, env=_env(DCOPS_INVENTORY=str(data.inventory),
                                                        DCOPS_NETWORK_CONFIGS=str(data.network_configs)))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["all"]["vars"]["dcops_platforms"]["junos-srx"] == {"show": ["cli", "-c", "show configuration"]}
    assert doc["_meta"]["hostvars"]["kg-fw-03"]["dcops_platform"] == "junos-srx"


def test_a_platform_without_ansible_knowledge_is_reported_not_skipped(tmp_path) -> None:
    """netdev-backup on a FortiGate: before, the role skipped it silently (exit 0, no backup). Now the
    host fails with the reason and where to add it; nothing connects to the device."""
    exe = shutil.which("ansible-playbook")
    r = subprocess.run([exe, "-i", "inventory/dcops.py", "netdev-backup.yml", "-e", "netdev_hosts=kg-fw-01",
                        "-e", f"netdev_backup_dir={tmp_path}"], cwd=PLAYBOOKS, capture_output=True, text=True,
                       env=_env(ANSIBLE_NOCOLOR="1"), timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    assert ("kg-fw-01: platform fortios has no ansible.show in network_configs/platforms/fortios/platform.yaml"
            in r.stdout), r.stdout
    assert "unreachable=0" in r.stdout and "failed=1" in r.stdout
    assert list(tmp_path.iterdir()) == []
