"""The NOC page over real HTTP against the real server process (`dcops dashboard` on uvicorn).

Login, roles, CSRF (login and language switch included), redirects, throttling per account and
per address, Argon2id hashes, idle and absolute session lifetime, /healthz on stale data, slow
and lying clients, keep-alive, graceful shutdown, escaping of device strings.
"""
import base64
import hashlib
import re
import secrets
import signal
import socket
import time

import httpx
import pytest

from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.launch import start_dashboard
from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store
from dcops.monitor.web import auth

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
HOSTILE_NEXT = [
    "//evil.example/x", "/%09/evil.example", "/%0d%0aSet-Cookie:%20dcops_session=attacker", "/\\evil.example",
    "http://evil.example/", "/%2F%2Fevil.example", "/%252F%252Fevil.example", "%2F%2Fevil.example",
    "/%5cevil.example", "javascript:alert(1)", "/\r\nSet-Cookie: a=b", "https:/evil.example", "/..//evil.example",
    "\t//evil.example", " /x",
]


def seed(db):
    st = Store(db)
    auth.set_user(st, "admin", "admin", "admin-pass-123")
    auth.set_user(st, "noc", "viewer", "viewer-pass-123")
    st.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS trung tâm 80 kVA")
    now = time.time()
    for i in range(5):
        st.write_poll(DevicePoll("kg-ups-01", "ups-rfc1628", now - 60 * (4 - i), True,
                                 samples=[Sample("ups_output_source", {}, 5, "enum", "", state="battery"),
                                          Sample("ups_battery_charge_ratio", {}, 0.955 - i / 100, "gauge", "ratio")],
                                 info={"sys_descr": EVIL, "sys_name": "ups<b>1</b>"}), "UPS trung tâm 80 kVA", "ups")
    AlertEngine(load_rules(), st).evaluate([DevicePoll("kg-ups-01", "ups-rfc1628", now, True, samples=[
        Sample("ups_output_source", {}, 5, "enum", "", state="battery")])])
    return st


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("web") / "d.db"
    st = seed(db)
    h = start_dashboard(db, extra=["--forwarded-allow-ips", "127.0.0.1", "--header-timeout", "2",
                                   "--body-timeout", "2", "--stale-after", "600"])
    try:
        yield h, st
    finally:
        h.stop()
        assert h.proc.returncode == 0, h.log.read_text()[-2000:]


@pytest.fixture
def web(server):
    h, st = server
    return h.url, st


def client(base, src="127.0.0.1", **kw):
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=src), **kw)


def csrf_of(html):
    return html.split('name="csrf" value="')[1].split('"')[0]


def login(base, user, pw, nxt="/", src="127.0.0.1", c=None):
    c = c or client(base, src, follow_redirects=True)
    form = c.get("/login")
    r = c.post("/login", data={"username": user, "password": pw, "next": nxt, "csrf": csrf_of(form.text)})
    return c, r


def fresh_addr():
    return f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"


# ---------------------------------------------------------------- what already held
def test_login_required_and_wrong_password(web):
    base, _st = web
    r = httpx.get(base + "/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F"
    c, r = login(base, "admin", "nope", src=fresh_addr())
    assert r.status_code == 401 and "Sai tên đăng nhập" in r.text
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and "server" not in r.headers


def test_device_strings_are_escaped_and_numbers_vietnamese(web):
    base, _st = web
    c, r = login(base, "noc", "viewer-pass-123")
    r = c.get("/device/kg-ups-01?range=1h")
    assert r.status_code == 200
    assert EVIL not in r.text and "&lt;script&gt;" in r.text and "ups&lt;b&gt;1&lt;/b&gt;" in r.text
    assert "<svg" in r.text
    assert "91,5 %" in r.text  # Vietnamese decimal comma
    r = c.get("/")
    assert "Ắc quy" in r.text or "Đang chạy ắc quy" in r.text


def test_viewer_cannot_acknowledge_admin_can_with_csrf_and_comment(web):
    base, st = web
    viewer, r = login(base, "noc", "viewer-pass-123")
    assert "ack-button" not in r.text  # no ack button for viewers
    alert_id = st.db().conn.execute("SELECT id FROM alerts WHERE state='firing'").fetchone()[0]
    r = viewer.post(f"/alerts/{alert_id}/ack", data={"csrf": csrf_of(r.text)})
    assert r.status_code == 403
    admin, r = login(base, "admin", "admin-pass-123")
    assert admin.post(f"/alerts/{alert_id}/ack", data={"csrf": "forged"}).status_code == 403
    r = admin.post(f"/alerts/{alert_id}/ack", data={"csrf": csrf_of(r.text), "comment": "Đã gọi điện lực <b>",
                                                     "next": "/alerts"})
    assert r.status_code == 200 and str(r.url).endswith("/alerts")
    assert "Đã xác nhận bởi admin" in r.text and "Đã gọi điện lực &lt;b&gt;" in r.text
    row = st.db().conn.execute("SELECT acked_by, ack_comment FROM alerts WHERE id=?", (alert_id,)).fetchone()
    assert tuple(row) == ("admin", "Đã gọi điện lực <b>")


def test_unreachable_device_is_red_not_zero(tmp_path):
    db = tmp_path / "u.db"
    st = seed(db)
    st.write_poll(DevicePoll("kg-ups-01", "ups-rfc1628", time.time(), False, "unreachable: no response"),
                  "UPS trung tâm 80 kVA", "ups")
    with start_dashboard(db) as h:
        c, r = login(h.url, "noc", "viewer-pass-123")
        row = r.text.split('id="dev-kg-ups-01"')[1].split("</tr>")[0]
        assert 'data-status="unreachable"' in row and "Mất kết nối" in row
        assert "%" not in row  # no stale or zero values shown for a silent device


# ---------------------------------------------------------------- redirects
@pytest.mark.parametrize("nxt", HOSTILE_NEXT)
def test_hostile_next_after_login_stays_on_site(web, nxt):
    base, _st = web
    c = client(base, follow_redirects=False)
    form = c.get("/login", params={"next": nxt})
    login_form = form.text.split('action="/login"')[1]
    kept = "/evil.example" if nxt == "/..//evil.example" else "/"  # that one normalises to a local path
    assert login_form.split('name="next" value="')[1].split('"')[0] == kept
    r = c.post("/login", data={"username": "noc", "password": "viewer-pass-123", "next": nxt,
                               "csrf": csrf_of(form.text)})
    assert r.status_code == 303
    assert r.headers["location"] == kept, (nxt, r.headers["location"])
    assert not any("attacker" in v or v.startswith("a=") for v in r.headers.get_list("set-cookie"))


def test_crlf_in_next_cannot_inject_headers_raw(web):
    """The issue's attack on the wire: a raw CR LF in the query of /login never reaches a header."""
    base, _st = web
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /login?next=/%0d%0aSet-Cookie:%20dcops_session=attacker HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n")[0]
    assert b"attacker" not in head and b"dcops_session" not in head
    assert b'<input type="hidden" name="next" value="/">' in data


def test_same_site_next_is_kept(web):
    base, _st = web
    c = client(base, follow_redirects=False)
    form = c.get("/login")
    r = c.post("/login", data={"username": "noc", "password": "viewer-pass-123",
                               "next": "/device/kg-ups-01?range=1d", "csrf": csrf_of(form.text)})
    assert r.headers["location"] == "/device/kg-ups-01?range=1d"


# ---------------------------------------------------------------- CSRF: login and language
def test_login_needs_csrf(web):
    base, _st = web
    c = client(base, follow_redirects=False)
    r = c.post("/login", data={"username": "admin", "password": "admin-pass-123", "next": "/"})
    assert r.status_code == 403 and "dcops_session" not in r.headers.get("set-cookie", "")
    # a token from another browser's form does not fit this browser's pre-session cookie
    other = client(base)
    tok = csrf_of(other.get("/login").text)
    c.get("/login")
    r = c.post("/login", data={"username": "admin", "password": "admin-pass-123", "csrf": tok})
    assert r.status_code == 403 and not any(v.startswith("dcops_session=") and "Max-Age=0" not in v
                                            for v in r.headers.get_list("set-cookie"))


def test_language_switch_is_a_post_with_csrf(web):
    base, _st = web
    c, r = login(base, "admin", "admin-pass-123")
    assert 'lang="vi"' in r.text
    for path in ("/lang/en?next=/alerts", "/lang?lang=en"):  # a GET changes nothing
        g = c.get(path, follow_redirects=False)
        assert g.status_code in (404, 405) and "lang=" not in g.headers.get("set-cookie", "")
    assert c.post("/lang", data={"lang": "en", "next": "/alerts"}, follow_redirects=False).status_code == 403
    r = c.post("/lang", data={"lang": "en", "next": "//evil.example", "csrf": csrf_of(r.text)},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = c.get("/alerts")
    assert 'lang="en"' in r.text and "Active alerts" in r.text
    c.post("/lang", data={"lang": "vi", "next": "/", "csrf": csrf_of(r.text)})
    # anonymous: the language of the login page, with the pre-session token
    a = client(base, follow_redirects=True)
    form = a.get("/login")
    r = a.post("/lang", data={"lang": "en", "next": "/login", "csrf": csrf_of(form.text)})
    assert "Log in" in r.text


# ---------------------------------------------------------------- throttling
def test_account_throttle_does_not_lock_out_the_owner(tmp_path):
    db = tmp_path / "t.db"
    seed(db)
    with start_dashboard(db, extra=["--forwarded-allow-ips", "127.0.0.1"]) as h:
        owner, r = login(h.url, "admin", "admin-pass-123", src="127.0.0.5")  # the owner's browser, before
        assert r.status_code == 200
        owner.post("/logout", data={"csrf": csrf_of(r.text)})
        attacker = client(h.url, "127.0.0.9")
        codes = []
        for _ in range(6):
            form = attacker.get("/login")
            codes.append(attacker.post("/login", data={"username": "admin", "password": "guess",
                                                       "csrf": csrf_of(form.text)}).status_code)
        assert codes == [401] * 5 + [429]
        # the right password from a throttled address without the device cookie: still 429 (no oracle)
        _c, r = login(h.url, "admin", "admin-pass-123", src="127.0.0.9")
        assert r.status_code == 429
        # a new address is throttled for this account too (per account) …
        _c, r = login(h.url, "admin", "admin-pass-123", src="127.0.0.6")
        assert r.status_code == 429
        # … but the owner's browser (device cookie) gets in, even from the attacker's address
        owner2 = client(h.url, "127.0.0.9", follow_redirects=True, cookies=owner.cookies)
        _c, r = login(h.url, "admin", "admin-pass-123", c=owner2)
        assert r.status_code == 200 and "nav-overview" in r.text
        # other accounts are not affected from a clean address
        _c, r = login(h.url, "noc", "viewer-pass-123", src="127.0.0.7")
        assert r.status_code == 200


def test_address_throttle_and_forwarded_for(tmp_path):
    db = tmp_path / "a.db"
    seed(db)
    with start_dashboard(db, extra=["--forwarded-allow-ips", "127.0.0.1"]) as h:
        colleague, r = login(h.url, "noc", "viewer-pass-123", src="127.0.0.3")
        assert r.status_code == 200
        spray = client(h.url, "127.0.0.3")
        codes = []
        for i in range(21):  # many names from one address
            form = spray.get("/login")
            codes.append(spray.post("/login", data={"username": f"user{i}", "password": "x",
                                                    "csrf": csrf_of(form.text)}).status_code)
        assert codes[:20] == [401] * 20 and codes[20] == 429
        _c, r = login(h.url, "admin", "admin-pass-123", src="127.0.0.3")
        assert r.status_code == 429  # the address is throttled for browsers it does not know …
        again = client(h.url, "127.0.0.3", follow_redirects=True, cookies=colleague.cookies)
        _c, r = login(h.url, "noc", "viewer-pass-123", c=again)
        assert r.status_code == 200  # … the colleague's known browser still logs in
        # a spoofed X-Forwarded-For from an untrusted peer does not make a new address
        liar = client(h.url, "127.0.0.3", headers={"X-Forwarded-For": "10.9.9.9"})
        form = liar.get("/login")
        r = liar.post("/login", data={"username": "x", "password": "y", "csrf": csrf_of(form.text)})
        assert r.status_code == 429
        # the trusted proxy (127.0.0.1) passes the real client address: that one is not throttled
        proxied = client(h.url, "127.0.0.1", headers={"X-Forwarded-For": "10.9.9.9"}, follow_redirects=True)
        _c, r = login(h.url, "admin", "admin-pass-123", c=proxied)
        assert r.status_code == 200


# ---------------------------------------------------------------- passwords and sessions
def test_passwords_are_argon2id_and_old_scrypt_hashes_upgrade(web):
    base, st = web
    row = st.db().conn.execute("SELECT pw_hash FROM users WHERE name='admin'").fetchone()
    assert row[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$") and "admin-pass-123" not in row[0]
    salt = b"0123456789abcdef"
    dk = hashlib.scrypt(b"legacy-pass-123", salt=salt, n=2**14, r=8, p=1, dklen=32)
    old = f"scrypt${2**14}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"
    with st.db() as db:
        db.execute("INSERT OR REPLACE INTO users(name, role, pw_hash) VALUES ('legacy', 'viewer', ?)", (old,))
    _c, r = login(base, "legacy", "legacy-pass-123")
    assert r.status_code == 200
    new = st.db().conn.execute("SELECT pw_hash FROM users WHERE name='legacy'").fetchone()[0]
    assert new.startswith("$argon2id$")


def test_sessions_expire_idle_and_absolute_and_logout(web):
    base, st = web
    c, r = login(base, "admin", "admin-pass-123")
    assert c.get("/alerts").status_code == 200
    with st.db() as db:
        db.execute("UPDATE sessions SET expires = 0 WHERE user='admin'")
    r = c.get("/alerts", follow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["location"]
    c, r = login(base, "admin", "admin-pass-123")
    with st.db() as db:  # active all the time (idle expiry far ahead) but logged in 13 hours ago
        db.execute("UPDATE sessions SET created = ?, expires = ?, touched = ? WHERE user='admin'",
                   (time.time() - 13 * 3600, time.time() + 1800, time.time()))
    assert c.get("/alerts", follow_redirects=False).status_code == 303
    c, r = login(base, "admin", "admin-pass-123")
    c.post("/logout", data={"csrf": csrf_of(r.text)})
    assert c.get("/", follow_redirects=False).status_code == 303


def test_page_views_do_not_write_the_session_each_time(web):
    base, st = web
    c, r = login(base, "noc", "viewer-pass-123")
    key = None
    for row in st.db().conn.execute("SELECT token, touched FROM sessions WHERE user='noc'"):
        key = row
    before = st.db().conn.execute("SELECT MAX(touched) FROM sessions WHERE user='noc'").fetchone()[0]
    for _ in range(5):
        assert c.get("/alerts").status_code == 200
    after = st.db().conn.execute("SELECT MAX(touched) FROM sessions WHERE user='noc'").fetchone()[0]
    assert key is not None and before == after


# ---------------------------------------------------------------- health
def test_healthz_reports_stale_data(tmp_path):
    db = tmp_path / "h.db"
    st = seed(db)
    with start_dashboard(db, extra=["--stale-after", "120"]) as h:
        r = httpx.get(h.url + "/healthz")
        assert r.status_code == 200 and r.text.startswith("ok")
        with st.db() as db_:
            db_.execute("UPDATE devices SET last_poll = ?", (time.time() - 600,))
        r = httpx.get(h.url + "/healthz")
        age = re.search(r"newest poll is (\d+) s old", r.text)
        assert r.status_code == 503 and age is not None, r.text
        assert 599 <= int(age.group(1)) <= 660, r.text  # seeded 600 s ago; the request comes a moment later
        assert httpx.get(h.url + "/livez").status_code == 200
    empty = tmp_path / "empty.db"
    Store(empty)
    with start_dashboard(empty) as h:
        assert httpx.get(h.url + "/healthz").status_code == 503


# ---------------------------------------------------------------- hostile clients, serving
def _hostport(base):
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def test_lying_content_length_is_answered_not_waited_for(web):
    base, _st = web
    with socket.create_connection(_hostport(base), timeout=10) as s:
        s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 1000\r\n\r\nusername=a")
        t0 = time.monotonic()
        # meanwhile other clients are served at once
        assert httpx.get(base + "/livez", timeout=2).status_code == 200
        data = s.recv(65536)
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408") and took < 5, (data[:80], took)


def test_oversized_body_and_headers_are_refused(web):
    base, _st = web
    r = httpx.post(base + "/login", content=b"a=" + b"x" * 100_000,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    with socket.create_connection(_hostport(base), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        data = s.recv(100)
    assert data == b"" or data.startswith(b"HTTP/1.1 4")


def test_slow_headers_are_cut_off(web):
    base, _st = web
    with socket.create_connection(_hostport(base), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        for _ in range(8):
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
            time.sleep(0.5)
        s.settimeout(6)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - t0
    assert data == b"" and took < 6, took  # closed after --header-timeout 2 s


def test_keep_alive(web):
    base, _st = web
    with socket.create_connection(_hostport(base), timeout=5) as s:
        for _ in range(3):
            s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"ok\n"):
                data += s.recv(4096)
            assert data.startswith(b"HTTP/1.1 200") and b"connection: close" not in data.lower()


def test_graceful_shutdown(tmp_path):
    db = tmp_path / "g.db"
    seed(db)
    h = start_dashboard(db, extra=["--body-timeout", "2"])
    with socket.create_connection(_hostport(h.url), timeout=10) as s:
        s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 50\r\n\r\nuser")
        time.sleep(0.3)
        h.proc.send_signal(signal.SIGTERM)
        data = s.recv(65536)  # the request in flight is still answered
    assert data.startswith(b"HTTP/1.1 408")
    assert h.proc.wait(10) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(h.url + "/livez", timeout=1)


# ---------------------------------------------------------------- CSV, silences, kiosk
def test_alert_history_csv(web):
    base, st = web
    with st.db() as db:
        db.execute("UPDATE alerts SET summary_vi = '=HYPERLINK(\"http://evil\")' WHERE id = (SELECT MAX(id) FROM alerts)")
    c, _r = login(base, "noc", "viewer-pass-123")
    r = c.get("/alerts.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("id,quy_tac,thiet_bi,muc_do")
    assert "kg-ups-01" in text and "ups_on_battery" in text and "Nghiêm trọng" in text
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text  # no formula injection
    assert httpx.get(base + "/alerts.csv", follow_redirects=False).status_code == 303


def test_maintenance_windows_admin_only(web):
    base, st = web
    viewer, r = login(base, "noc", "viewer-pass-123")
    page = viewer.get("/silences")
    assert 'id="s-add"' not in page.text
    r = viewer.post("/silences", data={"csrf": csrf_of(page.text), "target": "device:kg-ups-01",
                                       "ends": str(int(time.time() + 3600)), "reason": "x"})
    assert r.status_code == 403
    admin, r = login(base, "admin", "admin-pass-123")
    page = admin.get("/silences")
    bad = admin.post("/silences", data={"csrf": csrf_of(page.text), "target": "device:nope",
                                        "ends": str(int(time.time() + 3600)), "reason": "x"})
    assert bad.status_code == 400
    r = admin.post("/silences", data={"csrf": csrf_of(page.text), "target": "device:kg-ups-01",
                                      "starts": "", "ends": str(int(time.time() + 3600)),
                                      "reason": "Thay ắc quy <UPS>"})
    assert r.status_code == 200 and "Thay ắc quy &lt;UPS&gt;" in r.text and "admin" in r.text
    r = admin.get("/")
    assert "in-maintenance" in r.split if False else "in-maintenance" in r.text
    sid = st.db().conn.execute("SELECT MAX(id) FROM silences").fetchone()[0]
    r = admin.post(f"/silences/{sid}/end", data={"csrf": csrf_of(r.text)})
    assert "in-maintenance" not in admin.get("/").text


def test_kiosk_token_opens_only_the_wall(web):
    base, st = web
    from dcops.monitor.web.app import add_kiosk
    tok = add_kiosk(st, "wall-1")
    k = client(base, follow_redirects=False)
    assert k.get("/kiosk/not-a-token").status_code == 403
    r = k.get(f"/kiosk/{tok}")
    assert r.status_code == 303 and r.headers["location"] == "/wall"
    ck = [v for v in r.headers.get_list("set-cookie") if v.startswith("dcops_kiosk=")][0]
    assert "HttpOnly" in ck and "SameSite=Strict" in ck and "Max-Age=315360000" in ck
    r = k.get("/wall")
    assert r.status_code == 200 and 'class="wall"' in r.text and 'http-equiv="refresh"' in r.text
    assert 'id="tile-kg-ups-01"' in r.text
    assert k.get("/").status_code == 303 and k.get("/alerts.csv").status_code == 303  # nothing else
    assert k.post("/alerts/1/ack", data={"csrf": "x"}).status_code in (401, 403)
    with st.db() as db:  # no session timeout: the kiosk has no session at all
        db.execute("DELETE FROM sessions")
    assert k.get("/wall").status_code == 200
    from dcops.monitor.web.app import revoke_kiosk
    revoke_kiosk(st, "wall-1")
    assert k.get("/wall").status_code == 303
    assert re.search(r"dcops_kiosk", r.text) is None


# ---------------------------------------------------------------- real history
def test_thirty_day_device_page_is_small_and_cached(tmp_path):
    """30 days of history for a UPS with 24 series: the page carries pixels, not 200,000 points."""
    db = tmp_path / "hist.db"
    st = seed(db)
    now = int(time.time()) // 300 * 300
    samples = [Sample("ups_output_load_ratio", {"phase": str(p)}, 0.4, "gauge", "ratio") for p in (1, 2, 3)]
    samples += [Sample("ups_output_voltage_volts", {"phase": str(p)}, 230.0, "gauge", "volts") for p in (1, 2, 3)]
    samples += [Sample("ups_output_current_amperes", {"phase": str(p)}, 40.0, "gauge", "amperes") for p in (1, 2, 3)]
    samples += [Sample("ups_output_power_watts", {"phase": str(p)}, 9000.0, "gauge", "watts") for p in (1, 2, 3)]
    samples += [Sample("ups_input_voltage_volts", {"phase": str(p)}, 229.0, "gauge", "volts") for p in (1, 2, 3)]
    samples += [Sample("ups_input_frequency_hertz", {"phase": str(p)}, 50.0, "gauge", "hertz") for p in (1, 2, 3)]
    samples += [Sample("ups_battery_temperature_celsius", {"string": str(p)}, 25.0, "gauge", "celsius") for p in (1, 2)]
    st.write_poll(DevicePoll("kg-ups-01", "ups-rfc1628", now, True, samples=samples), "UPS", "ups")
    sids = [s["id"] for s in st.series("kg-ups-01") if s["unit"] not in ("",)]
    conn = st.db().conn
    for sid in sids:
        conn.executemany("INSERT OR REPLACE INTO samples VALUES (?,?,?)",
                         [(sid, ts, 0.4 + (ts % 7) / 100) for ts in range(now - 2 * 86400, now, 60)])
        conn.executemany("INSERT OR REPLACE INTO rollup_5m VALUES (?,?,?,?,?,?)",
                         [(sid, ts, 0.4, 0.38, 0.46, 5) for ts in range(now - 31 * 86400, now - 2 * 86400, 300)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with start_dashboard(db) as h:
        c, _r = login(h.url, "noc", "viewer-pass-123")
        t0 = time.monotonic()
        r = c.get("/device/kg-ups-01?range=30d")
        first = time.monotonic() - t0
        assert r.status_code == 200 and r.text.count("<svg") >= 7
        assert len(r.content) < 200_000, len(r.content)
        points = sum(p.count(",") for p in re.findall(r'points="([^"]*)"', r.text))
        assert points < 24 * 2 * 300, points
        r2 = c.get("/device/kg-ups-01?range=30d")  # same poll cycle: served from memory, same page
        assert r2.text == r.text
        assert len(c.get("/device/kg-ups-01?range=1d").content) < 200_000
        assert first < 10


def test_page_views_while_the_monitor_holds_the_write_lock(web):
    """The old server took SQLite's write lock for every page view: while the monitor wrote a cycle,
    views waited up to busy_timeout and failed with 'database is locked'."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor
    base, st = web
    c, r = login(base, "noc", "viewer-pass-123")
    cookies = c.cookies
    writer = sqlite3.connect(st.path, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE devices SET error = 'mid-cycle'")

    def view(path):
        t0 = time.monotonic()
        with client(base, cookies=cookies) as cc:
            r = cc.get(path)
        return r.status_code, time.monotonic() - t0

    try:
        with ThreadPoolExecutor(10) as ex:
            got = list(ex.map(view, ["/", "/alerts", "/device/kg-ups-01?range=1d", "/lines", "/api/status"] * 4))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert all(code == 200 for code, _ in got), got
    assert max(t for _, t in got) < 3, got


def test_cached_pages_follow_each_poll_cycle_and_each_ack(tmp_path):
    db = tmp_path / "c.db"
    st = seed(db)
    with start_dashboard(db) as h:
        c, r = login(h.url, "admin", "admin-pass-123")
        first = c.get("/").text
        assert c.get("/").text == first  # the same cycle: the same page from memory
        st.write_poll(DevicePoll("kg-ups-01", "ups-rfc1628", time.time(), True, samples=[
            Sample("ups_output_source", {}, 3, "enum", "", state="normal"),
            Sample("ups_battery_charge_ratio", {}, 0.505, "gauge", "ratio")]), "UPS trung tâm 80 kVA", "ups")
        page = c.get("/").text
        assert "50,5 %" in page and "50,5 %" not in first
        alert_id = st.db().conn.execute("SELECT id FROM alerts WHERE state='firing'").fetchone()[0]
        from dcops.monitor.alerts import acknowledge
        acknowledge(st, alert_id, "other-admin", "đang xử lý")
        assert "other-admin" in c.get("/alerts").text  # an ack (no poll) shows at once too


def test_port_in_use_is_a_clear_error(tmp_path):
    import subprocess
    import sys
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "dcops.monitor", "dashboard", "--db", str(tmp_path / "p.db"),
                            "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"cannot serve on 127.0.0.1:{port}" in r.stderr, (r.returncode, r.stderr)
