"""The AWX/AAP execution environment: ansible-builder's own schema accepts it, it installs what the
playbooks use (collections, Python packages at requirements.lock's versions), and dcops itself."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dcops import PROJECT_ROOT

EE = PROJECT_ROOT / "execution-environment.yml"
#: a task's module, written as a fully qualified collection name
FQCN = re.compile(r"^\s*(?:-\s+)?([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+:\s*(?:#.*)?$", re.M)


def _lock() -> dict[str, str]:
    text = (PROJECT_ROOT / "requirements.lock").read_text()
    return {m.group(1).lower().replace("_", "-").replace(".", "-"): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", text, re.M)}


def test_every_collection_the_playbooks_use_is_required():
    used = set()
    for path in (PROJECT_ROOT / "playbooks").rglob("*.yml"):
        used |= {f"{ns}.{coll}" for ns, coll in FQCN.findall(path.read_text(encoding="utf-8"))}
    assert "ansible.builtin" in used  # the scan sees the playbooks' modules at all
    req = yaml.safe_load((PROJECT_ROOT / "collections/requirements.yml").read_text())
    listed = {c["name"] for c in req["collections"]}
    assert used - {"ansible.builtin", "ansible.legacy"} == listed


def test_the_ee_pins_what_requirements_lock_pins():
    ee = yaml.safe_load(EE.read_text())
    lock = _lock()
    deps = ee["dependencies"]
    assert deps["ansible_core"]["package_pip"] == f"ansible-core=={lock['ansible-core']}"
    assert deps["ansible_runner"]["package_pip"] == f"ansible-runner=={lock['ansible-runner']}"
    pins = {}
    for line in (PROJECT_ROOT / deps["python"]).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace(".", "-")] = version
    assert pins and all(lock[n] == v for n, v in pins.items()), pins
    # what the drill callback and guard import through dcops is installed (pydantic, ruamel.yaml, jinja2, yaml)
    assert set(pins) == {"pydantic", "ruamel-yaml", "jinja2", "pyyaml"}
    steps = "\n".join(ee["additional_build_steps"]["append_final"])
    assert "pip install --no-cache-dir --no-deps /tmp/dcops-src" in steps
    assert "ENV ANSIBLE_CONFIG=/runner/project/playbooks/ansible.cfg" in steps  # enables the record callback


def test_ansible_builder_accepts_it_and_lays_out_the_context(tmp_path):
    """ansible-builder's schema (v3) and `create` (no container engine needed): a bad key is refused."""
    pytest.importorskip("ansible_builder")
    ctx = tmp_path / "context"
    proc = subprocess.run([sys.executable, "-m", "ansible_builder", "create", "-f", str(EE), "-c", str(ctx),
                           "--output-filename", "Containerfile"],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    build = ctx / "_build"
    assert (build / "dcops-src/dcops/drills/replay.py").is_file() and (build / "dcops-src/pyproject.toml").is_file()
    assert (build / "requirements.yml").read_text() == (PROJECT_ROOT / "collections/requirements.yml").read_text()
    assert "ENV DCOPS_DRILL_REPORT_DIR=" in (ctx / "Containerfile").read_text()
    bad = tmp_path / "bad.yml"
    bad.write_text(EE.read_text().replace("version: 3\n", "version: 3\nbogus: 1\n"))
    proc = subprocess.run([sys.executable, "-m", "ansible_builder", "create", "-f", str(bad), "-c", str(tmp_path / "b")],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode != 0 and "'bogus' was unexpected" in proc.stdout + proc.stderr


def test_where_a_playbook_run_happened_comes_from_its_inventory_not_from_what_it_claims(inv):
    """The record callback's environment: the model's own inventory is production; extra vars that set
    connection settings (they override the inventory) or changed addresses are staging; lab hosts a lab."""
    from dcops.drills.inventory import dynamic
    from dcops.drills.replay import drill_for, where
    model = dynamic(inv)["_meta"]["hostvars"]
    env, overlay, lab = where(inv, {"kg-bak-01": model["kg-bak-01"]}, {})
    assert (env["kind"], overlay, lab) == ("production", {}, None)
    env, _, _ = where(inv, {"kg-bak-01": model["kg-bak-01"]}, {"ansible_host": "192.0.2.7"})
    assert env["kind"] == "staging" and env["reason"].startswith("extra vars set connection settings (ansible_host)")
    moved = {**model["kg-bak-01"], "ansible_host": "192.0.2.7"}
    env, overlay, _ = where(inv, {"kg-bak-01": moved}, {})
    assert env["kind"] == "staging" and overlay == {"kg-bak-01": {"ansible_host": "192.0.2.7"}}
    labbed = {**moved, "dcops_lab_ns": "dcdab12-bak", "dcops_lab_prefix": "dcdab12-", "dcops_lab_control_ns": "dcdab12-ctl"}
    env, _, lab = where(inv, {"kg-bak-01": labbed}, {})
    assert env == {"kind": "lab", "reason": "throwaway namespace lab dcdab12- standing in for the targets",
                   "scale": "lab", "lab_overrides": {}}
    assert lab == {"prefix": "dcdab12-", "control_ns": "dcdab12-ctl", "targets": {"kg-bak-01": "dcdab12-bak"}}
    assert drill_for("drills/dr-readiness.yml").name == "dr-readiness" and drill_for("site-baseline.yml") is None
