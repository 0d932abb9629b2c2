"""One Ansible inventory: what `dcops inventory ansible` prints is what the playbooks get, and platform
knowledge (how a role reads, checks and applies a configuration) comes from platform.yaml."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert platforms["linux"]["show"] == ["nft", "list", "ruleset"]
    assert platforms["fortios"] == platforms["panos"] == {"api": True}


def test_platform_knowledge_follows_platform_yaml(tmp_path) -> None:
    """A platform folder with an `ansible:` section reaches the roles through the inventory, no role edit."""
    data = copy_data(tmp_path, folders=("inventory", "network_configs"))
    add_firewall_platform(data)
    r = subprocess.run([sys.executable, "-m", "dcops.cli", "inventory", "ansible", "--list"], capture_output=True,
                       text=True, timeout=120, env=_env(DCOPS_INVENTORY=str(data.inventory),
                                                        DCOPS_NETWORK_CONFIGS=str(data.network_configs)))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["all"]["vars"]["dcops_platforms"]["junos-srx"] == {"show": ["cli", "-c", "show configuration"]}
    assert doc["_meta"]["hostvars"]["kg-fw-03"]["dcops_platform"] == "junos-srx"


def test_network_backups_follow_platform_yaml(tmp_path) -> None:
    """The backup role keeps no per-platform list: a new platform whose platform.yaml says `ansible.show` is
    backed up by netdev-backup.yml through the one inventory (playbooks/inventory/dcops.py over a copy of
    the data); a platform with neither `show` nor `api` is refused by name, never skipped. Before, the role
    read its own defaults (linux only, plus fortios/panos by API) and refused junos-srx."""
    data = copy_data(tmp_path, folders=("inventory", "network_configs"))
    add_firewall_platform(data)
    running = tmp_path / "running.conf"
    running.write_text("system { host-name kg-fw-03; }\n", encoding="utf-8")
    spec = data.network_configs / "platforms" / "junos-srx" / "platform.yaml"
    text = spec.read_text(encoding="utf-8")
    assert "  show: [cli, -c, show configuration]\n" in text
    spec.write_text(text.replace("  show: [cli, -c, show configuration]\n", f"  show: [cat, '{running}']\n"),
                    encoding="utf-8")
    overlay = tmp_path / "overlay.json"
    overlay.write_text(json.dumps({h: {"ansible_connection": "local"} for h in ("kg-fw-03", "kg-waf-01")}))
    env = _env(DCOPS_INVENTORY=str(data.inventory), DCOPS_NETWORK_CONFIGS=str(data.network_configs),
               DCOPS_ANSIBLE_OVERLAY=str(overlay), ANSIBLE_CONFIG=str(PLAYBOOKS / "ansible.cfg"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    exe = Path(sys.executable).with_name("ansible-playbook")
    r = subprocess.run([str(exe), "-i", str(PLAYBOOKS / "inventory" / "dcops.py"), str(PLAYBOOKS / "netdev-backup.yml"),
                        "-e", "netdev_hosts=kg-fw-03,kg-waf-01", "-e", f"netdev_backup_dir={tmp_path / 'b'}"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr[-2000:]
    assert "kg-waf-01: no backup method for platform fortiweb (platform.yaml ansible.show or ansible.api; " \
           "SSH: junos-srx, linux; vendor API: fortios, panos)" in r.stdout
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["kg-fw-03"]
    saved = list((tmp_path / "b" / "kg-fw-03").iterdir())
    assert len(saved) == 1 and saved[0].read_text(encoding="utf-8") == running.read_text(encoding="utf-8")


def test_a_misspelt_ansible_key_fails_validate_at_its_line(tmp_path) -> None:
    data = copy_data(tmp_path, folders=("inventory", "network_configs"))
    add_firewall_platform(data)
    spec = data.network_configs / "platforms" / "junos-srx" / "platform.yaml"
    text = spec.read_text(encoding="utf-8").replace("  show: [cli, -c, show configuration]\n",
                                                    "  shwo: [cli, -c, show configuration]\n  api: yes please\n")
    spec.write_text(text, encoding="utf-8")
    from dcops.model import validate
    line = text.splitlines().index("  shwo: [cli, -c, show configuration]") + 1
    got = [(p.loc.file, p.loc.line, p.message) for p in
           validate(data.inventory, platforms_dir=data.network_configs / "platforms").errors]
    assert got == [(str(spec), line, "ansible.shwo: unknown key (known: api, apply, config_path, preamble, show, "
                                     "validate)"),
                   (str(spec), line + 1, "ansible.api: must be true or false")]
    # a platform the restore drill applies on says where its boot-time configuration lives (before, the
    # role's default wrote every platform's restored configuration to /etc/nftables.conf)
    spec.write_text(text.replace("  shwo: [cli, -c, show configuration]\n  api: yes please\n",
                                 "  show: [cli, -c, show configuration]\n  apply: [cli, -f]\n"), encoding="utf-8")
    got = [(p.loc.file, p.loc.line, p.message) for p in
           validate(data.inventory, platforms_dir=data.network_configs / "platforms").errors]
    assert got == [(str(spec), line + 1, "ansible.apply: say where the device keeps its boot-time configuration "
                                         "(ansible.config_path): the restore drill writes the restored one there")]
