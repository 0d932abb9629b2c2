"""A device that answers garbage is not a device that is down: every poll state (malformed, rejected,
unreachable, implausible value, profile matched nothing, never polled) is its own state in `dcops monitor
--once --json`, in the store, on /metrics, and raises its own alert rule."""
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dcops.monitor import metrics
from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.poller import DevicePoll, Poller
from dcops.monitor.snmp import ber
from dcops.monitor.snmp.errors import Credentials
from dcops.monitor.store import Store
from dcops.monitor.targets import Target

from .hostile import SYS_NAME, SYS_UPTIME, FakeAgent, plaintext_forger, v2c_agent

V_IN = "1.3.6.1.2.1.33.1.3.3.1.3"  # upsInputVoltage, ups-rfc1628 profile: volts
UPS_SCALARS = {SYS_UPTIME: (ber.T_TIMETICKS, 100), SYS_NAME: b"ups", "1.3.6.1.2.1.33.1.4.1.0": 3}


def _ups(volts):
    rows = {f"{V_IN}.{i + 1}": v for i, v in enumerate(volts)}
    key = lambda o: tuple(int(x) for x in o.split("."))  # noqa: E731

    def walk(oid):
        nxt = sorted((k for k in rows if key(k) > key(oid) and k.startswith(V_IN + ".")), key=key)
        return (nxt[0], rows[nxt[0]]) if nxt else None
    return v2c_agent(walk, scalars=UPS_SCALARS)


# Throwaway keys of the forging agent's user (built here: no key-looking literal for the secret scan).
FAKE_AUTH, FAKE_PRIV = ("-".join((kind, "pass", "not", "secret")) for kind in ("auth", "priv"))


def _sim(name, port, profile, version="2c"):
    return dict(device=name, host="127.0.0.1", port=port, profile=profile, version=version, community="public",
                user="noc" if version == "3" else None, auth_key=FAKE_AUTH, priv_key=FAKE_PRIV, context=None,
                auth_protocol="SHA256", priv_protocol="AES")


@pytest.fixture
def hostile_site(tmp_path):
    """One device of every kind of trouble, each a fake agent on 127.0.0.1 (plus a port nobody answers)."""
    agents = {
        "ups-healthy": (FakeAgent(_ups([230, 231, 229])), "ups-rfc1628", "2c"),
        "ups-decivolts": (FakeAgent(_ups([2301, 2298, 2305])), "ups-rfc1628", "2c"),
        "env-garbage": (FakeAgent(v2c_agent(garbage=lambda req: req[:12] + b"\xff" * 20)), "apc-netbotz", "2c"),
        "env-wrong-profile": (FakeAgent(v2c_agent()), "apc-netbotz", "2c"),  # answers, but no NetBotz MIB
        "ups-forged": (FakeAgent(plaintext_forger()), "ups-rfc1628", "3"),  # plaintext answers to authPriv
    }
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    targets = [_sim(n, a.port, prof, v) for n, (a, prof, v) in agents.items()]
    targets.append(_sim("ups-silent", silent.getsockname()[1], "ups-rfc1628"))
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    try:
        yield tmp_path
    finally:
        for a, _p, _v in agents.values():
            a.stop()
        silent.close()


EXPECTED_STATES = {"ups-healthy": "ok", "ups-decivolts": "implausible", "env-garbage": "malformed",
                   "env-wrong-profile": "profile_matched_nothing", "ups-forged": "rejected",
                   "ups-silent": "unreachable"}


def test_monitor_once_reports_each_state_stores_counts_and_alerts_each_differently(hostile_site):
    db = hostile_site / "m.db"
    proc = subprocess.run(
        [sys.executable, "-m", "dcops.cli", "monitor", "--once", "--json", "--sim", str(hostile_site / "targets.json"),
         "--db", str(db), "--timeout", "0.5", "--retries", "0", "--trap-port", "0", "--metrics-port", "0"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, DCOPS_STATE_DIR=str(hostile_site)))
    assert proc.returncode == 1, proc.stderr[-2000:]  # some devices gave no usable answer
    polls = {p["device"]: p for p in json.loads(proc.stdout)}
    assert {d: p["state"] for d, p in polls.items()} == EXPECTED_STATES
    assert {d for d, p in polls.items() if p["reachable"]} == {"ups-healthy", "ups-decivolts", "env-wrong-profile"}
    assert polls["env-garbage"]["error"].startswith("malformed response from 127.0.0.1:")
    assert "security level noAuthNoPriv in answer to an authPriv request" in polls["ups-forged"]["error"]
    assert not [s for s in polls["ups-forged"]["samples"] if s["metric"] != "snmp_implausible_values"]

    # /metrics from what the monitor stored: one current state per device
    store = Store(db)
    store.register_device("ups-spare", "ups-rfc1628", "ups", "not polled yet")
    fams = {f.name: f for f in text_string_to_metric_families(metrics.render(store))}
    current = {s.labels["device"]: s.labels["device_state"] for s in fams["dcops_device_state"].samples
               if s.value == 1}
    assert current == {**EXPECTED_STATES, "ups-spare": "never_polled"}
    per_device = {}
    for s in fams["dcops_device_state"].samples:
        per_device[s.labels["device"]] = per_device.get(s.labels["device"], 0) + s.value
    assert set(per_device.values()) == {1}
    up = {s.labels["device"]: s.value for s in fams["dcops_device_up"].samples}
    assert "ups-spare" not in up  # never polled is neither up nor down
    assert up == {"ups-healthy": 1, "ups-decivolts": 1, "env-wrong-profile": 1, "env-garbage": 0, "ups-forged": 0,
                  "ups-silent": 0}

    # the shipped rules: a rule per kind of trouble (those with a hold time are pending after one cycle)
    with sqlite3.connect(db) as c:
        alerts = set(c.execute("SELECT rule, device, state FROM alerts").fetchall())
    assert alerts == {
        ("implausible_value", "ups-decivolts", "firing"),
        ("profile_matched_nothing", "env-wrong-profile", "firing"),
        ("device_answers_rejected", "ups-forged", "firing"),
        ("device_malformed", "env-garbage", "pending"),
        ("device_unreachable", "ups-silent", "pending"),
    }


class _Clock:
    def __init__(self):
        self.t = 1_800_000_000.0

    def __call__(self):
        return self.t


def _engine(tmp_path):
    clock = _Clock()
    return AlertEngine(load_rules(), Store(tmp_path / "m.db"), clock=clock), clock


def _fired(transitions, kind="firing"):
    return {(t.rule, t.device) for t in transitions if t.kind == kind}


def test_malformed_answers_raise_device_malformed_never_device_unreachable(tmp_path):
    with FakeAgent(v2c_agent(garbage=lambda req: req[:12] + b"\xff" * 20)) as bad:
        t = Target("kg-ups-01", "127.0.0.1", bad.port, "ups-rfc1628", Credentials("2c", community="public"))
        [p] = asyncio.run(Poller([t], timeout=0.5, retries=0).poll_all())
    assert p.state == "malformed"
    eng, clock = _engine(tmp_path)
    assert eng.evaluate([p]) == []  # held for 60 s, as an outage is
    clock.t += 61
    assert _fired(eng.evaluate([p])) == {("device_malformed", "kg-ups-01")}
    with eng.store.read() as db:
        row = db.execute("SELECT severity, summary_en, summary_vi FROM alerts WHERE rule='device_malformed'").fetchone()
    assert row["severity"] == "critical"
    assert row["summary_en"] == ("kg-ups-01 sends malformed SNMP answers: no readings (agent firmware bug or forged "
                                 "packets)")
    assert row["summary_vi"].startswith("kg-ups-01 trả lời SNMP sai định dạng")
    # the agent is fixed: the alert resolves, nothing else ever fired
    ok = DevicePoll("kg-ups-01", "ups-rfc1628", clock.t, True, state="ok")
    clock.t += 30
    assert _fired(eng.evaluate([ok]), "resolved") == {("device_malformed", "kg-ups-01")}
    with eng.store.read() as db:
        assert {r[0] for r in db.execute("SELECT rule FROM alerts")} == {"device_malformed"}


@pytest.mark.parametrize("state,error,rule", [
    ("unreachable", "unreachable: no response from 10.0.0.1:161", "device_unreachable"),
    ("deadline", "poll deadline of 5 s exceeded during the walk of the table columns", "device_unreachable"),
    ("error", "internal error: ValueError: x", "device_unreachable"),
    ("malformed", "malformed response from 10.0.0.1:161: truncated", "device_malformed"),
    ("rejected", "no valid response from 10.0.0.1:161: 1 answer rejected", "device_answers_rejected"),
])
def test_each_failed_state_has_exactly_one_rule(tmp_path, state, error, rule):
    eng, clock = _engine(tmp_path)
    p = DevicePoll("kg-ups-01", "ups-rfc1628", clock.t, False, error, state=state)
    eng.evaluate([p])
    clock.t += 61
    eng.evaluate([p])
    with eng.store.read() as db:
        assert [tuple(r) for r in db.execute("SELECT rule, state FROM alerts")] == [(rule, "firing")]


def test_a_poll_made_without_a_state_still_gets_one_from_its_error(tmp_path):
    """Polls written before states existed (or by hand) carry only reachable + error text."""
    eng, clock = _engine(tmp_path)
    p = DevicePoll("kg-ups-01", "ups-rfc1628", clock.t, False, "malformed response from 10.0.0.1:161: truncated")
    eng.evaluate([p])
    clock.t += 61
    assert _fired(eng.evaluate([p])) == {("device_malformed", "kg-ups-01")}


def test_rules_for_states_are_valid_prometheus_rules_too():
    from dcops.monitor.export import prometheus_rules
    exprs = {r["alert"]: r["expr"] for r in prometheus_rules(load_rules())["groups"][0]["rules"]}
    assert exprs["DcopsDeviceUnreachable"] == ('max without (device_state) (dcops_device_state{device_state=~'
                                              '"unreachable|deadline|error"} == 1)')
    assert exprs["DcopsDeviceMalformed"] == ('max without (device_state) (dcops_device_state{device_state=~'
                                             '"malformed"} == 1)')
