"""Synthetic simulator recordings from a profile (dcops/monitor/synth.py): every OID the profile polls is
answered, with the values its data declares, and a profile without a recording still simulates."""
from __future__ import annotations

import pytest

from dcops.monitor import sim, synth
from dcops.monitor.profiles import Profile, evaluate, load_profiles


def varbinds(text: str) -> dict[str, object]:
    """snmprec -> what an agent would answer first (writecache value, numeric initial)."""
    out: dict[str, object] = {}
    for line in text.splitlines():
        oid, tag, value = line.split("|", 2)
        kind = tag.split(":")[0]
        if ":" in tag:
            opts = dict(p.split("=", 1) for p in value.split(","))
            value = opts.get("value", opts.get("initial", "0"))
        out[oid] = value.encode() if kind == "4" else value if kind == "6" else int(value)
    return out


@pytest.mark.parametrize("name", sorted(load_profiles()))
def test_every_shipped_profile_is_fully_answered(name: str) -> None:
    profile = load_profiles()[name]
    vb = varbinds(synth.recording(profile, "dev-1"))
    fallbacks = {m.fallback.oid for m in profile.metrics if m.fallback}
    assert set(profile.scalar_oids) - fallbacks <= set(vb)
    for col in profile.walk_oids:
        assert any(o.startswith(col + ".") for o in vb), col
    ev = evaluate(profile, vb)
    assert {m.name for m in profile.metrics} <= {s.metric for s in ev.samples}, ev.hints
    assert ev.implausible == []
    assert vb["1.3.6.1.2.1.1.5.0"] == b"dev-1"
    lines = synth.recording(profile, "dev-1").splitlines()
    keys = [tuple(int(p) for p in ln.split("|", 1)[0].split(".")) for ln in lines]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)  # snmpsim needs them sorted and unique


def _profile(metrics: list[dict]) -> Profile:
    return Profile.model_validate({"name": "x-ups", "kind": "ups", "metrics": metrics})


def test_hints_values_ranges_states_and_rows() -> None:
    p = _profile([
        {"name": "ups_output_source", "oid": "1.3.6.1.4.1.9.1.0", "type": "enum",
         "states": {1: "other", 3: "normal", 5: "battery"}},
        {"name": "ups_battery_status", "oid": "1.3.6.1.4.1.9.2.0", "type": "enum",
         "states": {2: "normal", 4: "fault"}, "sim": {"value": "fault"}},
        {"name": "ups_output_load_ratio", "oid": "1.3.6.1.4.1.9.3.0", "scale": 0.01, "sim": {"min": 0.2, "max": 0.6}},
        {"name": "ups_battery_runtime_seconds", "oid": "1.3.6.1.4.1.9.4.0", "unit": "seconds", "sim": {"value": 900}},
        {"name": "ups_battery_temperature_celsius", "oid": "1.3.6.1.4.1.9.5.0", "unit": "celsius",
         "valid_min": 0, "valid_max": 60},
        {"name": "ups_input_voltage_volts", "walk": "1.3.6.1.4.1.9.6", "index": "phase", "unit": "volts",
         "sim": {"value": 231, "rows": 3}},
    ])
    ev = evaluate(p, varbinds(synth.recording(p)))
    got = sorted((s.metric, tuple(s.labels.items()), s.value, s.state) for s in ev.samples)
    assert got == sorted([
        ("ups_output_source", (), 3.0, "normal"),
        ("ups_battery_status", (), 4.0, "fault"),
        ("ups_output_load_ratio", (), 0.4, None),
        ("ups_battery_runtime_seconds", (), 900.0, None),
        ("ups_battery_temperature_celsius", (), 30.0, None),
        *[("ups_input_voltage_volts", (("phase", str(i)),), 231.0, None) for i in (1, 2, 3)],
    ])
    assert "1.3.6.1.4.1.9.1.0|2:writecache|value=3" in synth.recording(p).splitlines()  # settable: faults by SET


def test_a_state_word_the_metric_does_not_have_is_refused() -> None:
    p = _profile([{"name": "ups_output_source", "oid": "1.3.6.1.4.1.9.1.0", "type": "enum",
                   "states": {3: "normal", 5: "battery"}, "sim": {"value": "on_battery"}}])
    with pytest.raises(ValueError, match="sim value 'on_battery' of ups_output_source is not one of its states "
                                         r"\(normal, battery\)"):
        synth.recording(p)


def test_values_stay_inside_the_wire_types() -> None:
    p = _profile([{"name": "ups_seconds_on_battery_seconds", "oid": "1.3.6.1.4.1.9.1.0", "scale": 0.001,
                   "unit": "seconds"},
                  {"name": "ups_battery_temperature_celsius", "oid": "1.3.6.1.4.1.9.2.0", "sim": {"value": -5}}])
    lines = synth.recording(p).splitlines()
    assert "1.3.6.1.4.1.9.1.0|66:writecache|value=4294967295" in lines  # Gauge32 ceiling, not an overflow
    assert "1.3.6.1.4.1.9.2.0|2:writecache|value=-5" in lines  # negative: Integer32


def test_the_recording_in_the_repository_wins_and_a_missing_one_is_synthesised(tmp_path, monkeypatch) -> None:
    text, source = sim.recording_text(sim.SimDevice("kg-ups-01", "ups-rfc1628"))
    assert source.endswith("monitors/sim/ups-rfc1628.snmprec") and "Galaxy VS 80kVA" in text
    monkeypatch.setattr(sim, "RECORDINGS_DIR", tmp_path)  # as for a profile nobody recorded yet
    text, source = sim.recording_text(sim.SimDevice("kg-ups-01", "ups-rfc1628"))
    assert source == "synthetic (profile ups-rfc1628)" and "synthetic recording from profile ups-rfc1628" in text
    assert "1.3.6.1.2.1.1.5.0|4|kg-ups-01" in sim.render_recording(sim.SimDevice("kg-ups-01", "ups-rfc1628")).splitlines()
