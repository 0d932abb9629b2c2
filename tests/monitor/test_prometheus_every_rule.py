"""`promtool test rules` for every alert of monitors/alerts.yaml: each rule (each condition of an `any`, each
per-device override) gets a scenario — good, bad for its hold time and a few evaluations more, in the hysteresis
band when it has one, good again for its clear hold time and more. The embedded AlertEngine runs the scenarios
poll by poll; it must fire each alert exactly after its hold time, keep it through the hysteresis band and
resolve it exactly after its clear hold time, and what it has firing after every poll is the expectation of one
`promtool test rules` unit test over the generated rules (Debian's Prometheus 2.42 evaluating them its own way).
"""
import json
import math
import re
import shutil
import subprocess

import pytest
import yaml

from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.export import alert_name, prometheus_rules
from dcops.monitor.poller import ANSWERED_STATES, DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store
from tests.monitor.test_prometheus_agreement import firing_now

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="Debian's prometheus (promtool) is not installed")
STEP = 15
T0 = 1_800_000_000.0
LEAD = 3  # good evaluations before the trouble, and evaluations past each hold time


def _label_value(rx: str) -> str:
    return next(v for v in (rx, "x1") if re.fullmatch(rx, v))


def scenarios(rules):
    """(alert, device, metric, labels, state metric?, per-step values, (bad_start, band_start, good_start), hold,
    clear hold) for every condition of every rule and every override."""
    out = []
    for rule in rules.rules:
        devices = [(f"t-{rule.name.replace('_', '-')}", "")] + [(d, d) for d in rule.overrides]
        for device, override in devices:
            conds, hold, clear_hold, _sev = rule.for_device(device)
            for i, c in enumerate(conds):
                dev = device if len(conds) == 1 else f"{device}-{i}"
                if override and len(conds) > 1:
                    pytest.fail(f"{rule.name}: an override of an any-rule needs its own device naming here")
                labels = {k: _label_value(rx) for k, rx in rule.labels.items()}
                h, k = math.ceil(hold / STEP), math.ceil(clear_hold / STEP)
                if c.state_in or c.state_not_in:
                    if c.metric == "device_state":
                        good, bad = "ok", (c.state_in or ["unreachable"])[0]
                    else:
                        good = "zz_good" if c.state_in else c.state_not_in[0]
                        bad = c.state_in[0] if c.state_in else "zz_bad"
                    band = None
                else:
                    limit = c.above if c.above is not None else c.below
                    clear = c.clear_below if c.above is not None else c.clear_above
                    sign = 1 if c.above is not None else -1
                    if clear is None and limit in (0, 1):  # a count above 0, a flag below 1
                        bad, good = (1, 0) if sign == 1 else (0, 1)
                    else:
                        d = abs(limit - clear) / 2 if clear is not None else abs(limit) / 10
                        bad, good = limit + sign * d, (clear if clear is not None else limit) - sign * d
                    band = (limit + clear) / 2 if clear is not None and clear != limit else None
                values = [good] * LEAD + [bad] * (h + LEAD)
                band_start = len(values)
                values += [band] * LEAD if band is not None else []
                good_start = len(values)
                values += [good] * (k + LEAD)
                out.append({"rule": rule, "alert": alert_name(rule, override), "device": dev, "metric": c.metric,
                            "labels": labels, "state": bool(c.state_in or c.state_not_in), "values": values,
                            "bad_start": LEAD, "band_start": band_start, "good_start": good_start, "h": h, "k": k,
                            "words": (good, bad)})
    return out


def embedded(rules, scs, steps, tmp_path):
    clock = [T0]
    eng = AlertEngine(rules, Store(tmp_path / "engine.db"), clock=lambda: clock[0])
    by_rule = {r.name: r for r in rules.rules}
    firing = []
    for t in range(steps):
        clock[0] = T0 + t * STEP
        polls = []
        for sc in scs:
            v = sc["values"][min(t, len(sc["values"]) - 1)]
            if sc["metric"] == "device_state":  # the engine derives it from the poll itself
                polls.append(DevicePoll(sc["device"], "p", clock[0], v in ANSWERED_STATES, state=v,
                                        error=None if v in ANSWERED_STATES else f"{v}: test"))
                continue
            s = (Sample(sc["metric"], dict(sc["labels"]), 1.0, "enum", "", state=v) if sc["state"]
                 else Sample(sc["metric"], dict(sc["labels"]), float(v), "gauge", ""))
            polls.append(DevicePoll(sc["device"], "p", clock[0], True, samples=[s]))
        eng.evaluate(polls)
        firing.append(firing_now(eng, by_rule))
    return firing


def test_every_alert_fires_after_its_hold_stays_through_hysteresis_and_resolves_in_both_engines(tmp_path):
    rules = load_rules()
    scs = scenarios(rules)
    steps = max(len(sc["values"]) for sc in scs)
    firing = embedded(rules, scs, steps, tmp_path)
    doc = prometheus_rules(rules)
    names = sorted({r["alert"] for r in doc["groups"][0]["rules"]})
    # every generated alert has a scenario of its own
    assert {sc["alert"] for sc in scs} == set(names)
    for sc in scs:  # the embedded engine first: each alert's own timeline, to the evaluation
        on = [t for t in range(steps) if any(n == sc["alert"] and json.loads(lab)["device"] == sc["device"]
                                             for n, lab in firing[t])]
        assert on, f"{sc['alert']} on {sc['device']} never fired"
        assert on[0] == sc["bad_start"] + sc["h"], (sc["alert"], on)  # after its hold time
        assert on[-1] == sc["good_start"] + sc["k"] - 1, (sc["alert"], on)  # through band and clear hold
        assert on == list(range(on[0], on[-1] + 1)), (sc["alert"], on)  # no gap
    series = []
    for sc in scs:
        sel = {"device": sc["device"], **sc["labels"]}
        vals = sc["values"] + [sc["values"][-1]] * (steps - len(sc["values"]))
        if sc["state"]:
            for word in sc["words"]:
                lab = ",".join(f'{k}="{v}"' for k, v in {**sel, sc["metric"]: word}.items())
                series.append({"series": f"dcops_{sc['metric']}{{{lab}}}",
                               "values": " ".join("1" if v == word else "0" for v in vals)})
        else:
            lab = ",".join(f'{k}="{v}"' for k, v in sel.items())
            series.append({"series": f"dcops_{sc['metric']}{{{lab}}}", "values": " ".join(f"{v:g}" for v in vals)})
    tests = [{"eval_time": f"{t * STEP}s", "alertname": name,
              "exp_alerts": [{"exp_labels": json.loads(lab)} for n, lab in sorted(now) if n == name]}
             for t, now in enumerate(firing) for name in names]
    for r in doc["groups"][0]["rules"]:
        r.pop("annotations")  # firing and labels here; the summaries have their own test
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    (tmp_path / "test.yml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yml"], "evaluation_interval": f"{STEP}s",
         "tests": [{"interval": f"{STEP}s", "input_series": series, "alert_rule_test": tests}]},
        allow_unicode=True, sort_keys=False))
    proc = subprocess.run([PROMTOOL, "test", "rules", "test.yml"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
