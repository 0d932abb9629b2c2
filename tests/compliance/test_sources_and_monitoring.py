"""The compliance report cites where a declaration really is (file:line from the loader's source map) and
evaluates monitoring per system: the devices its service depends on, not the facility as a whole."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from dcops import DEFAULT_INVENTORY
from tests.extension import add_tenant

TENANT = "so-thu-nghiem"


def _compliance(inventory: Path, cwd: Path) -> dict:
    r = subprocess.run([sys.executable, "-m", "dcops.cli", "compliance", "-i", str(inventory), "--json", "--lang",
                        "en", "--as-of", "2026-11-23"], capture_output=True, text=True, timeout=180, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return {s["name"]: {c["id"]: c for c in s["controls"]} for s in json.loads(r.stdout)["systems"]}


def _line(path: Path, needle: str, after: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if after in ln)
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def test_declarations_cite_their_own_file_and_line_and_monitoring_follows_the_system(tmp_path) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inventory)
    tenant_file = add_tenant(inventory, TENANT, [(2, 2)], zone="db")
    # kg-fw-03 stops being polled: only systems whose zones it serves lose their monitoring evidence
    network = inventory / "network.yaml"
    text = network.read_text(encoding="utf-8")
    at = text.index("  - name: kg-fw-03\n")
    snmp = text.index("    snmp:\n      profile: if-mib\n", at)
    network.write_text(text[:snmp] + text[snmp + len("    snmp:\n      profile: if-mib\n"):], encoding="utf-8")

    report = _compliance(inventory, tmp_path)

    mine = report[f"{TENANT}-sys1"]
    layer1 = mine["layer1-self-protection"]
    assert layer1["evidence"] == f"inventory/vms/{TENANT}.yaml:" \
        f"{_line(tenant_file, 'owner_self_protection', f'name: {TENANT}-sys1')}"
    # a system of the shipped organisation file is cited at its own line there
    org = inventory / "organisation.yaml"
    assert report["portal"]["layer2-soc"]["evidence"] == \
        f"inventory/organisation.yaml:{_line(org, 'soc_monitoring', 'name: portal')}"

    vm_zones = {}
    for f in sorted(inventory.rglob("*.yaml")):
        for vm in (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("vms") or []:
            vm_zones.setdefault(vm["system"], set()).add(vm["zone"])
    fw03_zones = {"app", "db", "mgmt", "storage"}
    served = {s for s, zones in vm_zones.items() if zones & fw03_zones}
    for name, controls in report.items():
        mon = controls.get("monitoring")
        if mon is None:  # below the control's level
            continue
        if name in served:
            assert (mon["status"], mon["detail"]["message"]) == ("fail", "monitoring_gaps"), name
            assert mon["detail"]["args"] == {"devices": "kg-fw-03"}, name
        else:
            assert (mon["status"], mon["detail"]["message"]) == ("missing", "monitoring_configured_only"), name
    assert f"{TENANT}-sys1" in served and "du-lich" not in served  # du-lich: DMZ only, kg-fw-03 is not on its path
    assert report["du-lich"].get("monitoring") is None or \
        report["du-lich"]["monitoring"]["detail"]["message"] == "monitoring_configured_only"
