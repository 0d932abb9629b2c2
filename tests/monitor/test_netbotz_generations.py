"""Three NetBotz generations (Rack Monitor 250 on PowerNet-MIB, 450 on NETBOTZV2-MIB, 750/755 on NetBotz50-MIB,
enterprise 52674) through snmpsim serving the project's recordings: each profile reads its own appliance, a
wrong one is "profile matched nothing" (never healthy), and the poll names the profile that fits by sysObjectID."""
import asyncio
import json
import subprocess
import sys
from dataclasses import replace

import pytest

from dcops.monitor.poller import Poller
from dcops.monitor.profiles import profiles_for_sys_object_id
from dcops.monitor.sim import SimDevice, start_agents
from dcops.monitor.targets import Target, credentials_of


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    devs = [SimDevice("env-250", "apc-netbotz", "2c"), SimDevice("env-450", "netbotz-450", "2c"),
            SimDevice("env-750", "netbotz-750", "2c")]
    h = start_agents(devs, workdir=tmp_path_factory.mktemp("sim"), shared=True)
    try:
        yield {t.device: Target(t.device, t.host, t.port, t.profile, credentials_of(t)) for t in h.targets}
    finally:
        h.stop()


def _poll(t):
    [p] = asyncio.run(Poller([t], timeout=2, retries=1).poll_all())
    return p


def test_sys_object_ids_name_one_profile_each():
    assert profiles_for_sys_object_id("1.3.6.1.4.1.52674.500.1") == ["netbotz-750"]
    assert profiles_for_sys_object_id(".1.3.6.1.4.1.5528.100.20.10.2013") == ["netbotz-450"]
    assert profiles_for_sys_object_id("1.3.6.1.4.1.318.1.3.8.5") == ["apc-netbotz"]  # the LibreNMS NBRK0250A
    assert profiles_for_sys_object_id("1.3.6.1.4.1.5266") == []
    assert profiles_for_sys_object_id("1.3.6.1.4.1.52674") == []  # the vendor, not the appliance


@pytest.mark.parametrize("name", ["env-250", "env-450", "env-750"])
def test_each_generation_reads_with_its_own_profile(agents, name):
    p = _poll(agents[name])
    assert (p.reachable, p.state) == (True, "ok"), (p.error, p.warnings)
    temps = sorted(s.value for s in p.samples if s.metric == "env_temperature_celsius")
    assert temps and all(15 <= v <= 35 for v in temps), temps


def test_750_values_come_from_the_string_column_not_the_whole_unit_value_column(agents):
    p = _poll(agents["env-750"])
    assert {s.labels["sensor"]: s.value for s in p.samples if s.metric == "env_temperature_celsius"} == {
        "Nóng-Rack-B1": 27.4, "Lạnh-Rack-B1": 20.9}  # the Value column holds 27 and 21
    assert {s.labels["sensor"]: s.value for s in p.samples if s.metric == "env_humidity_ratio"} == {
        "Nóng-Rack-B1": 0.48, "Lạnh-Rack-B1": 0.51}
    assert p.info["sys_object_id"] == "1.3.6.1.4.1.52674.500.1"


@pytest.mark.parametrize("name,wrong,right", [
    ("env-750", "apc-netbotz", "netbotz-750"),
    ("env-750", "netbotz-450", "netbotz-750"),
    ("env-450", "netbotz-750", "netbotz-450"),
    ("env-250", "netbotz-750", "apc-netbotz"),
])
def test_a_wrong_generation_is_profile_matched_nothing_and_the_poll_names_the_right_one(agents, name, wrong, right):
    p = _poll(replace(agents[name], profile=wrong))
    assert (p.reachable, p.state) == (True, "profile_matched_nothing")
    assert p.warnings[-1] == (f"its sysObjectID {p.info['sys_object_id']} is a device of profile {right}: "
                              f"set snmp.profile: {right} for this device in the inventory")


def test_probe_says_so_and_exits_1(agents):
    t = agents["env-750"]
    r = subprocess.run([sys.executable, "-m", "dcops.cli", "snmp", "probe", f"{t.host}:{t.port}", "--profile",
                        "apc-netbotz", "--community", t.creds.community, "--json"],
                       capture_output=True, text=True, timeout=60)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["state"] == "profile_matched_nothing"
    assert out["warnings"] == [
        "profile apc-netbotz matched nothing on this device (0 readings from 4 values): wrong profile, or the agent "
        "lacks these MIBs",
        "its sysObjectID 1.3.6.1.4.1.52674.500.1 is a device of profile netbotz-750: set snmp.profile: netbotz-750 "
        "for this device in the inventory"]  # as docs/monitoring.md shows it


def test_the_inventory_pairs_every_netbotz_model_with_the_profile_of_its_mib():
    import dcops
    from dcops.model import load_inventory
    inv = load_inventory(dcops.DEFAULT_INVENTORY)
    fits = {"NetBotz Rack Monitor 250": "apc-netbotz", "NetBotz 250": "apc-netbotz", "NetBotz 450": "netbotz-450",
            "NetBotz 750": "netbotz-750", "NetBotz 755": "netbotz-750"}
    netbotz = {d.name: (d.model, d.snmp.profile) for d in inv.facility if "NetBotz" in (d.model or "")}
    assert set(netbotz) == {"kg-env-01", "kg-env-02"}
    for name, (model, profile) in netbotz.items():
        [expected] = {p for m, p in fits.items() if model.startswith(m)}
        assert profile == expected, (name, model, profile)
