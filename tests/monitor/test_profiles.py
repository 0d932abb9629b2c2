from pathlib import Path

import pytest

from dcops.monitor.profiles import ABSENT, ProfileError, evaluate, get_profile, load_profile, load_profiles

REQUIRED = {"ups-rfc1628", "apc-ups", "if-mib", "liebert-cooling", "apc-inrow", "apc-netbotz"}


def test_every_required_profile_is_a_data_file():
    profiles = load_profiles()
    assert REQUIRED <= set(profiles)
    for name, p in profiles.items():
        assert p.name == name
        assert p.scalar_oids[0] == p.uptime_oid


def test_inventory_profiles_exist():
    import dcops
    from dcops.model import load_inventory
    inv = load_inventory(dcops.DEFAULT_INVENTORY)
    used = {d.snmp.profile for d in (*inv.facility, *inv.network_devices) if d.snmp}
    assert used <= set(load_profiles())


def test_bad_profile_is_a_clear_error(tmp_path: Path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: broken\nkind: ups\nmetrics:\n  - name: x\n    oid: not-an-oid\n")
    with pytest.raises(ProfileError, match=r"broken.yaml: metrics.0.oid"):
        load_profile(p)
    p.write_text("name: other\nkind: ups\nmetrics:\n  - name: x\n    oid: 1.3.6.1.2.1.1.3.0\n")
    with pytest.raises(ProfileError, match="must match the file name"):
        load_profile(p)
    with pytest.raises(ProfileError, match="unknown SNMP profile"):
        get_profile("no-such-profile")


def test_scaling_units_enum_and_absent_values():
    p = get_profile("ups-rfc1628")
    u = "1.3.6.1.2.1.33.1"
    ev = evaluate(p, {
        "1.3.6.1.2.1.1.3.0": 500, f"{u}.2.1.0": 3, f"{u}.2.3.0": 7, f"{u}.2.4.0": 40,
        f"{u}.4.1.0": 5, f"{u}.4.4.1.5.1": 81, f"{u}.4.4.1.5.2": 79,
        f"{u}.2.7.0": ABSENT,  # noSuchInstance: no sample at all, never zero
    })
    by = {(s.metric, tuple(s.labels.items())): s for s in ev.samples}
    assert by[("ups_battery_runtime_seconds", ())].value == 420
    assert by[("ups_battery_charge_ratio", ())].value == pytest.approx(0.40)
    assert by[("ups_output_source", ())].state == "battery"
    assert by[("ups_battery_status", ())].state == "low"
    assert by[("ups_output_load_ratio", (("phase", "1"),))].value == pytest.approx(0.81)
    assert not any(s.metric == "ups_battery_temperature_celsius" for s in ev.samples)
    assert ev.uptime_ticks == 500


def test_sentinel_readings_are_absent():
    p = get_profile("apc-netbotz")
    col = "1.3.6.1.4.1.318.1.1.10.5.1.1.1"
    ev = evaluate(p, {f"{col}.5.1": 238, f"{col}.5.2": -2147483647, f"{col}.3.1": b"THUM-01",
                      f"{col}.3.2": b"Wireless"})
    temps = [s for s in ev.samples if s.metric == "env_temperature_celsius"]
    assert [(s.labels["sensor"], s.value) for s in temps] == [("THUM-01", pytest.approx(23.8))]


def test_self_describing_table_rows_chosen_by_description_and_unit():
    p = get_profile("apc-inrow")
    t = "1.3.6.1.4.1.318.1.1.27.1.4.1.2.1"
    vb = {f"{t}.2.1.1": b"Supply Temperature", f"{t}.3.1.1": 194, f"{t}.4.1.1": b"C", f"{t}.5.1.1": 10,
          f"{t}.2.1.2": b"Supply Temperature", f"{t}.3.1.2": 671, f"{t}.4.1.2": b"F", f"{t}.5.1.2": 10}
    temps = [s for s in evaluate(p, vb).samples if s.metric == "cooling_air_temperature_celsius"]
    assert [(s.labels["sensor"], round(s.value, 1)) for s in temps] == [("supply_air", 19.4)]


def test_committed_recordings_match_their_generator():
    import importlib.util

    import dcops
    gen = dcops.PROJECT_ROOT / "monitors" / "sim" / "generate.py"
    spec = importlib.util.spec_from_file_location("sim_generate", gen)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for fname, text in mod.render().items():
        assert (gen.parent / fname).read_text(encoding="utf-8") == text, f"run python {gen} ({fname} is stale)"


def test_if_mib_falls_back_to_32bit_counters_without_ifxtable():
    p = get_profile("if-mib")
    vb = {"1.3.6.1.2.1.2.2.1.10.1": 4294967000, "1.3.6.1.2.1.2.2.1.5.1": 100_000_000,
          "1.3.6.1.2.1.2.2.1.2.1": b"eth0"}
    ev = {s.metric: s for s in evaluate(p, vb).samples}
    assert ev["if_in_bytes_total"].bits == 32 and ev["if_in_bytes_total"].raw == 4294967000
    assert ev["if_speed_bits_per_second"].value == 100_000_000
    vb["1.3.6.1.2.1.31.1.1.1.6.1"] = 5  # with ifXTable the 64-bit column wins
    assert {s.metric: s for s in evaluate(p, vb).samples}["if_in_bytes_total"].bits == 64


def test_long_table_indexes_are_kept():
    p = get_profile("apc-netbotz")
    col = "1.3.6.1.4.1.318.1.1.10.5.1.1.1"
    idx = "5.104.97.108.108.49.2.10.0"  # a string-and-address style index, 9 arcs
    ev = evaluate(p, {f"{col}.5.{idx}": 250, f"{col}.3.{idx}": b"Hall1"})
    t = [s for s in ev.samples if s.metric == "env_temperature_celsius"]
    assert [(s.labels["sensor_index"], s.labels["sensor"], s.value) for s in t] == [(idx, "Hall1", 25.0)]
