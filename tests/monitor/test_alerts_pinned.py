"""Alert engine behaviour pinned at its edges (issue 20): hold and clear timers to the second, hysteresis
bands at their thresholds, relapses, resolved instances, the rule filters, and the rules file's errors."""
from __future__ import annotations

import pytest

from dcops.monitor.alerts import AlertEngine, RulesError, Transition, active_alerts, load_rules, parse_duration
from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store

T0 = 1_800_000_000.0

RULES = """\
defaults:
  clear_for: 60s
rules:
  - name: temp_high
    metric: temp
    above: 30
    clear_below: 25
    for: 60s
    clear_for: 60s
    summary_vi: "{device} nóng {value}"
    summary_en: "{device} hot {value}"
    overrides:
      dev-b: {above: 40, for: 0s, clear_for: 0s, severity: critical}
  - name: charge_low
    metric: charge
    below: 0.5
    clear_above: 0.6
    clear_for: 0s
    severity: critical
  - name: status_bad
    metric: status
    state_not_in: [ok]
    clear_for: 0s
    severity: info
  - name: cpu_fw_only
    metric: cpu
    above: 90
    devices: [fw1]
    clear_for: 0s
  - name: cpu_ups_profile_only
    metric: cpu
    above: 95
    profiles: [ups-rfc1628]
    clear_for: 0s
  - name: wan_util
    metric: util
    above: 0.8
    labels: {ifName: "wan[0-9]"}
    clear_for: 0s
  - name: battery_any
    any:
      - {metric: bat_charge, below: 0.5}
      - {metric: bat_runtime, below: 600}
    clear_for: 0s
"""


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def engine_on(tmp_path, rules: str, name: str = "alerts"):
    """An engine on these rules, its store and its clock (at T0), in tmp_path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(rules, encoding="utf-8")
    clock = Clock()
    store = Store(tmp_path / f"{name}.db")
    return AlertEngine(load_rules(path), store, clock=clock), store, clock


@pytest.fixture
def env(tmp_path):
    return engine_on(tmp_path, RULES)


def poll(device: str, *samples: Sample, profile: str = "env", reachable: bool = True) -> DevicePoll:
    return DevicePoll(device, profile, 0, reachable, None if reachable else "unreachable", samples=list(samples))


def temp(v: float) -> Sample:
    return Sample("temp", {"sensor": "s1"}, v, "gauge", "celsius")


def kinds(ts: list[Transition]) -> list[tuple[str, str, str]]:
    return [(t.rule, t.device, t.kind) for t in ts]


def rows(store) -> list[tuple]:
    with store.read() as db:
        return [tuple(r) for r in db.execute("SELECT id, rule, device, state FROM alerts ORDER BY id")]


# ---------------------------------------------------------------- hold times

def test_pending_fires_exactly_when_the_hold_time_is_reached(env):
    eng, store, clock = env
    assert eng.evaluate([poll("dev-a", temp(31))]) == []
    clock.t = T0 + 59.9
    assert eng.evaluate([poll("dev-a", temp(31))]) == []
    clock.t = T0 + 60
    t = eng.evaluate([poll("dev-a", temp(32))])
    assert len(t) == 1
    x = t[0]
    assert (x.rule, x.device, x.labels, x.kind, x.severity, x.value, x.ts) == (
        "temp_high", "dev-a", {"sensor": "s1"}, "firing", "warning", 32, T0 + 60)
    assert (x.summary_vi, x.summary_en) == ("dev-a nóng 32,0 °C", "dev-a hot 32.0 °C")
    assert x.alert_id == rows(store)[0][0]
    assert rows(store) == [(x.alert_id, "temp_high", "dev-a", "firing")]


def test_resolves_exactly_when_the_clear_time_is_reached(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-a", temp(31))])
    clock.t += 60
    fired = eng.evaluate([poll("dev-a", temp(31))])
    clock.t += 10
    assert eng.evaluate([poll("dev-a", temp(20))]) == []  # clear timer starts
    clock.t += 59.9
    assert eng.evaluate([poll("dev-a", temp(20))]) == []
    clock.t += 0.1
    t = eng.evaluate([poll("dev-a", temp(20))])
    assert kinds(t) == [("temp_high", "dev-a", "resolved")]
    assert (t[0].alert_id, t[0].value, t[0].severity, t[0].summary_en) == (fired[0].alert_id, 20, "warning",
                                                                          "dev-a hot 31.0 °C")
    assert rows(store) == [(fired[0].alert_id, "temp_high", "dev-a", "resolved")]


def test_relapse_resets_the_clear_timer(env):
    """Good, bad again, good: the clear time counts from the last good reading, not the first."""
    eng, store, clock = env
    eng.evaluate([poll("dev-a", temp(31))])
    clock.t += 60
    assert kinds(eng.evaluate([poll("dev-a", temp(31))])) == [("temp_high", "dev-a", "firing")]
    clock.t += 10
    assert eng.evaluate([poll("dev-a", temp(20))]) == []   # clear timer starts
    clock.t += 30
    assert eng.evaluate([poll("dev-a", temp(31))]) == []   # relapse: the timer is reset
    with store.read() as db:
        assert db.execute("SELECT clear_since FROM alerts").fetchone()[0] is None
    clock.t += 10
    assert eng.evaluate([poll("dev-a", temp(20))]) == []   # timer starts again here
    clock.t += 55                                          # 95 s after the first good reading
    assert eng.evaluate([poll("dev-a", temp(20))]) == []
    clock.t += 5
    assert kinds(eng.evaluate([poll("dev-a", temp(20))])) == [("temp_high", "dev-a", "resolved")]


def test_a_resolved_alert_is_gone_no_second_recovery(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-b", temp(41))])
    assert kinds(eng.evaluate([poll("dev-b", temp(10))])) == [("temp_high", "dev-b", "resolved")]
    for _ in range(3):
        clock.t += 30
        assert eng.evaluate([poll("dev-b", temp(10))]) == []
    assert [r[3] for r in rows(store)] == ["resolved"]
    # a new incident is a new alert
    clock.t += 30
    t = eng.evaluate([poll("dev-b", temp(45))])
    assert kinds(t) == [("temp_high", "dev-b", "firing")]
    assert [r[3] for r in rows(store)] == ["resolved", "firing"] and t[0].alert_id == rows(store)[1][0]


def test_a_second_spike_after_a_short_one_starts_its_own_hold_time(env):
    eng, store, clock = env
    assert eng.evaluate([poll("dev-a", temp(35))]) == []   # pending
    clock.t += 20
    assert eng.evaluate([poll("dev-a", temp(20))]) == []   # the spike is over: no trace
    assert rows(store) == []
    clock.t += 100                                         # long after the first spike's hold time
    assert eng.evaluate([poll("dev-a", temp(35))]) == []   # pending again, not firing at once
    assert [r[3] for r in rows(store)] == ["pending"]
    clock.t += 59
    assert eng.evaluate([poll("dev-a", temp(35))]) == []
    clock.t += 1
    assert kinds(eng.evaluate([poll("dev-a", temp(35))])) == [("temp_high", "dev-a", "firing")]


# ---------------------------------------------------------------- hysteresis and conditions

def test_above_threshold_is_strict_and_clear_below_band_holds_the_alert(env):
    eng, store, clock = env
    assert eng.evaluate([poll("dev-b", temp(40))]) == []   # 40 is not above 40
    assert rows(store) == []
    assert kinds(eng.evaluate([poll("dev-b", temp(40.5))])) == [("temp_high", "dev-b", "firing")]
    # dev-b's override keeps the rule's clear_below 25: between 25 and 40 the alert holds
    assert eng.evaluate([poll("dev-b", temp(30))]) == []
    assert eng.evaluate([poll("dev-b", temp(25.5))]) == []
    assert kinds(eng.evaluate([poll("dev-b", temp(25))])) == [("temp_high", "dev-b", "resolved")]


def test_below_threshold_is_strict_and_clear_above_band_holds_the_alert(env):
    eng, store, clock = env
    ch = lambda v: Sample("charge", {}, v, "gauge", "ratio")  # noqa: E731
    assert eng.evaluate([poll("ups", ch(0.5))]) == []
    t = eng.evaluate([poll("ups", ch(0.49))])
    assert kinds(t) == [("charge_low", "ups", "firing")] and t[0].severity == "critical"
    assert t[0].summary_en == "charge_low ups"  # no template: rule and device
    assert eng.evaluate([poll("ups", ch(0.55))]) == []
    assert eng.evaluate([poll("ups", ch(0.59))]) == []
    assert kinds(eng.evaluate([poll("ups", ch(0.6))])) == [("charge_low", "ups", "resolved")]


def test_state_not_in(env):
    eng, store, clock = env
    st = lambda s: Sample("status", {}, 1, "enum", "", state=s)  # noqa: E731
    assert eng.evaluate([poll("x", st("ok"))]) == []
    t = eng.evaluate([poll("x", st("degraded"))])
    assert kinds(t) == [("status_bad", "x", "firing")] and t[0].severity == "info"
    assert kinds(eng.evaluate([poll("x", st("ok"))])) == [("status_bad", "x", "resolved")]


def test_any_condition_bad_fires_whatever_the_order(env):
    eng, store, clock = env
    good_charge, low_runtime = Sample("bat_charge", {}, 0.9), Sample("bat_runtime", {}, 300)
    t = eng.evaluate([poll("u1", good_charge, low_runtime), poll("u2", low_runtime, good_charge)])
    assert kinds(t) == [("battery_any", "u1", "firing"), ("battery_any", "u2", "firing")]
    # one still bad keeps it firing
    assert eng.evaluate([poll("u1", Sample("bat_charge", {}, 0.4), Sample("bat_runtime", {}, 900))]) == []
    assert kinds(eng.evaluate([poll("u1", good_charge, Sample("bat_runtime", {}, 900))])) == [
        ("battery_any", "u1", "resolved")]


def test_per_device_override_changes_threshold_hold_and_severity(env):
    eng, store, clock = env
    t = eng.evaluate([poll("dev-a", temp(35)), poll("dev-b", temp(35))])
    assert t == []                                          # dev-a pending (for 60 s); dev-b's threshold is 40
    assert [(r[2], r[3]) for r in rows(store)] == [("dev-a", "pending")]
    t = eng.evaluate([poll("dev-b", temp(41))])
    assert kinds(t) == [("temp_high", "dev-b", "firing")] and t[0].severity == "critical"


# ---------------------------------------------------------------- rule filters

def test_device_filter(env):
    eng, store, clock = env
    cpu = Sample("cpu", {}, 92)
    t = eng.evaluate([poll("fw1", cpu), poll("fw2", cpu)])
    assert kinds(t) == [("cpu_fw_only", "fw1", "firing")]


def test_profile_filter(env):
    eng, store, clock = env
    cpu = Sample("cpu", {}, 97)
    t = eng.evaluate([poll("u1", cpu, profile="ups-rfc1628"), poll("u2", cpu, profile="apc-netbotz")])
    assert kinds(t) == [("cpu_ups_profile_only", "u1", "firing")]


def test_label_filter_is_a_full_match_and_a_missing_label_never_matches(env):
    eng, store, clock = env
    u = lambda labels: Sample("util", labels, 0.9, "gauge", "ratio")  # noqa: E731
    t = eng.evaluate([poll("lb", u({"ifName": "wan1"}), u({"ifName": "wan12"}), u({"ifName": "xwan1"}),
                           u({"ifIndex": "3"}))])
    assert [(x.rule, x.labels) for x in t] == [("wan_util", {"ifName": "wan1"})]


def test_unreachable_device_keeps_its_alerts_and_fires_nothing_else(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-b", temp(45))])
    clock.t += 3600
    assert eng.evaluate([poll("dev-b", reachable=False)]) == []
    assert [(a["rule"], a["device"]) for a in active_alerts(store, now=clock.t)] == [("temp_high", "dev-b")]


def test_engine_resumes_pending_and_firing_from_the_store(env, tmp_path):
    eng, store, clock = env
    eng.evaluate([poll("dev-a", temp(35)), poll("dev-b", temp(45))])
    clock.t += 30
    again = AlertEngine(eng.rules, store, clock=clock)
    assert again.evaluate([poll("dev-b", temp(45))]) == []  # already firing
    clock.t += 30
    # dev-a's hold time counts from the first reading, before the restart
    assert kinds(again.evaluate([poll("dev-a", temp(35))])) == [("temp_high", "dev-a", "firing")]
    shard = AlertEngine(eng.rules, store, clock=clock, devices={"other"})
    assert shard._inst == {}


# ---------------------------------------------------------------- the rules file

@pytest.mark.parametrize("text,unit_seconds", [("250ms", 0.25), ("30", 30), ("30s", 30), ("5m", 300),
                                               ("2h", 7200), ("1d", 86400), ("1.5m", 90), (45, 45.0)])
def test_durations(text, unit_seconds):
    assert parse_duration(text) == unit_seconds


def test_bad_duration_is_a_clear_error():
    with pytest.raises(ValueError, match=r"^bad duration '5 minutes' \(use e.g. 30s, 5m, 1h\)$"):
        parse_duration("5 minutes")


@pytest.mark.parametrize("body,message", [
    ("  - name: r\n    metric: m\n", "rule 'r': a condition needs exactly one of above, below, state_in, state_not_in"),
    ("  - name: r\n    metric: m\n    above: 1\n    below: 2\n",
     "rule 'r': a condition needs exactly one of above, below, state_in, state_not_in"),
    ("  - name: r\n    metric: m\n    below: 5\n    clear_above: 4\n",
     "rule 'r': clear_above must not be below the 'below' threshold"),
    ("  - name: r\n    metric: m\n    above: 5\n    clear_below: 6\n",
     "rule 'r': clear_below must not be above the 'above' threshold"),
    ("  - name: r\n    above: 5\n", "rule 'r': a rule has either 'metric' (one condition) or 'any' (a list)"),
    ("  - name: r\n    metric: m\n    above: 5\n    overrides: {d1: {colour: red}}\n",
     "rule 'r': override for d1: unknown keys ['colour']"),
    ("  - name: r\n    metric: m\n    above: 5\n  - name: r\n    metric: m\n    above: 6\n",
     "rules: duplicate rule names: ['r']"),
    ("  - name: Bad-Name\n    metric: m\n    above: 5\n", "rule 'Bad-Name': name: String should match pattern '^[a-z][a-z0-9_]*$'"),
])
def test_rules_file_errors_name_the_rule_and_the_reason(tmp_path, body, message):
    p = tmp_path / "alerts.yaml"
    p.write_text("rules:\n" + body, encoding="utf-8")
    with pytest.raises(RulesError) as e:
        load_rules(p)
    assert str(e.value) == f"{p}: {message}"


def test_rules_file_that_is_not_yaml(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r": not valid YAML: "):
        load_rules(p)


def test_defaults_apply_to_every_rule_and_a_rule_overrides_them(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_text("defaults: {clear_for: 2m, severity: critical}\nrules:\n  - {name: a, metric: m, above: 1}\n"
                 "  - {name: b, metric: m, above: 1, severity: info}\n", encoding="utf-8")
    a, b = load_rules(p).rules
    assert (a.clear_for, a.severity, b.clear_for, b.severity, a.for_) == (120.0, "critical", 120.0, "info", 0)


def test_notification_defaults_are_all_off_and_local():
    """A rules file without `notify` sends nothing anywhere; the documented defaults, exactly."""
    from dcops.monitor.alerts import NotifyConfig
    assert NotifyConfig().model_dump() == {
        "email": {"enabled": False, "smtp_host": "127.0.0.1", "smtp_port": 25, "starttls": False, "username": None,
                  "password_ref": None, "sender": "dcops-noc@localhost", "to": ()},
        "webhook": {"enabled": False, "url": "", "timeout": 5},
        "telegram": {"enabled": False, "token_ref": None, "chat_ids": (), "api_base": "https://api.telegram.org",
                     "timeout": 10},
        "escalation": {"enabled": False, "after": 900, "severities": ("critical",), "telegram_chat_ids": (),
                       "email_to": ()},
    }


def test_rule_defaults_fire_at_once_and_clear_after_a_minute():
    from dcops.monitor.alerts import Rule
    r = Rule(name="r", metric="m", above=1)
    assert (r.for_, r.clear_for, r.severity, r.devices, r.profiles, r.labels) == (0, 60, "warning", (), (), {})


@pytest.mark.parametrize("base,ok", [("https://relay.example", True), ("http://127.0.0.1:8080", True),
                                     ("http://localhost:8080", True), ("http://[::1]:8080", True),
                                     ("http://relay.example", False), ("ftp://127.0.0.1", False)])
def test_telegram_api_base_is_https_or_this_machine(base, ok):
    from pydantic import ValidationError

    from dcops.monitor.alerts import Telegram
    if ok:
        assert Telegram(api_base=base).api_base == base
    else:
        with pytest.raises(ValidationError, match=r"api_base must be https:// \(http:// only to 127.0.0.1\)"):
            Telegram(api_base=base)


def test_escalation_after_accepts_a_duration():
    from dcops.monitor.alerts import Escalation
    assert Escalation(after="15m").after == 900.0


# ---------------------------------------------------------------- traps

def events(store, kind: str) -> list[tuple]:
    with store.read() as db:
        return [tuple(r) for r in db.execute("SELECT kind, device, text FROM events WHERE kind=? ORDER BY id", (kind,))]


def test_an_unknown_trap_raises_its_own_alert_at_once(env):
    eng, store, clock = env
    t = eng.on_trap("lb", "link_down", "critical", text="  port 3 ")
    assert len(t) == 1
    x = t[0]
    assert (x.rule, x.device, x.labels, x.kind, x.severity, x.value, x.ts) == (
        "trap_link_down", "lb", {}, "firing", "critical", None, T0)
    assert (x.summary_vi, x.summary_en) == ("Trap trap_link_down từ lb", "Trap trap_link_down from lb")
    with store.read() as db:
        assert [tuple(r) for r in db.execute("SELECT rule, device, labels, state, severity, source FROM alerts")] == [
            ("trap_link_down", "lb", "{}", "firing", "critical", "trap")]
    assert events(store, "trap") == [("trap", "lb", "link_down   port 3")]
    assert eng.on_trap("lb", "link_down", "critical") == []  # the same trap again: still the one alert
    assert len(rows(store)) == 1


def test_a_trap_with_an_odd_name_or_severity_gets_safe_ones(env):
    eng, store, clock = env
    t = eng.on_trap("lb", "Link-Down!", "emergency")
    assert [(x.rule, x.severity, x.summary_en) for x in t] == [("trap_event", "warning", "Trap trap_Link-Down! from lb")]
    t = eng.on_trap("lb2", "fan", "info")
    assert [(x.rule, x.severity) for x in t] == [("trap_fan", "info")]
    assert events(store, "trap") == [("trap", "lb", "Link-Down!"), ("trap", "lb2", "fan")]


def test_a_clearing_trap_resolves_only_that_device_and_only_trap_raised_alerts(env):
    eng, store, clock = env
    eng.on_trap("lb", "link_down", "critical")
    eng.on_trap("lb2", "link_down", "critical")
    eng.evaluate([poll("dev-b", temp(45))])                       # raised by the poll, not by a trap
    assert eng.on_trap("lb", "link_up", "info", clears="link_down") != []
    assert sorted((a["rule"], a["device"]) for a in active_alerts(store, now=clock.t)) == [
        ("temp_high", "dev-b"), ("trap_link_down", "lb2")]
    assert eng.on_trap("dev-b", "cooled", clears="temp_high") == []  # a trap never clears what a poll raised
    assert eng.on_trap("lb", "link_up", "info", clears="link_down") == []  # nothing left to clear
    t = eng.on_trap("lb2", "link_up", "info", clears="link_down")
    assert [(x.rule, x.device, x.kind, x.severity) for x in t] == [("trap_link_down", "lb2", "resolved", "critical")]


def test_a_trap_for_a_known_rule_uses_the_rule_and_the_poll_clears_it(env):
    eng, store, clock = env
    t = eng.on_trap("dev-a", "temp_high", "critical")
    # fires at once (a trap has no hold time), with the rule's own severity and summary
    assert [(x.rule, x.kind, x.severity, x.summary_en) for x in t] == [("temp_high", "firing", "warning",
                                                                       "dev-a hot ")]
    clock.t += 10
    assert eng.evaluate([poll("dev-a", temp(20))]) == []          # good reading: the clear time starts
    clock.t += 59
    assert eng.evaluate([poll("dev-a", temp(20))]) == []
    clock.t += 1
    t = eng.evaluate([poll("dev-a", temp(20))])
    assert [(x.rule, x.labels, x.kind) for x in t] == [("temp_high", {}, "resolved")]


def test_a_trap_does_not_duplicate_an_alert_the_poll_already_raised(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-b", temp(45))])
    assert eng.on_trap("dev-b", "temp_high", "critical") == []
    assert [(r[1], r[2], r[3]) for r in rows(store)] == [("temp_high", "dev-b", "firing")]


def test_a_trap_raised_alert_stays_while_the_poll_still_sees_the_condition(env):
    eng, store, clock = env
    eng.on_trap("dev-a", "temp_high")
    clock.t += 600
    assert eng.evaluate([poll("dev-a", temp(35))]) == []          # the poll's own (labelled) instance: pending
    clock.t += 600
    assert [(x.labels, x.kind) for x in eng.evaluate([poll("dev-a", temp(35))])] == [({"sensor": "s1"}, "firing")]
    with store.read() as db:
        trap_row = db.execute("SELECT state FROM alerts WHERE source='trap'").fetchone()
    assert trap_row[0] == "firing"


# ---------------------------------------------------------------- notifications (a recording channel: the
# real e-mail, webhook and Telegram channels are tested in test_alerts.py; here: what the engine sends when)

class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple] = []
        self.fail = fail

    def send(self, alert: dict, kind: str) -> None:
        if self.fail:
            raise OSError("channel down")
        self.sent.append((alert["rule"], alert["device"], kind))


def engine_with(env, tmp_path, notify: str = "", **kw):
    _eng, store, clock = env
    path = tmp_path / "alerts-notify.yaml"
    path.write_text(RULES + notify, encoding="utf-8")
    return AlertEngine(load_rules(path), store, clock=clock, **kw)


def test_each_transition_is_announced_once(env, tmp_path):
    _e, store, clock = env
    rec = Recorder()
    eng = engine_with(env, tmp_path, notifier=rec)
    assert eng.flush_notifications() == 0
    eng.evaluate([poll("dev-b", temp(45)), poll("dev-a", temp(45))])  # dev-a only pending: nothing to say
    assert eng.flush_notifications() == 1 and eng.flush_notifications() == 0
    eng.evaluate([poll("dev-b", temp(10))])
    assert eng.flush_notifications() == 1 and eng.flush_notifications() == 0
    assert rec.sent == [("temp_high", "dev-b", "firing"), ("temp_high", "dev-b", "resolved")]


def test_a_failed_channel_is_retried_and_logged(env, tmp_path):
    _e, store, clock = env
    rec = Recorder(fail=True)
    eng = engine_with(env, tmp_path, notifier=rec)
    eng.evaluate([poll("dev-b", temp(45))])
    assert eng.flush_notifications() == 0
    assert events(store, "notify_error") == [("notify_error", "dev-b", "firing temp_high: channel down")]
    rec.fail = False
    assert eng.flush_notifications() == 1 and rec.sent == [("temp_high", "dev-b", "firing")]


def test_maintenance_window_holds_the_firing_and_swallows_the_recovery_of_an_unannounced_alert(env, tmp_path):
    from dcops.monitor.alerts import add_silence
    _e, store, clock = env
    rec = Recorder()
    eng = engine_with(env, tmp_path, notifier=rec)
    add_silence(store, "device:dev-b", T0 - 1, T0 + 600, "replacing a sensor", "ops")
    eng.evaluate([poll("dev-b", temp(45)), poll("x", Sample("status", {}, 1, "enum", "", state="bad"))])
    assert eng.flush_notifications() == 1 and rec.sent == [("status_bad", "x", "firing")]  # dev-b held back
    eng.evaluate([poll("dev-b", temp(10))])
    assert eng.flush_notifications() == 0          # its recovery is never announced either …
    clock.t = T0 + 601
    assert eng.flush_notifications() == 0          # … not even after the window
    assert rec.sent == [("status_bad", "x", "firing")]


def test_an_alert_still_firing_when_the_window_ends_is_announced_then(env, tmp_path):
    from dcops.monitor.alerts import add_silence
    _e, store, clock = env
    rec = Recorder()
    eng = engine_with(env, tmp_path, notifier=rec)
    add_silence(store, "*", T0, T0 + 600, "site work", "ops")
    eng.evaluate([poll("dev-b", temp(45))])
    assert eng.flush_notifications() == 0
    clock.t = T0 + 600                              # the window ends (exclusive)
    assert eng.flush_notifications() == 1 and rec.sent == [("temp_high", "dev-b", "firing")]


def test_a_shard_announces_only_its_own_devices(env, tmp_path):
    _e, store, clock = env
    rec_a, rec_b = Recorder(), Recorder()
    a = engine_with(env, tmp_path, notifier=rec_a, devices={"dev-a"})
    b = engine_with(env, tmp_path, notifier=rec_b, devices={"dev-b"})
    b.evaluate([poll("dev-b", temp(45))])
    assert a.flush_notifications() == 0 and rec_a.sent == []
    assert b.flush_notifications() == 1 and rec_b.sent == [("temp_high", "dev-b", "firing")]


ESCALATE = """\
notify:
  escalation: {enabled: true, after: 10m}
"""


def test_escalation_once_for_unacknowledged_critical_alerts_after_the_delay(env, tmp_path):
    from dcops.monitor.alerts import acknowledge
    _e, store, clock = env
    first, second = Recorder(), Recorder()
    eng = engine_with(env, tmp_path, ESCALATE, notifier=first, escalation=second)
    eng.evaluate([poll("dev-b", temp(45)), poll("ups", Sample("charge", {}, 0.1)),       # two critical
                  poll("dev-c", temp(45))])                                              # dev-c: warning, pending
    acked = next(r for r in rows(store) if r[2] == "ups")[0]
    assert acknowledge(store, acked, "an.nv") is True
    assert eng.flush_notifications() == 2            # both critical announced, nothing escalated yet
    clock.t = T0 + 599
    assert eng.escalate() == 0
    clock.t = T0 + 600
    assert eng.escalate() == 1
    assert second.sent == [("temp_high", "dev-b", "escalation")]
    assert eng.escalate() == 0                       # once
    (ev,) = events(store, "escalation")
    assert ev[1:] == ("dev-b", f"alert {rows(store)[0][0]} (temp_high) not acknowledged in 600 s: escalated")


def test_no_escalation_when_disabled_or_without_a_second_contact(env, tmp_path):
    _e, store, clock = env
    rec = Recorder()
    eng = engine_with(env, tmp_path, "", notifier=rec, escalation=rec)   # escalation not enabled
    eng.evaluate([poll("dev-b", temp(45))])
    clock.t = T0 + 3600
    assert eng.escalate() == 0
    assert engine_with(env, tmp_path, ESCALATE, notifier=rec).escalate() == 0  # enabled, nobody to call
    assert [s[2] for s in rec.sent] == []


def test_escalation_is_held_in_a_maintenance_window_and_retried_after_a_failure(env, tmp_path):
    from dcops.monitor.alerts import add_silence
    _e, store, clock = env
    second = Recorder(fail=True)
    eng = engine_with(env, tmp_path, ESCALATE, escalation=second)
    eng.evaluate([poll("dev-b", temp(45)), poll("dev-x", temp(45))])
    add_silence(store, "device:dev-x", T0, T0 + 7200, "planned", "ops")
    clock.t = T0 + 900
    assert eng.escalate() == 0
    assert events(store, "notify_error") == [("notify_error", "dev-b", "escalation temp_high: channel down")]
    second.fail = False
    assert eng.escalate() == 1 and second.sent == [("temp_high", "dev-b", "escalation")]


def test_for_device_applies_only_that_devices_overrides():
    from dcops.monitor.alerts import Condition, Rule
    r = Rule(name="r", metric="m", above=5, clear_below=3, clear_for="2m",
             overrides={"d1": {"for": "2m"}, "d2": {"above": 9, "severity": "critical", "clear_for": "5s"}})
    base = Condition(metric="m", above=5, clear_below=3)
    assert r.for_device("other") == ((base,), 0, 120.0, "warning")
    assert r.for_device("d1") == ((base,), 120.0, 120.0, "warning")
    assert r.for_device("d2") == ((Condition(metric="m", above=9, clear_below=3),), 0, 5.0, "critical")
    anyr = Rule(name="a", any=[{"metric": "x", "below": 1}, {"metric": "y", "state_in": ["bad"]}],
                overrides={"d": {"below": 2}})
    assert anyr.for_device("z")[0] == (Condition(metric="x", below=1), Condition(metric="y", state_in=("bad",)))
    assert anyr.for_device("d")[0][0] == Condition(metric="x", below=2)


def test_hysteresis_band_edges_are_allowed_and_a_condition_needs_one_test():
    from pydantic import ValidationError

    from dcops.monitor.alerts import Condition
    assert Condition(metric="m", above=5, clear_below=5).clear_below == 5
    assert Condition(metric="m", below=5, clear_above=5).clear_above == 5
    for bad in ({"above": 1, "state_in": ["x"]}, {"state_in": ["x"], "state_not_in": ["y"]}, {}):
        with pytest.raises(ValidationError, match="a condition needs exactly one of above, below, state_in"):
            Condition(metric="m", **bad)


def test_condition_without_hysteresis_clears_at_its_own_threshold():
    from dcops.monitor.alerts import Condition
    c = Condition(metric="m", above=5)
    s = lambda v: Sample("m", {}, v)  # noqa: E731
    assert (c.bad(s(5), True), c.bad(s(5.1), True), c.bad(s(5.1), False)) == (False, True, True)
    c = Condition(metric="m", below=5)
    assert (c.bad(s(5), True), c.bad(s(4.9), True), c.bad(s(4.9), False)) == (False, True, True)
    c = Condition(metric="m", state_in=("a", "b"))
    assert (c.bad(Sample("m", {}, 0, state="b"), False), c.bad(Sample("m", {}, 0, state="c"), True)) == (True, False)


def test_an_empty_rules_file_has_no_rules(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_text("# nothing yet\n", encoding="utf-8")
    rs = load_rules(p)
    assert rs.rules == () and rs.rule("x") is None and rs.notify.email.enabled is False


def test_a_firing_alert_keeps_its_latest_value_and_summary_and_logs_the_firing_once(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-b", temp(41))])
    eng.evaluate([poll("dev-b", temp(44))])
    with store.read() as db:
        row = db.execute("SELECT value, summary_vi, summary_en, clear_since FROM alerts").fetchone()
    assert tuple(row) == (44, "dev-b nóng 44,0 °C", "dev-b hot 44.0 °C", None)
    assert [e[1:] for e in events(store, "alert")] == [("dev-b", "dev-b hot 41.0 °C")]


def test_a_summary_placeholder_the_sample_does_not_have_is_left_empty(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_text("rules:\n  - {name: r, metric: m, above: 1, summary_en: '{device} {line} {value}', "
                 "summary_vi: '{device}'}\n", encoding="utf-8")
    eng = AlertEngine(load_rules(p), Store(tmp_path / "m.db"), clock=Clock())
    (t,) = eng.evaluate([poll("d", Sample("m", {}, 2.0))])
    assert (t.summary_en, t.summary_vi) == ("d  2", "d")


def test_format_value_speaks_states_in_words():
    from dcops.monitor.alerts import format_value
    assert (format_value(5, "", "battery", "en"), format_value(5, "", "battery"), format_value(0.5, "ratio")) == (
        "Battery", "Ắc quy", "50 %")


def test_a_pending_alert_is_stored_with_its_summary(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-a", temp(31))])
    with store.read() as db:
        assert tuple(db.execute("SELECT state, summary_vi, summary_en FROM alerts").fetchone()) == (
            "pending", "dev-a nóng 31,0 °C", "dev-a hot 31.0 °C")


def test_a_shard_escalates_only_its_own_devices(env, tmp_path):
    _e, store, clock = env
    second = Recorder()
    mine = engine_with(env, tmp_path, ESCALATE, escalation=second, devices={"dev-a"})
    engine_with(env, tmp_path, ESCALATE).evaluate([poll("dev-b", temp(45))])
    clock.t = T0 + 3600
    assert mine.escalate() == 0 and second.sent == []


# ---------------------------------------------------------------- restart, device_up, labels, summaries (the
# random-sample mutation run's survivors and their neighbours)

def test_an_engine_restart_keeps_the_clear_timer_and_a_shard_restores_its_own_alerts(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-a", temp(35)), poll("dev-b", temp(45))])   # dev-a pending (id 1), dev-b firing
    # a shard restores its own alerts even when another shard's come first in the store
    shard = AlertEngine(eng.rules, store, clock=clock, devices={"dev-b"})
    assert shard.evaluate([poll("dev-b", temp(45))]) == []            # already firing: no second firing
    clock.t += 60
    (fired,) = eng.evaluate([poll("dev-a", temp(35))])
    clock.t += 10
    assert eng.evaluate([poll("dev-a", temp(20))]) == []               # dev-a's clear timer starts at T0 + 70
    clock.t += 30
    again = AlertEngine(eng.rules, store, clock=clock)                 # restart at T0 + 100
    clock.t += 29.9
    assert again.evaluate([poll("dev-a", temp(20))]) == []
    clock.t += 0.1                                                     # 60 s after the first good reading
    t = again.evaluate([poll("dev-a", temp(20))])
    assert [(x.alert_id, x.kind) for x in t] == [(fired.alert_id, "resolved")]
    assert [r[2:] for r in rows(store)] == [("dev-a", "resolved"), ("dev-b", "firing")]


def test_a_trap_raised_alert_is_still_cleared_by_its_trap_after_a_restart(env):
    eng, store, clock = env
    eng.on_trap("lb", "link_down", "critical")
    again = AlertEngine(eng.rules, store, clock=clock)
    t = again.on_trap("lb", "link_up", "info", clears="link_down")
    assert [(x.rule, x.device, x.labels, x.kind, x.severity) for x in t] == [
        ("trap_link_down", "lb", {}, "resolved", "critical")]


EXTRA = """\
rules:
  - name: device_down
    metric: device_up
    below: 1
    clear_for: 0s
    severity: critical
    summary_vi: "{device} mất kết nối ({value})"
    summary_en: "{device} down ({value})"
  - name: port_busy
    metric: util
    above: 0.8
    clear_for: 0s
    summary_vi: "{device} cổng {ifName} ở mức {value}"
    summary_en: "{device} port {ifName} at {value}"
  - name: fan_slow
    metric: fan_speed
    below: 2000
    clear_for: 0s
    summary_vi: "{device} quạt {value}"
    summary_en: "{device} fan {value}"
"""


@pytest.fixture
def extra(tmp_path):
    return engine_on(tmp_path, EXTRA, "extra")


def test_device_up_of_an_unreachable_poll_fires_a_rule_and_the_next_answer_resolves_it(extra):
    eng, store, clock = extra
    t = eng.evaluate([poll("sw1", Sample("fan_speed", {}, 5000, "gauge", "rpm"), reachable=False), poll("sw2")])
    assert [(x.rule, x.device, x.labels, x.kind, x.severity, x.value, x.summary_vi, x.summary_en) for x in t] == [
        ("device_down", "sw1", {}, "firing", "critical", 0.0, "sw1 mất kết nối (0)", "sw1 down (0)")]
    with store.read() as db:
        assert [tuple(r) for r in db.execute("SELECT rule, device, labels, state FROM alerts")] == [
            ("device_down", "sw1", "{}", "firing")]
    clock.t += 30
    t = eng.evaluate([poll("sw1")])
    assert [(x.rule, x.kind, x.value) for x in t] == [("device_down", "resolved", 1.0)]


def test_an_unreachable_polls_readings_neither_raise_nor_clear_an_alert(env):
    """The poller sends a failed poll without readings (never zeros); should one carry some anyway, only
    device_up and device_state judge the rules: the last reading is not taken for a fresh one."""
    eng, store, clock = env
    (fired,) = eng.evaluate([poll("dev-b", temp(45))])                 # dev-b: clears at once on a good reading
    assert eng.evaluate([poll("dev-b", temp(10), reachable=False), poll("dev-a", temp(45), reachable=False)]) == []
    assert rows(store) == [(fired.alert_id, "temp_high", "dev-b", "firing")]


def test_labels_given_in_another_key_order_are_the_same_alert(env):
    eng, store, clock = env
    assert eng.evaluate([poll("dev-a", Sample("temp", {"sensor": "s1", "room": "r2"}, 35, "gauge", "celsius"))]) == []
    clock.t += 60                                                      # the hold time of the one instance
    t = eng.evaluate([poll("dev-a", Sample("temp", {"room": "r2", "sensor": "s1"}, 35, "gauge", "celsius"))])
    assert [(x.kind, x.labels) for x in t] == [("firing", {"room": "r2", "sensor": "s1"})]
    with store.read() as db:
        assert [tuple(r) for r in db.execute("SELECT labels, state FROM alerts")] == [
            ('{"room": "r2", "sensor": "s1"}', "firing")]


def test_non_ascii_labels_are_stored_as_utf8_text(env):
    eng, store, clock = env
    t = eng.evaluate([poll("dev-b", Sample("temp", {"sensor": "Phòng máy 2"}, 45, "gauge", "celsius"))])
    assert [(x.kind, x.labels) for x in t] == [("firing", {"sensor": "Phòng máy 2"})]
    with store.read() as db:
        assert db.execute("SELECT labels FROM alerts").fetchone()[0] == '{"sensor": "Phòng máy 2"}'
        assert db.execute("SELECT count(*) FROM alerts WHERE labels LIKE '%Phòng máy%'").fetchone()[0] == 1


def test_a_summary_names_the_readings_labels(extra):
    eng, store, clock = extra
    (t,) = eng.evaluate([poll("lb", Sample("util", {"ifName": "wan1"}, 0.93, "gauge", "ratio"))])
    assert (t.summary_vi, t.summary_en) == ("lb cổng wan1 ở mức 93 %", "lb port wan1 at 93 %")


def test_the_english_summary_writes_numbers_and_units_in_english(extra):
    eng, store, clock = extra
    (t,) = eng.evaluate([poll("ups1", Sample("fan_speed", {}, 1500, "gauge", "rpm"))])
    assert (t.summary_vi, t.summary_en) == ("ups1 quạt 1.500 vòng/phút", "ups1 fan 1,500 rpm")


def test_the_resolved_transition_carries_the_incidents_summaries(env):
    eng, store, clock = env
    eng.evaluate([poll("dev-b", temp(41))])
    eng.evaluate([poll("dev-b", temp(43.5))])
    (t,) = eng.evaluate([poll("dev-b", temp(20))])
    assert (t.kind, t.severity, t.summary_vi, t.summary_en, t.value) == (
        "resolved", "critical", "dev-b nóng 43,5 °C", "dev-b hot 43.5 °C", 20)


class PickyRecorder(Recorder):
    """A channel that fails for some devices only."""
    def __init__(self, fail_for: set[str]) -> None:
        super().__init__()
        self.fail_for = fail_for

    def send(self, alert: dict, kind: str) -> None:
        if alert["device"] in self.fail_for:
            raise OSError("channel down")
        super().send(alert, kind)


def test_flush_notifications_goes_on_past_every_skipped_alert(env, tmp_path):
    """Another shard's alert, one held back by a window, a recovery never announced and a failed send each skip
    that alert only: the alerts after them in the store are still announced in the same flush."""
    from dcops.monitor.alerts import add_silence
    _e, store, clock = env
    rec = PickyRecorder({"flaky"})
    eng = engine_with(env, tmp_path, notifier=rec, devices={"held", "blip", "flaky", "fine"})
    add_silence(store, "device:held", T0 - 1, T0 + 600, "replacing a sensor", "ops")
    bad = Sample("status", {}, 1, "enum", "", state="bad")
    eng.evaluate([poll(d, bad) for d in ("other", "held", "blip", "flaky", "fine")])
    eng.evaluate([poll("blip", Sample("status", {}, 0, "enum", "", state="ok"))])  # gone before any flush
    assert eng.flush_notifications() == 1 and rec.sent == [("status_bad", "fine", "firing")]
    assert events(store, "notify_error") == [("notify_error", "flaky", "firing status_bad: channel down")]


def test_escalation_goes_on_past_every_skipped_alert(env, tmp_path):
    from dcops.monitor.alerts import add_silence
    _e, store, clock = env
    second = PickyRecorder({"flaky"})
    eng = engine_with(env, tmp_path, ESCALATE, escalation=second, devices={"held", "flaky", "fine"})
    add_silence(store, "device:held", T0 - 1, T0 + 7200, "planned", "ops")
    eng.evaluate([poll(d, Sample("charge", {}, 0.1)) for d in ("other", "held", "flaky", "fine")])  # critical
    clock.t = T0 + 600
    assert eng.escalate() == 1 and second.sent == [("charge_low", "fine", "escalation")]
    assert events(store, "notify_error") == [("notify_error", "flaky", "escalation charge_low: channel down")]
