"""Lint: the shipped policy is clean; each kind of mistake is reported with file and line."""
import shutil
import subprocess
import sys

import pytest

from dcops.model import load_inventory
from dcops.net import lint
from dcops.net.paths import POLICY_DIR

BAD = """\
filters:
  - header:
      zones: {from: app, to: db}
    terms:
      - name: app-db-all-pg
        destination-port: POSTGRES
        protocol: tcp
        action: accept
      - name: app-db-pg-again
        destination-address: ZONE_DB
        destination-port: POSTGRES
        protocol: tcp
        action: accept
      - name: deny-pg-never-fires
        destination-port: POSTGRES
        protocol: tcp
        action: deny
      - name: typo-object
        destination-address: SYS_NO_SUCH_THING
        destination-port: POSTGRESS
        protocol: tcp
        action: accept
  - header:
      zones: {from: public, to: dmz}
    terms:
      - name: open-door
        action: accept
  - header:
      zones: {from: mgmt, to: db}
    terms:
      - name: mixed-protocols
        destination-port: SSH SNMP
        protocol: tcp udp
        action: accept
  - header:
      zones: {from: app, to: nowhere}
    terms:
      - name: to-nowhere
        destination-port: HTTPS
        protocol: tcp
        action: accept
"""


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


def test_shipped_policy_is_clean(inv):
    assert lint.lint(inv) == []


def test_findings_with_file_and_line(inv, tmp_path):
    shutil.copytree(POLICY_DIR / "definitions", tmp_path / "definitions")
    with open(tmp_path / "definitions" / "services.yaml", "a") as f:
        f.write("  UNUSED_SVC: [{port: 4444, protocol: tcp}]\n")
    (tmp_path / "bad.yaml").write_text(BAD)
    found = {(f.line, f.severity, f.message.split(":")[0]) for f in lint.lint(inv, tmp_path)}
    msgs = "\n".join(str(f) for f in lint.lint(inv, tmp_path))
    assert "bad.yaml:9: warning: term 'app-db-pg-again' is redundant" in msgs
    assert "bad.yaml:14: error: term 'deny-pg-never-fires' is shadowed" in msgs
    assert "bad.yaml:19: error: term 'typo-object': unknown network object 'SYS_NO_SUCH_THING'" in msgs
    assert "bad.yaml:20: error: term 'typo-object': unknown service 'POSTGRESS'" in msgs
    assert "bad.yaml:26: error: term 'open-door': any-any permit" in msgs
    assert "bad.yaml:33: warning: term 'mixed-protocols': services SSH, SNMP are single-protocol" in msgs
    assert "bad.yaml:35: error: unknown zone 'nowhere'" in msgs
    svc_line = (tmp_path / "definitions" / "services.yaml").read_text().count("\n")
    assert f"services.yaml:{svc_line}: warning: object 'UNUSED_SVC' is defined but never used" in msgs
    assert found


def test_cli_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "dcops.cli", "net", "lint"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "0 error(s), 0 warning(s)" in ok.stdout
