"""Every data folder and file is stated once, in dcops/paths.py (environment-aware): no other module builds
the path of a profile folder, a platform folder, the alert rules … from the checkout itself, where
DCOPS_MONITORS / DCOPS_NETWORK_CONFIGS / DCOPS_PLAYBOOKS would be ignored."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from dcops import PROJECT_ROOT, paths
from tests.extension import copy_data

#: `<something> / "<name>"` where <something> is a data folder: each pair belongs in dcops/paths.py
FOLDER_OF = {
    **{name: r"(?i)monitors" for name in ("profiles", "sim", "alerts.yaml", "states.yaml", "labels.yaml",
                                          "plausible.yaml")},
    **{name: r"(?i)network_configs|project_root" for name in ("platforms", "policy", "golden", "lab.yaml")},
    "definitions": r"(?i)policy|folder",
    **{name: r"(?i)project_root" for name in ("inventory", "monitors", "network_configs", "playbooks", "infra")},
}
JOIN = re.compile(r"([\w.()]+)\s*/\s*\"([\w.]+)\"")
LITERAL = re.compile(r"PROJECT_ROOT\s*/\s*\"(?:inventory|monitors|network_configs|playbooks)/")


def stated_outside_paths() -> list[str]:
    out = []
    for f in sorted((PROJECT_ROOT / "dcops").rglob("*.py")):
        if f == PROJECT_ROOT / "dcops" / "paths.py":
            continue
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{f.relative_to(PROJECT_ROOT)}:{n}"
            if LITERAL.search(line):
                out.append(f"{where}: {line.strip()}")
                continue
            for left, name in JOIN.findall(line):
                if name in FOLDER_OF and re.search(FOLDER_OF[name], left):
                    out.append(f"{where}: {line.strip()}")
    return out


def test_data_paths_are_stated_only_in_dcops_paths() -> None:
    assert stated_outside_paths() == []


def test_the_catalogue_reads_the_folders_the_environment_names(tmp_path) -> None:
    """`dcops compliance catalogue` took its policy, monitors and golden folders from the checkout whatever
    DCOPS_NETWORK_CONFIGS / DCOPS_MONITORS said: its firewall and monitoring evidence cited the checkout."""
    data = copy_data(tmp_path, folders=("monitors", "network_configs"))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DCOPS_MONITORS": str(data.monitors),
           "DCOPS_NETWORK_CONFIGS": str(data.network_configs)}
    r = subprocess.run([sys.executable, "-m", "dcops.cli", "compliance", "catalogue", "--json", "--lang", "en",
                        "--system", "qlvb", "--as-of", "2026-11-23", "--drills", str(tmp_path / "none"),
                        "--backups", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cited = {c["source"] for s in json.loads(r.stdout)["systems"] for c in s["controls"]
             if "monitors" in (c.get("source") or "") or "network_configs" in (c.get("source") or "")}
    assert cited == {str(data.monitors / "alerts.yaml")}


def test_the_folder_helpers_follow_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DCOPS_MONITORS", str(tmp_path / "m"))
    monkeypatch.setenv("DCOPS_NETWORK_CONFIGS", str(tmp_path / "n"))
    assert (paths.profiles(), paths.alerts_file(), paths.states_file(), paths.definitions()) == (
        tmp_path / "m" / "profiles", tmp_path / "m" / "alerts.yaml", tmp_path / "m" / "states.yaml",
        tmp_path / "n" / "policy" / "definitions")
    assert paths.profiles(tmp_path / "x") == tmp_path / "x" / "profiles"
