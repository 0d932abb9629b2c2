"""The embedded alert engine and the generated Prometheus rules agree, checked by Prometheus itself.

The same recorded series go through both: the embedded AlertEngine evaluates them poll by poll with a fake
clock, and what it has firing after every poll becomes the expectation of a `promtool test rules` unit
test over the generated rules. promtool (Debian's prometheus 2.42) evaluates the rules its own way; the
test passes only when both fire and resolve the same alerts with the same labels at every evaluation.
"""
import json
import random
import shutil
import subprocess

import pytest
import yaml

from dcops.monitor.alerts import AlertEngine, active_alerts, load_rules
from dcops.monitor.export import alert_name, prometheus_rules
from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="Debian's prometheus (promtool) is not installed")
STEP = 15  # seconds between polls, and Prometheus' evaluation interval
T0 = 1_800_000_000.0

# (device, profile, metric, labels, kind, generator) — generator(rng, step, previous) -> value or state word
STATES_SOURCE = {"normal": 3, "battery": 5, "bypass": 4}
STATES_BATTERY = {"normal": 2, "low": 3, "depleted": 4}
STATES_IF = {"up": 1, "down": 2, "testing": 3}
STATES_CONTACT = {"normal": 1, "warning": 2, "critical": 3}


def walk(lo, hi, step):
    def gen(rng, k, prev):
        v = (lo + hi) / 2 if prev is None else prev + rng.uniform(-step, step)
        if rng.random() < 0.03:  # a jump now and then
            v = rng.uniform(lo, hi)
        return round(min(hi, max(lo, v)), 3)
    return gen


def markov(states, stay=0.85):
    def gen(rng, k, prev):
        if prev is None or rng.random() > stay:
            return rng.choice(list(states))
        return prev
    return gen


SERIES = [
    ("ups-a", "ups-rfc1628", "ups_output_source", {}, STATES_SOURCE, markov(STATES_SOURCE, 0.9)),
    ("ups-a", "ups-rfc1628", "ups_output_load_ratio", {"phase": "1"}, None, walk(0.6, 0.95, 0.04)),
    ("ups-a", "ups-rfc1628", "ups_battery_charge_ratio", {}, None, walk(0.3, 1.0, 0.05)),
    ("ups-a", "ups-rfc1628", "ups_battery_runtime_seconds", {}, None, walk(300, 1500, 120)),
    ("ups-a", "ups-rfc1628", "ups_battery_status", {}, STATES_BATTERY, markov(STATES_BATTERY)),
    ("env-a", "apc-netbotz", "env_temperature_celsius", {"sensor": "rack-1"}, None, walk(24, 29, 0.6)),
    ("env-a", "apc-netbotz", "env_humidity_ratio", {"sensor": "rack-1"}, None, walk(0.15, 0.75, 0.04)),
    ("env-a", "apc-netbotz", "env_contact_alarm", {"contact": "door"}, STATES_CONTACT, markov(STATES_CONTACT)),
    ("kg-env-02", "apc-netbotz", "env_temperature_celsius", {"sensor": "power"}, None, walk(27, 32, 0.6)),
    ("lb-a", "if-mib", "if_oper_status", {"line": "vnpt", "ifName": "eth1"}, STATES_IF, markov(STATES_IF, 0.9)),
    ("lb-a", "if-mib", "if_in_utilisation_ratio", {"line": "vnpt", "ifName": "eth1"}, None, walk(0.5, 0.95, 0.05)),
]


def record(seed: int, steps: int) -> list[dict]:
    """One value (or state word) per series per step."""
    rng = random.Random(seed)
    prev: dict[int, object] = {}
    out = []
    for k in range(steps):
        row = {}
        for i, (*_, gen) in enumerate(SERIES):
            prev[i] = row[i] = gen(rng, k, prev.get(i))
        out.append(row)
    return out


def embedded_firing(rows, tmp_path) -> list[set]:
    """What the embedded engine has firing after each poll: {(alertname, labels json)}."""
    rules = load_rules()
    clock = [T0]
    eng = AlertEngine(rules, Store(tmp_path / "engine.db"), clock=lambda: clock[0])
    by_rule = {r.name: r for r in rules.rules}
    out = []
    for k, row in enumerate(rows):
        clock[0] = T0 + k * STEP
        polls: dict[str, DevicePoll] = {}
        for i, (dev, prof, metric, labels, states, _) in enumerate(SERIES):
            p = polls.setdefault(dev, DevicePoll(dev, prof, clock[0], True))
            v = row[i]
            if states:
                p.samples.append(Sample(metric, dict(labels), float(states[v]), "enum", "", state=v))
            else:
                p.samples.append(Sample(metric, dict(labels), float(v), "gauge", ""))
        eng.evaluate(list(polls.values()))
        out.append(firing_now(eng, by_rule))
    return out


def firing_now(eng, by_rule) -> set:
    """What the engine has firing, as Prometheus names and labels its alerts: {(alertname, labels json)}."""
    firing = set()
    for a in active_alerts(eng.store):
        rule = by_rule[a["rule"]]
        name = alert_name(rule, a["device"] if a["device"] in rule.overrides else "")
        labels = {"device": a["device"], **a["labels"], "severity": a["severity"], "source": "dcops"}
        firing.add((name, json.dumps(labels, sort_keys=True)))
    return firing


def promtool_test(rows, firing, rules_file) -> dict:
    series = []
    for i, (dev, _prof, metric, labels, states, _) in enumerate(SERIES):
        sel = {"device": dev, **labels}
        if states:  # the exporter's stateset: one 0/1 series per state word
            for word in states:
                lab = ",".join(f'{k}="{v}"' for k, v in {**sel, metric: word}.items())
                series.append({"series": f"dcops_{metric}{{{lab}}}",
                               "values": " ".join("1" if r[i] == word else "0" for r in rows)})
        else:
            lab = ",".join(f'{k}="{v}"' for k, v in sel.items())
            series.append({"series": f"dcops_{metric}{{{lab}}}", "values": " ".join(str(r[i]) for r in rows)})
    names = sorted({r["alert"] for r in yaml.safe_load(rules_file.read_text())["groups"][0]["rules"]})
    tests = []
    for k, now in enumerate(firing):
        for name in names:
            exp = [{"exp_labels": json.loads(lab)} for n, lab in sorted(now) if n == name]
            tests.append({"eval_time": f"{k * STEP}s", "alertname": name, "exp_alerts": exp})
    return {"rule_files": [rules_file.name], "evaluation_interval": f"{STEP}s",
            "tests": [{"interval": f"{STEP}s", "input_series": series, "alert_rule_test": tests}]}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_embedded_engine_and_prometheus_fire_the_same_alerts_at_the_same_evaluations(seed, tmp_path):
    rows = record(seed, 160)  # 40 minutes of polls
    firing = embedded_firing(rows, tmp_path)
    assert sum(map(len, firing)) > 40, "the recording must make alerts fire, or the test proves nothing"
    fired = {n for now in firing for n, _ in now}
    assert {"DcopsUpsOnBattery", "DcopsUpsLoadHigh", "DcopsRoomTemperatureHigh_kg_env_02",
            "DcopsLeasedLineDown"} <= fired, fired
    doc = prometheus_rules(load_rules())
    for r in doc["groups"][0]["rules"]:
        r.pop("annotations")  # firing and labels are compared here; summaries in their own test
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    test_file = tmp_path / "test.yml"
    test_file.write_text(yaml.safe_dump(promtool_test(rows, firing, rules_file), allow_unicode=True, sort_keys=False))
    proc = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


def test_generated_rules_pass_promtool_check(tmp_path):
    f = tmp_path / "rules.yml"
    f.write_text(yaml.safe_dump(prometheus_rules(load_rules()), allow_unicode=True, sort_keys=False))
    proc = subprocess.run([PROMTOOL, "check", "rules", str(f)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_renders_the_same_vietnamese_and_english_summaries(tmp_path):
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(prometheus_rules(load_rules()), allow_unicode=True, sort_keys=False))
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "15s", "tests": [{
        "interval": "15s",
        "input_series": [
            {"series": 'dcops_ups_output_source{device="kg-ups-01",ups_output_source="battery"}', "values": "0 1 1"},
            {"series": 'dcops_ups_output_source{device="kg-ups-01",ups_output_source="normal"}', "values": "1 0 0"}],
        "alert_rule_test": [
            {"eval_time": "0s", "alertname": "DcopsUpsOnBattery", "exp_alerts": []},
            {"eval_time": "30s", "alertname": "DcopsUpsOnBattery", "exp_alerts": [{
                "exp_labels": {"device": "kg-ups-01", "severity": "critical", "source": "dcops"},
                "exp_annotations": {"summary": "UPS kg-ups-01 is on battery",
                                    "summary_vi": "UPS kg-ups-01 đang chạy bằng ắc quy"}}]}]}]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, allow_unicode=True, sort_keys=False), encoding="utf-8")
    proc = subprocess.run([PROMTOOL, "test", "rules", "test.yml"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
