"""Values that are physically possible: ranges and sentinels, per-device scale overrides with the probe's
hint, "profile matched nothing", and the 32-bit counter ambiguity bounded by speed / the line ceiling."""
import asyncio
import json
import os
import subprocess
import sys

import pytest

from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.poller import DEFAULT_LINE_CEILING_BPS, Poller
from dcops.monitor.profiles import Profile, evaluate, get_profile
from dcops.monitor.rates import RateTracker
from dcops.monitor.snmp import ber
from dcops.monitor.snmp.errors import Credentials
from dcops.monitor.store import Store
from dcops.monitor.targets import Target

from .hostile import SYS_NAME, SYS_UPTIME, FakeAgent, v2c_agent

V_IN = "1.3.6.1.2.1.33.1.3.3.1.3"  # upsInputVoltage (ups-rfc1628: volts, scale 1)
RUNTIME_APC = "1.3.6.1.4.1.318.1.1.1.2.2.3.0"  # upsAdvBatteryRunTimeRemaining, TimeTicks


def _phases(volts: list[int]):
    rows = {f"{V_IN}.{i + 1}": v for i, v in enumerate(volts)}

    def walk(oid):
        nxt = sorted((k for k in rows if ber_key(k) > ber_key(oid) and k.startswith(V_IN + ".")), key=ber_key)
        return (nxt[0], rows[nxt[0]]) if nxt else None
    return walk


def ber_key(oid):
    return tuple(int(x) for x in oid.split("."))


def test_decivolts_are_dropped_counted_and_hinted():
    prof = get_profile("ups-rfc1628")
    ev = evaluate(prof, {SYS_UPTIME: 5, f"{V_IN}.1": 2301, f"{V_IN}.2": 2298})
    assert not [s for s in ev.samples if s.metric == "ups_input_voltage_volts"]
    assert ev.implausible == ["ups_input_voltage_volts{phase=1}=2301 (outside 0..1000 volts)",
                              "ups_input_voltage_volts{phase=2}=2298 (outside 0..1000 volts)"]
    assert ev.hints[0] == ("ups_input_voltage_volts reads 2301 volts, off by 10^1 from its range 0..1000: if the "
                           "agent reports in another unit, set snmp.scale: {ups_input_voltage_volts: 0.1} for this "
                           "device in the inventory")
    fixed = evaluate(prof, {SYS_UPTIME: 5, f"{V_IN}.1": 2301}, scale={"ups_input_voltage_volts": 0.1})
    [v] = [s for s in fixed.samples if s.metric == "ups_input_voltage_volts"]
    assert v.value == pytest.approx(230.1) and not fixed.implausible


def test_runtime_all_ones_is_unknown_not_a_reading_nor_implausible():
    ev = evaluate(get_profile("apc-ups"), {SYS_UPTIME: 5, RUNTIME_APC: 0xFFFFFFFF})
    assert not [s for s in ev.samples if s.metric == "ups_battery_runtime_seconds"]
    assert not ev.implausible


def test_not_a_number_is_implausible():
    prof = Profile.model_validate({"name": "t", "kind": "sensor", "metrics": [
        {"name": "env_temperature_celsius", "oid": "1.3.6.1.4.1.9.1.0", "unit": "celsius"}]})
    ev = evaluate(prof, {"1.3.6.1.4.1.9.1.0": b"nan"})
    assert not ev.samples and ev.implausible == ["env_temperature_celsius{}=nan (not a number)"]


def test_every_shipped_gauge_has_a_physical_range():
    from dcops.monitor.profiles import load_profiles, valid_range
    missing = [f"{p.name}:{m.name}" for p in load_profiles().values() for m in p.metrics
               if m.type == "gauge" and m.unit and valid_range(m) == (float("-inf"), float("inf"))]
    assert not missing


def _ups_agent(volts):
    return v2c_agent(_phases(volts), scalars={SYS_UPTIME: (ber.T_TIMETICKS, 100), SYS_NAME: b"ups",
                                             "1.3.6.1.2.1.33.1.4.1.0": 3})


def test_poll_flags_the_device_and_the_rule_fires(tmp_path):
    with FakeAgent(_ups_agent([2301, 2298, 2305])) as agent:
        t = Target("kg-ups-09", "127.0.0.1", agent.port, "ups-rfc1628", Credentials("2c", community="public"))
        [p] = asyncio.run(Poller([t], timeout=1, retries=0).poll_all())
    assert p.reachable and p.state == "implausible" and len(p.implausible) == 3
    assert {s.metric: s.value for s in p.samples}["snmp_implausible_values"] == 3
    assert not [s for s in p.samples if s.metric == "ups_input_voltage_volts"]
    engine = AlertEngine(load_rules(), Store(tmp_path / "m.db"))
    fired = {tr.rule for tr in engine.evaluate([p]) if tr.kind == "firing"}
    assert fired == {"implausible_value"}  # answering with impossible values is not being unreachable


def test_probe_prints_the_scale_hint_and_inventory_override_fixes_it(tmp_path):
    with FakeAgent(_ups_agent([2301, 2298, 2305])) as agent:
        r = subprocess.run([sys.executable, "-m", "dcops.cli", "snmp", "probe", f"127.0.0.1:{agent.port}",
                            "--profile", "ups-rfc1628", "--community", "public", "--timeout", "1", "--retries", "0"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, COLUMNS="300"))
        t = Target("kg-ups-09", "127.0.0.1", agent.port, "ups-rfc1628", Credentials("2c", community="public"),
                   scale={"ups_input_voltage_volts": 0.1})
        [p] = asyncio.run(Poller([t], timeout=1, retries=0).poll_all())
    assert "implausible value dropped: ups_input_voltage_volts{phase=1}=2301 (outside 0..1000 volts)" in r.stderr
    assert "set snmp.scale: {ups_input_voltage_volts: 0.1}" in r.stderr
    assert not p.implausible
    assert sorted(round(s.value, 1) for s in p.samples if s.metric == "ups_input_voltage_volts") == [229.8, 230.1,
                                                                                                      230.5]


def test_inventory_scale_reaches_the_target():
    import dcops
    from dcops.model import load_inventory
    from dcops.model.schema import SnmpSettings
    from dcops.monitor.targets import targets_from_inventory
    s = SnmpSettings(profile="ups-rfc1628", scale={"ups_input_voltage_volts": 0.1})
    assert s.scale == {"ups_input_voltage_volts": 0.1}
    with pytest.raises(ValueError):
        SnmpSettings(profile="ups-rfc1628", scale={"ups_input_voltage_volts": 0})
    inv = load_inventory(dcops.DEFAULT_INVENTORY)
    assert all(t.scale == {} for t in targets_from_inventory(inv, resolve=False))


def test_profile_that_matches_nothing_is_a_state_not_health():
    with FakeAgent(v2c_agent()) as agent:  # answers sysUpTime/sysName only
        t = Target("kg-env-09", "127.0.0.1", agent.port, "apc-netbotz", Credentials("2c", community="public"))
        [p] = asyncio.run(Poller([t], timeout=1, retries=0).poll_all())
        r = subprocess.run([sys.executable, "-m", "dcops.cli", "snmp", "probe", f"127.0.0.1:{agent.port}",
                            "--profile", "apc-netbotz", "--community", "public", "--timeout", "1", "--json"],
                           capture_output=True, text=True, timeout=60)
    assert p.reachable and p.state == "profile_matched_nothing"
    assert "profile apc-netbotz matched nothing on this device" in p.warnings[0]
    assert {s.metric: s.value for s in p.samples}["snmp_profile_readings"] == 0
    assert r.returncode == 1 and json.loads(r.stdout)["state"] == "profile_matched_nothing"


# ---------------------------------------------------------------- the 32-bit counter ambiguity

def test_32bit_drop_without_reboot_or_speed_is_bounded_by_the_line_ceiling():
    """ifInOctets (32-bit) goes from 4.0e9 to 1.0e9 in 30 s, no sysUpTime reset, no ifSpeed: a wrap would
    mean 344 Mbit/s, above the 300 Mbit/s line ceiling, so it is a discontinuity, not a rate."""
    r = RateTracker()
    ceiling = DEFAULT_LINE_CEILING_BPS / 8
    r.rate("d", "k", 4_000_000_000, 32, 0.0, ceiling)
    assert r.rate("d", "k", 1_000_000_000, 32, 30.0, ceiling) is None
    # a genuine wrap at 100 Mbit/s stays a rate
    r.rate("d", "k2", 2**32 - 100_000_000, 32, 0.0, ceiling)
    assert r.rate("d", "k2", 275_000_000, 32, 30.0, ceiling) == pytest.approx(12_500_000)


def test_poller_ceiling_precedence():
    p = Poller([], profiles={})
    from dcops.monitor.profiles import Sample
    smp = Sample("if_in_bytes_total", {"ifIndex": "3", "ifName": "wan1"}, 0, "counter", "bytes")
    t = Target("lb", "127.0.0.1", 161, "if-mib", Credentials("2c"), bandwidth_mbps={"wan1": 300})
    assert p._ceiling(t, smp, {"3": 1e9}) == 1e9 / 8  # the interface's speed first
    assert p._ceiling(t, smp, {}) == 300e6 / 8  # then the contracted line
    assert p._ceiling(Target("x", "h", 1, "if-mib", Credentials("2c")), smp, {}) == DEFAULT_LINE_CEILING_BPS / 8
