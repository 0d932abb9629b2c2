"""Contracts between the data files: alert rules ↔ SNMP profiles ↔ the state vocabulary ↔ the inventory.
Each break is a `dcops validate` error at the file and line that broke it."""
import shutil
import subprocess
import sys

import pytest

from dcops import PROJECT_ROOT
from dcops.model import validate

MONITORS = PROJECT_ROOT / "monitors"


@pytest.fixture
def mon(tmp_path):
    """A copy of monitors/ to break."""
    shutil.copytree(MONITORS, tmp_path / "monitors", ignore=shutil.ignore_patterns("sim"))
    return tmp_path / "monitors"


def _errors(mon):
    r = validate(profiles_dir=mon / "profiles", alerts_file=mon / "alerts.yaml")
    return [(e.loc.file, e.loc.line, e.message) for e in r.errors]


def _line_of(path, text):
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_shipped_rules_profiles_and_vocabulary_agree(mon):
    assert _errors(mon) == []


def test_a_profile_renaming_a_state_word_fails_at_its_line(mon):
    # the new-UPS-model mistake: "on_battery" for "battery" silently disabled the on-battery alert
    p = mon / "profiles" / "ups-rfc1628.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("5: battery", "5: on_battery"), encoding="utf-8")
    assert _errors(mon) == [(str(p), _line_of(p, "5: on_battery"),
                             "state 'on_battery' of ups_output_source is not in states.yaml "
                             "(battery, booster, bypass, none, normal, other, reducer)")]


def test_a_rule_naming_a_word_no_profile_produces_fails_at_the_rule(mon):
    a = mon / "alerts.yaml"
    a.write_text(a.read_text(encoding="utf-8").replace("state_in: [battery]", "state_in: [on_battery]"),
                 encoding="utf-8")
    (err,) = _errors(mon)
    assert err[:2] == (str(a), _line_of(a, "state_in: [on_battery]"))
    assert err[2].startswith("rule 'ups_on_battery': 'on_battery' is not a state of ups_output_source")


def test_a_rule_on_a_metric_no_profile_produces(mon):
    a = mon / "alerts.yaml"
    a.write_text(a.read_text(encoding="utf-8").replace("metric: ups_output_load_ratio", "metric: ups_load"),
                 encoding="utf-8")
    assert _errors(mon) == [(str(a), _line_of(a, "metric: ups_load"),
                             "rule 'ups_load_high': no profile produces metric 'ups_load'")]


def test_an_override_for_a_device_not_in_the_inventory(mon):
    a = mon / "alerts.yaml"
    a.write_text(a.read_text(encoding="utf-8").replace("kg-env-02: {above: 30", "kg-env-99: {above: 30"),
                 encoding="utf-8")
    (err,) = _errors(mon)
    assert err[2] == "rule 'room_temperature_high': unknown device 'kg-env-99' (not in the inventory)"


def test_an_enum_metric_without_a_vocabulary(mon):
    v = mon / "states.yaml"
    v.write_text("\n".join(l for l in v.read_text(encoding="utf-8").splitlines()
                           if not l.startswith("cooling_fan_state")) + "\n", encoding="utf-8")
    p = mon / "profiles" / "liebert-cooling.yaml"
    lines = p.read_text(encoding="utf-8").splitlines()
    start = _line_of(p, "name: cooling_fan_state")
    states_line = next(i for i in range(start, len(lines) + 1) if "states:" in lines[i - 1])
    assert _errors(mon) == [(str(p), states_line,
                             "enum metric 'cooling_fan_state' has no state vocabulary in states.yaml")]


def test_validate_cli_reports_the_contract_error_and_exits_1(tmp_path, mon):
    a = mon / "alerts.yaml"
    a.write_text(a.read_text(encoding="utf-8").replace("state_in: [battery]", "state_in: [on_battery]"),
                 encoding="utf-8")
    code = ("import sys; from dcops.model import validate; r = validate(alerts_file=sys.argv[1]); "
            "print('\\n'.join(map(str, r.errors))); sys.exit(1 if r.errors else 0)")
    proc = subprocess.run([sys.executable, "-c", code, str(a)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "'on_battery' is not a state of ups_output_source" in proc.stdout
