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


def test_a_new_model_mapping_the_on_battery_code_to_another_word_fails_at_its_line(tmp_path):
    """The vocabulary holds ('other' is a word of ups_output_source), yet the on-battery alert would never fire
    on the new UPS: a single-condition state rule must be able to fire on every device whose profile feeds it."""
    from tests.extension import add_ups_model, copy_data
    data = copy_data(tmp_path, folders=("inventory", "monitors"))
    device = add_ups_model(data)
    p = data.monitors / "profiles" / "eaton-xups.yaml"
    assert validate(data.inventory, profiles_dir=p.parent, alerts_file=data.monitors / "alerts.yaml").errors == []
    p.write_text(p.read_text(encoding="utf-8").replace("5: battery", "5: other"), encoding="utf-8")
    r = validate(data.inventory, profiles_dir=p.parent, alerts_file=data.monitors / "alerts.yaml")
    assert [(e.loc.file, e.loc.line, e.message) for e in r.errors] == [
        (str(p), _line_of(p, "states: {1: other"),
         f"ups_output_source never takes battery in profile eaton-xups: rule 'ups_on_battery' never fires on "
         f"{device} (map the vendor's code to that word, or name the profiles the rule covers in its profiles:)")]


def test_a_rule_only_undeployed_models_feed_fails_at_its_line(mon, tmp_path):
    """stulz-cooling is in the profile library but no device of the inventory uses it."""
    a = mon / "alerts.yaml"
    a.write_text(a.read_text(encoding="utf-8").replace("\nrules:\n", (
        "\nrules:\n  - name: stulz_only\n    metric: cooling_humidity_ratio\n    profiles: [stulz-cooling]\n"
        "    above: 0.8\n    summary_vi: x\n    summary_en: x\n\n"), 1), encoding="utf-8")
    assert _errors(mon) == [(str(a), _line_of(a, "metric: cooling_humidity_ratio"),
                             "rule 'stulz_only': metric 'cooling_humidity_ratio' comes only from profiles no device "
                             "uses (stulz-cooling): the rule never fires on the cooling devices of the inventory")]


def test_a_site_without_devices_of_a_rules_kind_is_no_error(tmp_path):
    """The rule library covers kinds a site may not have: without any cooling unit, the cooling rules are
    vacuous, not errors (only devices of the rule's kind that cannot feed it are)."""
    from ruamel.yaml import YAML
    from tests.extension import copy_data
    data = copy_data(tmp_path, folders=("inventory", "monitors"))
    f = data.inventory / "facility.yaml"
    yaml = YAML()
    doc = yaml.load(f.read_text(encoding="utf-8"))
    doc["facility"] = [d for d in doc["facility"] if d["kind"] != "cooling"]
    with f.open("w", encoding="utf-8") as out:
        yaml.dump(doc, out)
    r = validate(data.inventory, profiles_dir=data.monitors / "profiles", alerts_file=data.monitors / "alerts.yaml")
    assert [(e.loc.file, e.loc.line, e.message) for e in r.errors] == []
