"""Scenarios are data: every shipped one loads and names real devices; bad files fail clearly; timing."""
from __future__ import annotations

import threading
from pathlib import Path
import time

import pytest

from dcops.demo.scenario import Runner, ScenarioError, available, check_against, load, seconds
from dcops.model import load_inventory
from dcops.monitor.sim import sim_devices_from_inventory


def test_shipped_scenarios_load_and_name_inventory_devices():
    inv = load_inventory()
    devices = {d.name for d in sim_devices_from_inventory(inv)}
    lines = {ln.name for ln in inv.leased_lines}
    names = available()
    assert {"mains-failure", "cooling-failure", "leased-line-down", "bad-firewall-change"} <= set(names)
    for n in names:
        sc = load(n)
        assert sc.steps and sc.title and sc.summary
        assert check_against(sc, devices, lines) == [], n


def test_check_against_names_unknown_devices_and_lines():
    sc = load("leased-line-down")
    problems = check_against(sc, devices=set(), lines={"isp2-viettel"})
    assert any("kg-lb-01" in p for p in problems) and any("isp1-vnpt" in p for p in problems)


@pytest.mark.parametrize("text, expected", [("90s", 90), ("2m", 120), ("1m30s", 90), (5, 5), ("0.5s", 0.5)])
def test_durations(text, expected):
    assert seconds(text) == expected


def test_bad_scenario_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: bad\ntitle: t\nsummary: s\nsteps:\n  - at: soon\n    snmp_set: {device: x, oid: 1.3, value: 1}\n"
                 "  - at: 1s\n    snmp_set: {device: x, oid: not-an-oid, value: 1}\n"
                 "  - at: 2s\n    snmp_set: {device: x, oid: '1.3', value: 1}\n    cut_line: {line: a}\n")
    with pytest.raises(ScenarioError) as e:
        load(p)
    msg = str(e.value)
    assert "steps.0.at" in msg and "steps.1.snmp_set.oid" in msg and "at most one action" in msg
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'.*mains-failure"):
        load("nope")


class Recorder:
    """Stands in for the site: records what the runner asks for, and when."""

    def __init__(self):
        self.calls, self.lock, self.t0 = [], threading.Lock(), time.monotonic()

    def snmp_set(self, a):
        with self.lock:
            self.calls.append((round(time.monotonic() - self.t0, 2), a.oid, a.value))

    def cut_line(self, a):
        raise RuntimeError("the lab is gone")


def test_runner_plays_steps_on_schedule_and_survives_a_failing_action(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\ntitle: t\nsummary: s\nsteps:\n"
                 "  - {at: 0s, snmp_set: {device: d, oid: '1.1', value: 5}}\n"
                 "  - {at: 0s, cut_line: {line: l}}\n"
                 "  - {at: 0s, ramp: {device: d, oid: '1.2', from: 10, to: 0, over: 4s, every: 1s}}\n"
                 "  - {at: 2s, say: later, snmp_set: {device: d, oid: '1.3', value: 1}}\n")
    rec, log = Recorder(), []
    r = Runner(rec, lambda n, m: log.append(m), speed=4)
    r.start(load(p))
    r.wait()
    r.stop()
    ramp = [v for _, oid, v in rec.calls if oid == "1.2"]
    assert ramp == [8, 5, 2, 0] or ramp == [8, 6, 4, 2, 0][-len(ramp):] and ramp[-1] == 0, ramp
    late = next(t for t, oid, _ in rec.calls if oid == "1.3")
    assert 0.4 <= late < 1.5, late          # 2 s at speed 4
    assert r.errors == ["s: cut_line failed: the lab is gone"]
    assert "later" in log and "finished" in log


def test_runner_stops_early():
    sc = load("mains-failure")
    rec = Recorder()
    r = Runner(rec, lambda n, m: None)
    r.start(sc)
    time.sleep(0.3)
    t = time.monotonic()
    r.stop()
    assert time.monotonic() - t < 3
    assert all(oid != "1.3.6.1.2.1.33.1.4.1.0" or v == 5 for _, oid, v in rec.calls)  # mains never "returned"


def test_every_scenario_value_is_accepted_by_the_simulated_agents(tmp_path):
    """Each SET a scenario makes (type included) is taken by the device's real snmpsim agent."""
    from dcops.demo.actions import Actions, Site
    from dcops.demo.scenario import SnmpSet
    from dcops.monitor.sim import start_agents
    inv = load_inventory()
    wanted = {d for n in available() for d in load(n).devices()}
    devs = [d for d in sim_devices_from_inventory(inv) if d.name in wanted]
    with start_agents(devs, workdir=tmp_path / "sim") as sim:
        acts = Actions(Site("t", Path("."), sim.targets_file, tmp_path, lab=False), inv)
        n = 0
        for name in available():
            for step in load(name).steps:
                a = step.action
                if a and a[0] == "snmp_set":
                    acts.snmp_set(a[1])
                    n += 1
                elif a and a[0] == "ramp":
                    r = a[1]
                    for v in (r.start, r.to):
                        acts.snmp_set(SnmpSet(device=r.device, oid=r.oid, value=round(v), type=r.type))
                        n += 1
        assert n >= 20
        with pytest.raises(RuntimeError, match="did not take integer"):   # a wrong type is an error, not a no-op
            acts.snmp_set(SnmpSet(device="kg-crac-01", oid="1.3.6.1.4.1.476.1.42.3.2.2.0", value=1))


def test_without_root_the_demo_record_goes_to_the_user_runtime_dir(monkeypatch, tmp_path):
    import importlib
    import os

    from dcops.demo import labstate
    from dcops.lab import state
    saved = state.STATE_DIR
    try:
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        monkeypatch.delenv("DCOPS_LAB_STATE_DIR", raising=False)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
        importlib.reload(labstate)
        assert state.STATE_DIR == tmp_path / "dcops-lab"
        with labstate.edit("dce-user") as st:
            st["dirs"].append("x")
        assert (tmp_path / "dcops-lab" / "dce-user.json").is_file()
    finally:
        state.STATE_DIR = saved
