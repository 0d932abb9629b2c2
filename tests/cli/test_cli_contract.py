"""The CLI as other programs see it: every list/report verb speaks JSON, and piped tables are whole."""
import json
import os
import subprocess
import sys

import typer.main

from dcops.cli import app

# Verbs that are not reports: servers, account admin, actions and generators of other formats.
NOT_REPORTS = {
    "dcops dashboard": "a web server",
    "dcops dashboard-user": "changes a password file",
    "dcops dashboard-kiosk": "creates or revokes a kiosk token",
    "dcops inventory ansible": "its output is Ansible's JSON inventory protocol already",
    "dcops snmp prometheus-rules": "writes Prometheus rule files",
    "dcops demo inject": "an action on a running demo",
    "dcops demo down": "an action: tears a demo down",
}


def _verbs(cmd, path):
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _verbs(sub, [*path, name])
    else:
        yield " ".join(path), [o for p in cmd.params for o in getattr(p, "opts", [])]


def test_every_report_verb_has_json():
    verbs = dict(_verbs(typer.main.get_command(app), ["dcops"]))
    assert len(verbs) > 20, verbs  # the walk found the real command tree
    missing = sorted(v for v, opts in verbs.items() if "--json" not in opts and v not in NOT_REPORTS)
    assert not missing, f"verbs without --json: {missing}"
    stale = sorted(set(NOT_REPORTS) - set(verbs))
    assert not stale, f"exemptions for verbs that no longer exist: {stale}"


def _run(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TERM")}
    return subprocess.run([sys.executable, "-m", "dcops.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_piped_compliance_table_keeps_every_title_and_name_whole():
    report = json.loads(_run("compliance", "--json").stdout)
    table = _run("compliance").stdout
    lines = table.splitlines()
    assert "…" not in table
    for system in report["systems"]:
        assert any(system["display_name"] in line for line in lines), system["display_name"]
        for control in system["controls"]:
            assert any(control["title"] in line for line in lines), control["title"]


def test_piped_capacity_table_is_one_line_per_resource():
    cap = _run("capacity")
    assert cap.returncode == 0, cap.stderr
    assert "…" not in cap.stdout
    assert any(line.count("│") >= 6 and "SAN pool bronze (nl-sas)" in line for line in cap.stdout.splitlines())
