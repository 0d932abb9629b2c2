"""Dashboard over real HTTP: login, roles, CSRF, session expiry, escaping of device strings."""
import threading
import time

import httpx
import pytest

from dcops.monitor import auth
from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.dashboard import make_server
from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def web(tmp_path):
    db = tmp_path / "d.db"
    st = Store(db)
    auth.set_user(st, "admin", "admin", "admin-pass-123")
    auth.set_user(st, "noc", "viewer", "viewer-pass-123")
    st.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS trung tâm 80 kVA")
    now = time.time()
    for i in range(5):
        st.write_poll(DevicePoll("kg-ups-01", "ups-rfc1628", now - 60 * (5 - i), True,
                                 samples=[Sample("ups_output_source", {}, 5, "enum", "", state="battery"),
                                          Sample("ups_battery_charge_ratio", {}, 0.9 - i / 100, "gauge", "ratio")],
                                 info={"sys_descr": EVIL, "sys_name": "ups<b>1</b>"}), "UPS trung tâm 80 kVA", "ups")
    AlertEngine(load_rules(), st).evaluate([DevicePoll("kg-ups-01", "ups-rfc1628", now, True, samples=[
        Sample("ups_output_source", {}, 5, "enum", "", state="battery")])])
    srv = make_server("127.0.0.1", 0, db, session_minutes=30, lines=[])
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", st, srv
    finally:
        srv.shutdown()
        srv.server_close()


def login(base, user, pw):
    c = httpx.Client(base_url=base, follow_redirects=True)
    r = c.post("/login", data={"username": user, "password": pw, "next": "/"})
    return c, r


def csrf_of(html):
    return html.split('name="csrf" value="')[1].split('"')[0]


def test_login_required_and_wrong_password(web):
    base, _st, _ = web
    r = httpx.get(base + "/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    c, r = login(base, "admin", "nope")
    assert r.status_code == 401 and "Sai tên đăng nhập" in r.text
    assert "script-src 'none'" in r.headers["content-security-policy"]


def test_device_strings_are_escaped(web):
    base, _st, _ = web
    c, r = login(base, "noc", "viewer-pass-123")
    r = c.get("/device/kg-ups-01?range=1h")
    assert r.status_code == 200
    assert EVIL not in r.text and "&lt;script&gt;" in r.text and "ups&lt;b&gt;1&lt;/b&gt;" in r.text
    assert "<svg" in r.text


def test_viewer_cannot_acknowledge_admin_can_with_csrf(web):
    base, st, _ = web
    viewer, r = login(base, "noc", "viewer-pass-123")
    assert "Xác nhận</button>" not in r.text  # no ack button for viewers
    alert_id = st.db().conn.execute("SELECT id FROM alerts WHERE state='firing'").fetchone()[0]
    csrf = csrf_of(r.text)
    r = viewer.post(f"/alerts/{alert_id}/ack", data={"csrf": csrf})
    assert r.status_code == 403
    admin, r = login(base, "admin", "admin-pass-123")
    assert admin.post(f"/alerts/{alert_id}/ack", data={"csrf": "forged"}).status_code == 403
    r = admin.post(f"/alerts/{alert_id}/ack", data={"csrf": csrf_of(r.text)})
    assert r.status_code == 200 and "Đã xác nhận bởi admin" in r.text


def test_sessions_expire_and_logout(web):
    base, st, _ = web
    c, r = login(base, "admin", "admin-pass-123")
    assert c.get("/alerts").status_code == 200
    st.db().conn.execute("UPDATE sessions SET expires = 0")
    r = c.get("/alerts", follow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["location"]
    c, r = login(base, "admin", "admin-pass-123")
    c.post("/logout", data={"csrf": csrf_of(r.text)})
    assert c.get("/", follow_redirects=False).status_code == 303


def test_language_switch_and_open_redirect_guard(web):
    base, _st, _ = web
    c, r = login(base, "admin", "admin-pass-123")
    assert 'lang="vi"' in r.text
    r = c.get("/lang/en?next=//evil.example/x", follow_redirects=False)
    assert r.headers["location"] == "/"
    r = c.get("/lang/en?next=/alerts")
    assert 'lang="en"' in r.text and "Active alerts" in r.text


def test_login_is_throttled(web):
    base, _st, _ = web
    with httpx.Client(base_url=base) as c:
        codes = [c.post("/login", data={"username": "admin", "password": "bad"}).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429


def test_passwords_are_hashed(web):
    _base, st, _ = web
    row = st.db().conn.execute("SELECT pw_hash FROM users WHERE name='admin'").fetchone()
    assert row[0].startswith("scrypt$") and "admin-pass-123" not in row[0]


def test_unreachable_device_is_red_not_zero(web):
    base, st, _ = web
    st.write_poll(DevicePoll("kg-ups-01", "ups-rfc1628", time.time(), False, "unreachable: no response"),
                  "UPS trung tâm 80 kVA", "ups")
    c, r = login(base, "noc", "viewer-pass-123")
    row = r.text.split('id="dev-kg-ups-01"')[1].split("</tr>")[0]
    assert 'data-status="unreachable"' in row and "Mất kết nối" in row
    assert "%" not in row  # no stale or zero values shown for a silent device
