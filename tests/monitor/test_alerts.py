"""Alert engine: hold times, hysteresis, no flapping, restart mid-incident, traps, notifications
(real SMTP server via aiosmtpd and a real local HTTP receiver)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from dcops.monitor.alerts import AlertEngine, RulesError, acknowledge, active_alerts, load_rules
from dcops.monitor.notify import EmailNotifier, MultiNotifier, WebhookNotifier
from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store


class Clock:
    def __init__(self):
        self.t = 1_800_000_000.0

    def __call__(self):
        return self.t


def poll(device, *samples, reachable=True, profile="ups-rfc1628"):
    return DevicePoll(device, profile, 0, reachable, None if reachable else "unreachable: timeout",
                      samples=list(samples))


def src(state):
    return Sample("ups_output_source", {}, {"normal": 3, "battery": 5}[state], "enum", "", state=state)


def load(v, phase="1"):
    return Sample("ups_output_load_ratio", {"phase": phase}, v, "gauge", "ratio")


@pytest.fixture
def env(tmp_path):
    store = Store(tmp_path / "m.db")
    clock = Clock()
    return store, clock, load_rules()


def test_ups_on_battery_fires_at_once_and_recovers_after_clear_hold(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    assert eng.evaluate([poll("ups", src("normal"))]) == []
    t = eng.evaluate([poll("ups", src("battery"))])
    assert [(x.rule, x.kind) for x in t] == [("ups_on_battery", "firing")]
    assert "ắc quy" in t[0].summary_vi and "on battery" in t[0].summary_en
    clock.t += 10
    assert eng.evaluate([poll("ups", src("normal"))]) == []  # clear_for 30 s not yet over
    clock.t += 31
    assert [(x.rule, x.kind) for x in eng.evaluate([poll("ups", src("normal"))])] == [("ups_on_battery", "resolved")]


def test_load_high_needs_five_minutes_and_hysteresis_prevents_flapping(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    fired = []
    for v in (0.85, 0.83, 0.86, 0.84, 0.85, 0.86):  # 0..250 s: pending
        fired += eng.evaluate([poll("ups", load(v))])
        clock.t += 50
    assert fired == []
    fired += eng.evaluate([poll("ups", load(0.82))])  # 300 s: fires once
    assert [(x.rule, x.kind) for x in fired] == [("ups_load_high", "firing")]
    # Oscillating around the 80 % threshold stays one alert: it only clears below 75 %.
    for v in (0.79, 0.81, 0.78, 0.80, 0.77, 0.79) * 5:
        clock.t += 30
        assert eng.evaluate([poll("ups", load(v))]) == []
    clock.t += 30
    assert eng.evaluate([poll("ups", load(0.70))]) == []  # clear_for: 60 s
    clock.t += 61
    assert [(x.kind) for x in eng.evaluate([poll("ups", load(0.70))])] == ["resolved"]


def test_short_spike_never_fires(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    assert eng.evaluate([poll("ups", load(0.95))]) == []
    clock.t += 60
    assert eng.evaluate([poll("ups", load(0.5))]) == []
    assert active_alerts(store) == []
    with store.db() as db:
        assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 0


def test_restart_mid_incident_no_duplicate_and_recovery_still_fires(env, tmp_path):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    assert len(eng.evaluate([poll("ups", src("battery"))])) == 1
    store.close()
    # The monitor restarts: a new engine over the same database file.
    store2 = Store(tmp_path / "m.db")
    eng2 = AlertEngine(rules, store2, clock=clock)
    clock.t += 20
    assert eng2.evaluate([poll("ups", src("battery"))]) == []  # still firing: no second alert
    assert len(active_alerts(store2)) == 1
    clock.t += 20
    eng2.evaluate([poll("ups", src("normal"))])
    clock.t += 31
    t = eng2.evaluate([poll("ups", src("normal"))])
    assert [(x.rule, x.kind) for x in t] == [("ups_on_battery", "resolved")]


def test_unreachable_device_alerts_and_freezes_other_alerts(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    eng.evaluate([poll("ups", src("battery"))])
    for _ in range(3):
        clock.t += 30
        t = eng.evaluate([poll("ups", reachable=False)])
    assert [(x.rule, x.kind) for x in t] == [("device_unreachable", "firing")]
    rules_firing = {a["rule"] for a in active_alerts(store)}
    assert rules_firing == {"ups_on_battery", "device_unreachable"}  # no data never means "recovered"


def test_leased_line_utilisation_over_80_percent_for_5_minutes(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    lab = {"ifIndex": "1", "ifName": "wan1", "line": "isp1-vnpt"}
    other = {"ifIndex": "3", "ifName": "lan1"}  # not a leased line: never alerts
    fired = []
    for _ in range(12):
        fired += eng.evaluate([poll("lb", Sample("if_in_utilisation_ratio", lab, 0.9, "gauge", "ratio"),
                                    Sample("if_in_utilisation_ratio", other, 0.95, "gauge", "ratio"),
                                    profile="if-mib")])
        clock.t += 30
    assert [(x.rule, x.labels.get("line")) for x in fired] == [("leased_line_utilisation_high", "isp1-vnpt")]
    assert "300 Mbps" in fired[0].summary_en and "90 %" in fired[0].summary_en


def test_per_device_override(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    t28 = Sample("env_temperature_celsius", {"sensor": "Phòng-UPS"}, 28.5, "gauge", "celsius")
    fired = []
    for _ in range(6):
        fired += eng.evaluate([poll("kg-env-01", t28, profile="apc-netbotz"),
                               poll("kg-env-02", t28, profile="apc-netbotz")])
        clock.t += 30
    assert [x.device for x in fired] == ["kg-env-01"]  # the power room allows up to 30 °C


def test_trap_fires_then_poll_resolves_and_poll_does_not_duplicate(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    t = eng.on_trap("ups", "ups_on_battery", "critical")
    assert [(x.rule, x.kind) for x in t] == [("ups_on_battery", "firing")]
    assert eng.evaluate([poll("ups", src("battery"))]) == []  # the poll agrees: same alert
    assert eng.on_trap("ups", "ups_on_battery", "critical") == []
    eng.evaluate([poll("ups", src("normal"))])
    clock.t += 31
    assert [x.kind for x in eng.evaluate([poll("ups", src("normal"))])] == ["resolved"]


def test_clearing_trap_resolves_trap_only_alert(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    assert [x.rule for x in eng.on_trap("lb", "link_down", "critical")] == ["trap_link_down"]
    assert [x.kind for x in eng.on_trap("lb", "link_up", "info", clears="link_down")] == ["resolved"]


def test_acknowledge(env):
    store, clock, rules = env
    eng = AlertEngine(rules, store, clock=clock)
    eng.evaluate([poll("ups", src("battery"))])
    a = active_alerts(store)[0]
    assert acknowledge(store, a["id"], "admin") and not acknowledge(store, a["id"], "admin")
    assert active_alerts(store)[0]["acked_by"] == "admin"


def test_bad_rules_file_is_a_clear_error(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_text("rules:\n  - name: x\n    metric: m\n    above: 5\n    clear_below: 9\n")
    with pytest.raises(RulesError, match="rule 'x'.*clear_below"):
        load_rules(p)


# ---------------------------------------------------------------- real notification peers

class _Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    sink = _Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield ctl, sink
    finally:
        ctl.stop()


@pytest.fixture
def webhook():
    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/alerts", got
    finally:
        srv.shutdown()
        srv.server_close()


def test_email_and_webhook_once_per_transition_across_restart(env, tmp_path, smtp, webhook):
    store, clock, rules = env
    ctl, sink = smtp
    url, got = webhook
    cfg = rules.notify
    email = cfg.email.model_copy(update={"enabled": True, "smtp_port": ctl.port})
    hook = cfg.webhook.model_copy(update={"enabled": True, "url": url})
    notifier = MultiNotifier([EmailNotifier(email), WebhookNotifier(hook)])
    eng = AlertEngine(rules, store, notifier, clock=clock)
    eng.evaluate([poll("kg-ups-01", src("battery"))])
    assert eng.flush_notifications() == 1
    assert eng.flush_notifications() == 0
    # restart: nothing is sent again for the same incident
    eng2 = AlertEngine(rules, Store(tmp_path / "m.db"), notifier, clock=clock)
    eng2.evaluate([poll("kg-ups-01", src("battery"))])
    assert eng2.flush_notifications() == 0
    eng2.evaluate([poll("kg-ups-01", src("normal"))])
    clock.t += 31
    eng2.evaluate([poll("kg-ups-01", src("normal"))])
    assert eng2.flush_notifications() == 1
    assert [m["status"] for m in got] == ["firing", "resolved"]
    assert got[0]["device"] == "kg-ups-01" and got[0]["severity"] == "critical"
    assert len(sink.messages) == 2
    body = sink.messages[0].content.decode()
    assert "kg-ups-01" in body and "Subject:" in body


def test_failed_channel_is_retried_without_resending_to_the_others(env, smtp):
    store, clock, rules = env
    ctl, sink = smtp
    email = rules.notify.email.model_copy(update={"enabled": True, "smtp_port": ctl.port})
    from dcops.monitor.sim import free_port
    dead = rules.notify.webhook.model_copy(update={"enabled": True, "url": f"http://127.0.0.1:{free_port()}/x",
                                                   "timeout": 1})
    eng = AlertEngine(rules, store, MultiNotifier([EmailNotifier(email), WebhookNotifier(dead)]), clock=clock)
    eng.evaluate([poll("ups", src("battery"))])
    assert eng.flush_notifications() == 0
    assert eng.flush_notifications() == 0
    assert len(sink.messages) == 1  # email went once; the webhook stays due
    assert any(e["kind"] == "notify_error" for e in store.events())


def test_shards_only_touch_their_own_devices(env):
    store, clock, rules = env
    a = AlertEngine(rules, store, clock=clock, devices={"ups"})
    a.evaluate([poll("ups", src("battery"))])
    b = AlertEngine(rules, store, clock=clock, devices={"other"})
    assert b._inst == {}  # another shard's incident is not resumed here

    class Count:
        n = 0

        def send(self, alert, kind):
            Count.n += 1

    b.notifier = Count()
    assert b.flush_notifications() == 0
    a.notifier = Count()
    assert a.flush_notifications() == 1


# ---------------------------------------------------------------- Telegram, maintenance windows, escalation
@pytest.fixture
def telegram(monkeypatch):
    """A local stand-in for the Telegram Bot API: POST /bot<token>/sendMessage, its JSON answers."""
    token = "123456:TEST-token"
    monkeypatch.setenv("DCOPS_TEST_TG", token)
    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != f"/bot{token}/sendMessage":
                code, ans = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            elif body.get("chat_id") not in ("-1001", "-1002"):
                code, ans = 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            else:
                got.append(body)
                code, ans = 200, {"ok": True, "result": {"message_id": len(got), "chat": {"id": body["chat_id"]},
                                                         "text": body["text"]}}
            data = json.dumps(ans).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", got
    finally:
        srv.shutdown()
        srv.server_close()


def _tg_rules(rules, base, chats=("-1001",), escalate=None):
    from dcops.monitor.alerts import RuleSet
    tg = rules.notify.telegram.model_copy(update={"enabled": True, "token_ref": "env:DCOPS_TEST_TG",
                                                   "chat_ids": tuple(chats), "api_base": base})
    esc = rules.notify.escalation.model_copy(update={"enabled": escalate is not None, "after": escalate or 900,
                                                     "telegram_chat_ids": ("-1002",)})
    notify = rules.notify.model_copy(update={"telegram": tg, "escalation": esc})
    return RuleSet.model_validate({**rules.model_dump(by_alias=True), "notify": notify.model_dump()})


def test_telegram_firing_and_recovery(env, telegram):
    from dcops.monitor.notify import escalation_from_config, notifier_from_config
    store, clock, rules = env
    base, got = telegram
    rs = _tg_rules(rules, base)
    eng = AlertEngine(rs, store, notifier_from_config(rs.notify), clock=clock,
                      escalation=escalation_from_config(rs.notify))
    eng.evaluate([poll("kg-ups-01", src("battery"))])
    assert eng.flush_notifications() == 1 and eng.flush_notifications() == 0
    eng.evaluate([poll("kg-ups-01", src("normal"))])
    clock.t += 31
    eng.evaluate([poll("kg-ups-01", src("normal"))])
    assert eng.flush_notifications() == 1
    assert [m["chat_id"] for m in got] == ["-1001", "-1001"]
    assert got[0]["text"].startswith("[CẢNH BÁO] UPS kg-ups-01 đang chạy bằng ắc quy")
    assert "[ALERT] UPS kg-ups-01 is on battery" in got[0]["text"] and "parse_mode" not in got[0]
    assert got[1]["text"].startswith("[ĐÃ KHÔI PHỤC]")


def test_telegram_error_is_retried_next_cycle(env, telegram):
    from dcops.monitor.notify import notifier_from_config
    store, clock, rules = env
    base, got = telegram
    rs = _tg_rules(rules, base, chats=("-999",))  # a chat the bot is not in
    eng = AlertEngine(rs, store, notifier_from_config(rs.notify), clock=clock)
    eng.evaluate([poll("kg-ups-01", src("battery"))])
    assert eng.flush_notifications() == 0
    assert any("chat not found" in e["text"] for e in store.events() if e["kind"] == "notify_error")
    assert store.db().conn.execute("SELECT notified_fire FROM alerts").fetchone()[0] == 0


def test_maintenance_window_holds_notifications(env, telegram):
    from dcops.monitor.alerts import add_silence
    from dcops.monitor.notify import notifier_from_config
    store, clock, rules = env
    base, got = telegram
    rs = _tg_rules(rules, base)
    store.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS")
    store.register_device("kg-ups-02", "ups-rfc1628", "ups", "UPS 2")
    eng = AlertEngine(rs, store, notifier_from_config(rs.notify), clock=clock)
    add_silence(store, "device:kg-ups-01", clock.t - 60, clock.t + 600, "thay ắc quy", "admin")
    eng.evaluate([poll("kg-ups-01", src("battery"))])
    assert eng.flush_notifications() == 0 and got == []  # in the window: nothing sent
    assert active_alerts(store, now=clock.t)[0]["silenced"]
    clock.t += 700  # the window is over and the UPS is still on battery: now it is announced
    eng.evaluate([poll("kg-ups-01", src("battery"))])
    assert eng.flush_notifications() == 1 and len(got) == 1
    # a whole group in maintenance: an incident that starts and ends inside it is never announced
    add_silence(store, "group:ups", clock.t, clock.t + 3600, "bảo dưỡng UPS", "admin")
    eng.evaluate([poll("kg-ups-02", src("battery"))])
    assert eng.flush_notifications() == 0
    eng.evaluate([poll("kg-ups-02", src("normal"))])
    clock.t += 31
    eng.evaluate([poll("kg-ups-02", src("normal"))])
    assert eng.flush_notifications() == 0 and len(got) == 1
    assert store.db().conn.execute("SELECT COUNT(*) FROM alerts WHERE device='kg-ups-02' AND"
                                   " notified_resolve=1").fetchone()[0] == 1


def test_escalation_to_second_contact_when_not_acknowledged(env, telegram):
    from dcops.monitor.alerts import add_silence
    from dcops.monitor.notify import escalation_from_config, notifier_from_config
    store, clock, rules = env
    base, got = telegram
    rs = _tg_rules(rules, base, escalate=600)
    store.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS")
    store.register_device("kg-ups-02", "ups-rfc1628", "ups", "UPS 2")
    store.register_device("kg-ups-03", "ups-rfc1628", "ups", "UPS 3")
    eng = AlertEngine(rs, store, notifier_from_config(rs.notify), clock=clock,
                      escalation=escalation_from_config(rs.notify))
    eng.evaluate([poll("kg-ups-01", src("battery")), poll("kg-ups-02", src("battery")),
                  poll("kg-ups-03", src("battery"))])
    assert eng.flush_notifications() == 3
    acknowledge(store, next(a["id"] for a in active_alerts(store) if a["device"] == "kg-ups-02"), "admin",
                "đang xử lý")
    add_silence(store, "device:kg-ups-03", clock.t + 60, clock.t + 7200, "kiểm tra", "admin")
    clock.t += 9 * 60
    assert eng.flush_notifications() == 0  # not yet 10 minutes
    clock.t += 2 * 60
    assert eng.flush_notifications() == 1 and eng.flush_notifications() == 0  # once
    esc = [m for m in got if m["chat_id"] == "-1002"]
    assert len(esc) == 1 and "kg-ups-01" in esc[0]["text"] and "LEO THANG" in esc[0]["text"]
    assert any(e["kind"] == "escalation" for e in store.events())


def test_telegram_token_never_over_plain_http(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_text("rules: []\nnotify:\n  telegram: {enabled: true, api_base: 'http://relay.example/'}\n")
    with pytest.raises(RulesError, match="api_base must be https"):
        load_rules(p)
