"""Every facility alarm the seed names, through the way it is wired: dry contacts on the environment
monitors (snmpsim agents serving the project's recordings), mapped by the inventory, raised by the rules."""
import asyncio

import pytest

import dcops
from dcops.demo.scenario import load
from dcops.model import load_inventory
from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.poller import Poller
from dcops.monitor.sim import SimDevice, start_agents
from dcops.monitor.store import Store
from dcops.monitor.targets import apply_sim, targets_from_inventory

INPUT = "1.3.6.1.4.1.318.1.1.10.4.3.2.1.5.0."  # memInputsStatusCurrentState.<module 0>.<input>


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    inv = load_inventory(dcops.DEFAULT_INVENTORY)
    devs = [SimDevice("kg-env-01", "apc-netbotz"), SimDevice("kg-env-02", "apc-netbotz"),
            SimDevice("env-750", "netbotz-750"), SimDevice("env-450", "netbotz-450", "2c"),
            SimDevice("env-akcp", "akcp-sensorprobe", "2c")]
    h = start_agents(devs, workdir=tmp_path_factory.mktemp("sim"), shared=True)
    try:
        targets = apply_sim(targets_from_inventory(inv, resolve=False), h.targets)
        yield h, targets
    finally:
        h.stop()


def _poll(targets, names):
    ts = [t for t in targets if t.name in names]
    return {p.device: p for p in asyncio.run(Poller(ts, timeout=2, retries=1).poll_all())}


def _alarms(poll):
    return {s.labels["role"]: s.state for s in poll.samples if s.metric == "facility_alarm"}


def test_every_mapped_input_reads_normal_at_rest(site):
    _h, targets = site
    polls = _poll(targets, {"kg-env-01", "kg-env-02"})
    assert _alarms(polls["kg-env-01"]) == {"fire_discharged": "normal", "fire_fault": "normal",
                                           "water_leak": "normal", "door_open": "normal", "door_forced": "normal"}
    assert _alarms(polls["kg-env-02"]) == {"spd_failed": "normal"}  # normally closed: closed is healthy


@pytest.mark.parametrize("scenario,rules", [
    ("fire-alarm", {("fire_suppression_discharged", "critical")}),
    ("water-leak", {("water_leak", "critical")}),
    ("door-forced", {("door_forced", "critical")}),
])
def test_scenario_raises_its_alarm_with_the_right_severity(site, tmp_path, scenario, rules):
    h, targets = site
    first = [s for s in load(scenario).steps if s.action and s.action[0] == "snmp_set"
             and s.at == 0]
    engine = AlertEngine(load_rules(), Store(tmp_path / "m.db"))
    engine.evaluate(list(_poll(targets, {"kg-env-01"}).values()))  # baseline: all normal
    try:
        for s in first:
            a = s.action[1]
            h.set(a.device, a.oid, a.value)
        fired = {(tr.rule, tr.severity) for tr in engine.evaluate(list(_poll(targets, {"kg-env-01"}).values()))
                 if tr.kind == "firing"}
    finally:
        for s in first:  # back to rest for the next test
            a = s.action[1]
            h.set(a.device, a.oid, 2)
    assert rules <= fired, fired


def test_failed_surge_protector_opens_its_contact(site, tmp_path):
    h, targets = site
    try:
        h.set("kg-env-02", INPUT + "5", 2)
        assert _alarms(_poll(targets, {"kg-env-02"})["kg-env-02"]) == {"spd_failed": "alarm"}
    finally:
        h.set("kg-env-02", INPUT + "5", 1)


def test_a_mapped_input_the_appliance_does_not_report_is_missing_not_normal(site):
    from dataclasses import replace
    _h, targets = site
    t = next(t for t in targets if t.name == "kg-env-02")
    t = replace(t, contacts={**t.contacts, "Tủ báo cháy (đổi tên)": ("fire_discharged", "kg-fire-01", ("closed",))})
    [p] = asyncio.run(Poller([t], timeout=2).poll_all())
    assert _alarms(p)["fire_discharged"] == "missing"


def test_current_netbotz_generation_and_akcp(site):
    _h, targets = site
    polls = _poll(targets, {"env-750", "env-450", "env-akcp"})
    for name in ("env-750", "env-450"):
        p = polls[name]
        assert p.state == "ok", (name, p.error, p.warnings)
        temps = {s.labels["sensor"]: s.value for s in p.samples if s.metric == "env_temperature_celsius"}
        assert temps == {"Nóng-Rack-B1": 27.4, "Lạnh-Rack-B1": 20.9}
        contacts = {s.labels["contact"]: s.state for s in p.samples if s.metric == "env_contact_state"}
        assert contacts == {"Cửa tủ B1": "closed", "Tủ báo cháy: đã xả khí": "open",
                            "Chống sét lan truyền: SPD hỏng": "closed"}
    leak = [s for s in polls["env-750"].samples if s.metric == "env_leak_state"]
    assert [(s.labels["contact"], s.state) for s in leak] == [("Dây cảm biến rò nước sàn nâng", "no_leak")]
    akcp = polls["env-akcp"]
    assert {s.labels["contact"]: s.state for s in akcp.samples if s.metric == "env_contact_state"} == {
        "Dây rò nước phòng nguồn": "normal", "Tủ báo cháy: lỗi": "normal"}  # noStatus input left out
    assert [s.value for s in akcp.samples if s.metric == "env_humidity_ratio"] == [0.55]
