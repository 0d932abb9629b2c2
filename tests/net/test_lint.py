"""Lint: the shipped policy is clean; each kind of mistake is reported with file and line."""
import re
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
    findings = lint.lint(inv, tmp_path)
    msgs = "\n".join(str(f) for f in findings)
    assert "bad.yaml:9: warning: term 'app-db-pg-again' is redundant" in msgs
    assert "bad.yaml:14: error: term 'deny-pg-never-fires' is shadowed" in msgs
    assert "bad.yaml:19: error: term 'typo-object': unknown network object 'SYS_NO_SUCH_THING'" in msgs
    assert "bad.yaml:20: error: term 'typo-object': unknown service 'POSTGRESS'" in msgs
    assert "bad.yaml:26: error: term 'open-door': any-any permit" in msgs
    assert "bad.yaml:33: warning: term 'mixed-protocols': services SSH, SNMP are single-protocol" in msgs
    assert "bad.yaml:35: error: unknown zone 'nowhere'" in msgs
    svc_line = (tmp_path / "definitions" / "services.yaml").read_text().count("\n")
    assert f"services.yaml:{svc_line}: warning: object 'UNUSED_SVC' is defined but never used" in msgs
    # … and nothing else: the policy's findings exactly, and every other hand-written object unused
    assert [(f.line, f.severity, f.message.split(":")[0]) for f in findings if f.file.endswith("bad.yaml")] == [
        (9, "warning", "term 'app-db-pg-again' is redundant"), (14, "error", "term 'deny-pg-never-fires' is shadowed"),
        (19, "error", "term 'typo-object'"), (20, "error", "term 'typo-object'"), (26, "error", "term 'open-door'"),
        (33, "warning", "term 'mixed-protocols'"), (35, "error", "unknown zone 'nowhere' in filter header")]
    used = {"POSTGRES", "SSH", "SNMP", "HTTPS"}
    defined = re.findall(r"^  ([A-Z_]+):", (tmp_path / "definitions" / "services.yaml").read_text(), re.M)
    assert sorted(f.message for f in findings if not f.file.endswith("bad.yaml")) == sorted(
        f"object '{n}' is defined but never used" for n in defined if n not in used)


def test_cli_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "dcops.cli", "net", "lint"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "0 error(s), 0 warning(s)" in ok.stdout


ZONE_BAD = """\
filters:
  - header:
      zones: {from: app, to: db}
    terms:
      - name: app-to-mgmt-syslog-in-app-db
        destination-address: SITE_SYSLOG
        destination-port: SYSLOG
        protocol: udp
        action: accept
      - name: app-to-nowhere
        destination-address: LOST_HOST
        destination-port: POSTGRES
        protocol: tcp
        action: accept
      - name: from-db-in-app-db
        source-address: ZONE_DB
        destination-port: POSTGRES
        protocol: tcp
        action: accept
      - name: typo-protocol
        destination-port: POSTGRES
        protocol: tpc
        action: accept
      - name: fine
        source-address: SYS_MOTCUA_APP
        destination-port: ORACLE
        protocol: tcp
        action: accept
  - header:
      zones: {from: public, to: dmz}
    terms:
      - name: internet-to-app-host
        destination-address: DEV_WAF SYS_MOTCUA_APP
        destination-port: HTTPS
        protocol: tcp
        action: accept
"""

BAD_SERVICES = """\
networks:
  LOST_HOST:
    values:
      - address: 192.168.77.7/32
services:
  TOO_HIGH: [{port: 70000, protocol: tcp}]
  BACKWARDS: [{port: 9000-8000, protocol: tcp}]
  NO_PORTS: [{port: 1, protocol: icmp}]
  RANGE_OK: [{port: 1024-65535, protocol: udp}]
"""


def test_zone_true_terms_and_port_checks(inv, tmp_path):
    """Issue 15 §2: addresses outside the filter's zones or every zone, bad ports, unknown protocols."""
    shutil.copytree(POLICY_DIR / "definitions", tmp_path / "definitions")
    (tmp_path / "definitions" / "extra.yaml").write_text(BAD_SERVICES)
    (tmp_path / "bad.yaml").write_text(ZONE_BAD)
    errors = "\n".join(str(f) for f in lint.lint(inv, tmp_path) if f.severity == "error")
    assert ("bad.yaml:6: error: term 'app-to-mgmt-syslog-in-app-db': destination-address SITE_SYSLOG "
            "(10.10.1.18/32) lies in zone mgmt, outside the filter's to-zone db") in errors
    assert ("bad.yaml:11: error: term 'app-to-nowhere': destination-address LOST_HOST (192.168.77.7/32) "
            "lies outside every zone of the inventory") in errors
    assert "bad.yaml:16: error: term 'from-db-in-app-db': source-address ZONE_DB (10.20.30.0/24) lies in zone db" in errors
    assert "bad.yaml:22: error: term 'typo-protocol': unknown protocol 'tpc'" in errors
    assert "'fine'" not in errors
    # the internet zone holds every address no other zone holds — an app-zone host is not among them
    assert "bad.yaml:33: error: term 'internet-to-app-host': destination-address SYS_MOTCUA_APP" in errors
    assert "DEV_WAF" not in errors
    assert "extra.yaml:6: error: service TOO_HIGH: port 70000 is outside 0–65535" in errors
    assert "extra.yaml:7: error: service BACKWARDS: port range 9000-8000 is reversed (9000 > 8000)" in errors
    assert "extra.yaml:8: error: service NO_PORTS: protocol 'icmp' has no ports" in errors
    assert "RANGE_OK" not in errors
