"""The profiles against real-device recordings (LibreNMS test data in ../shared/snmprec/)."""
import asyncio
import math
import shutil

import pytest

import dcops
from dcops.monitor.poller import Poller
from dcops.monitor.sim import SimDevice, start_agents
from dcops.monitor.targets import Target, credentials_of

SHARED = dcops.PROJECT_ROOT.parent / "shared" / "snmprec" / "librenms"

# recording -> (profile, metrics that must come out of it)
CASES = {
    "abbups_abbups": ("ups-rfc1628", {"ups_battery_status", "ups_output_source", "ups_battery_charge_ratio"}),
    "eaton-mgeups_9px": ("ups-rfc1628", {"ups_battery_runtime_seconds", "ups_output_load_ratio",
                                         "ups_input_voltage_volts"}),
    "netvision-rfc": ("ups-rfc1628", {"ups_output_source", "ups_output_voltage_volts"}),
    "poweralert_ups": ("ups-rfc1628", {"ups_battery_status", "ups_output_load_ratio"}),
    "generex-ups_cs141": ("ups-rfc1628", {"ups_battery_status", "ups_output_load_ratio"}),
    "riello": ("ups-rfc1628", {"ups_battery_status", "ups_output_source"}),
    "apc_smart1500": ("apc-ups", {"ups_battery_temperature_celsius", "ups_battery_runtime_seconds", "ups_output_load_ratio",
                                  "ups_output_source"}),
    "apc_inrow-dx": ("apc-inrow", {"cooling_air_temperature_celsius", "cooling_humidity_ratio",
                                   "cooling_fan_speed_rpm", "cooling_alarm_relay_active"}),
    "liebert_weblbds": ("liebert-cooling", {"cooling_air_temperature_celsius", "cooling_humidity_ratio",
                                            "cooling_compressor_state"}),
    "stulz_wib8000": ("stulz-cooling", {"cooling_air_temperature_celsius", "cooling_humidity_ratio"}),
    "apc_netbotz": ("apc-netbotz", {"env_temperature_celsius", "env_humidity_ratio", "env_contact_alarm"}),
    "pepwave": ("if-mib", {"if_oper_status", "if_in_bytes_total", "if_speed_bits_per_second"}),
    "fortigate_60f": ("if-mib", {"if_oper_status", "if_in_bytes_total"}),
    "panos": ("if-mib", {"if_oper_status", "if_in_bytes_total"}),
    "asa": ("if-mib", {"if_oper_status", "if_in_bytes_total"}),
    "iosxe": ("if-mib", {"if_oper_status", "if_in_bytes_total", "if_in_errors_total"}),
}

PLAUSIBLE = {"celsius": (-20, 80), "ratio": (0, 1.5), "volts": (0, 1000), "hertz": (0, 500), "seconds": (0, 10**7)}

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} absent")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    work = tmp_path_factory.mktemp("librenms")
    devs = []
    for stem, (profile, _m) in CASES.items():
        src = SHARED / f"{stem}.snmprec"
        if src.exists():
            dst = work / "rec" / f"{stem}.snmprec"
            dst.parent.mkdir(exist_ok=True)
            shutil.copy(src, dst)
            devs.append(SimDevice(stem.replace("_", "-").lower(), profile, "2c", recording=str(dst)))
    h = start_agents(devs, workdir=work / "agents")
    try:
        yield h, devs
    finally:
        h.stop()


def test_profiles_poll_real_recordings_cleanly(recordings):
    h, devs = recordings
    targets = [Target(t.device, t.host, t.port, t.profile, credentials_of(t)) for t in h.targets]
    polls = asyncio.run(Poller(targets, timeout=3).poll_all())
    problems = []
    stems = {d.name: stem for d in devs for stem in CASES if stem.replace("_", "-").lower() == d.name}
    for p in polls:
        stem = stems[p.device]
        if not p.reachable:
            problems.append(f"{stem}: {p.error}")
            continue
        got = {s.metric for s in p.samples}
        missing = CASES[stem][1] - got
        if missing:
            problems.append(f"{stem}: missing {sorted(missing)}")
        for s in p.samples:
            if not math.isfinite(s.value):
                problems.append(f"{stem}: {s.metric} not finite")
            lo_hi = PLAUSIBLE.get(s.unit)
            if lo_hi and not (lo_hi[0] <= s.value <= lo_hi[1]) and "threshold" not in s.metric:
                problems.append(f"{stem}: {s.metric}{s.labels} = {s.value} {s.unit} implausible")
    assert not problems, "\n".join(problems)
