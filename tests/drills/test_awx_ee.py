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
