"""One Ansible inventory: what `dcops inventory ansible` prints is what the playbooks get, and platform
knowledge (how a role reads, checks and applies a configuration) comes from platform.yaml."""
from __future__ import annotations

import json
import os
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
