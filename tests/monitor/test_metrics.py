import time

from prometheus_client.parser import text_string_to_metric_families

from dcops.monitor import metrics
from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store


def test_exposition_parses_and_escapes_device_strings(tmp_path):
    st = Store(tmp_path / "m.db")
    evil = 'APC "NMC"\nline2 \\ back'
    st.write_poll(DevicePoll("kg-ups-02", "apc-ups", time.time(), True, info={"sys_descr": evil}, samples=[
        Sample("ups_output_source", {}, 3, "enum", "", state="battery"),
        Sample("ups_battery_runtime_seconds", {}, 1860.0, "gauge", "seconds"),
        Sample("if_in_bytes_total", {"ifIndex": "1", "ifName": 'wan"1'}, 2.0**64 - 1, "counter", "bytes",
               raw=2**64 - 1)]))
    st.write_poll(DevicePoll("kg-ups-01", "ups-rfc1628", time.time(), False, "unreachable: timeout"))
    fams = {f.name: f for f in text_string_to_metric_families(metrics.render(st))}
    info = fams["dcops_device_info"].samples[0]
    assert info.labels["sys_descr"] == evil
    up = {s.labels["device"]: s.value for s in fams["dcops_device_up"].samples}
    assert up == {"kg-ups-02": 1, "kg-ups-01": 0}
    src = {s.labels["ups_output_source"]: s.value for s in fams["dcops_ups_output_source"].samples}
    assert src["battery"] == 1 and src["normal"] == 0 and sum(src.values()) == 1
    assert fams["dcops_ups_battery_runtime_seconds"].samples[0].value == 1860
    ctr = fams["dcops_if_in_bytes"]  # the parser strips _total from counter family names
    assert ctr.type == "counter" and ctr.samples[0].labels["ifName"] == 'wan"1'
    # an unreachable device exports no stale values
    assert all(s.labels.get("device") != "kg-ups-01" for f in fams.values() for s in f.samples
               if f.name not in ("dcops_device_up", "dcops_device_last_poll_timestamp_seconds", "dcops_device_state"))
    state = {(s.labels["device"], s.labels["device_state"]): s.value for s in fams["dcops_device_state"].samples}
    assert state[("kg-ups-01", "unreachable")] == 1 and state[("kg-ups-02", "ok")] == 1
    assert sum(v for (d, _s), v in state.items() if d == "kg-ups-01") == 1


def test_malformed_rejected_and_never_polled_are_states_of_their_own(tmp_path):
    st = Store(tmp_path / "m.db")
    st.register_device("kg-env-09", "apc-netbotz", "sensor", "never polled")
    st.write_poll(DevicePoll("kg-ups-03", "apc-ups", time.time(), False,
                             "malformed response from 10.0.0.3:161: INTEGER of 11 bytes (more than 64 bits)"))
    st.write_poll(DevicePoll("kg-ups-04", "apc-ups", time.time(), False,
                             "no valid response from 10.0.0.4:161: 1 answer rejected: security level noAuthNoPriv"))
    fams = {f.name: f for f in text_string_to_metric_families(metrics.render(st))}
    cur = {s.labels["device"]: s.labels["device_state"] for s in fams["dcops_device_state"].samples if s.value == 1}
    assert cur == {"kg-env-09": "never_polled", "kg-ups-03": "malformed", "kg-ups-04": "rejected"}
    assert "dcops_snmp_discarded_answers" in fams


def test_an_enum_shared_by_two_profiles_is_one_series_per_state_word_and_knows_every_word(tmp_path):
    """ups_output_source: apc-ups maps several codes to "other" and "bypass", the UPS-MIB (ups-rfc1628) has
    "none". Each word once (Prometheus drops a repeated series as a duplicate sample) and "none" is a state."""
    st = Store(tmp_path / "m.db")
    st.write_poll(DevicePoll("kg-dr-ups-01", "ups-rfc1628", time.time(), True, samples=[
        Sample("ups_output_source", {}, 2, "enum", "", state="none")]))
    lines = [x for x in metrics.render(st).splitlines() if x.startswith("dcops_ups_output_source{")]
    assert len(lines) == len(set(lines))
    fams = {f.name: f for f in text_string_to_metric_families(metrics.render(st))}
    src = {s.labels["ups_output_source"]: s.value for s in fams["dcops_ups_output_source"].samples}
    assert len(lines) == 7
    assert src == {"other": 0, "normal": 0, "battery": 0, "booster": 0, "bypass": 0, "reducer": 0, "none": 1}
