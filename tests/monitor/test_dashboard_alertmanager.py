"""The NOC page in scale-out mode (`dcops dashboard --alertmanager URL`) against Debian's Alertmanager 0.25,
started here on 127.0.0.1 with the generated alertmanager.yml (its inhibitions included).

The store the page reads its devices from holds no alert at all: every alert the page shows can only come
from Alertmanager. Acknowledgements and maintenance windows made on the page must exist as Alertmanager
silences (read back through Alertmanager's API, not the page); when Alertmanager stops answering the page
says so and never shows an empty "no alerts" list.
"""
import datetime as dt
import time

import httpx
import pytest

from dcops.model import load_inventory
from dcops.monitor.alerts import load_rules
from dcops.monitor.launch import start_dashboard
from dcops.monitor.scaleout import bundle, write
from dcops.monitor.stack import ALERTMANAGER_BIN, StackError, find_binary, start_alertmanager
from dcops.monitor.store import Store
from dcops.monitor.web import auth

try:
    find_binary(ALERTMANAGER_BIN)
    HAVE_AM = True
except StackError:
    HAVE_AM = False

pytestmark = pytest.mark.skipif(not HAVE_AM, reason="Debian's prometheus-alertmanager not installed")

ADMIN_PW, VIEWER_PW = "admin-pass-123", "viewer-pass-123"


def _iso(ts):
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _labels(alertname, device, kind, severity, site="kg-dc"):
    # what Prometheus sends for a generated rule: the series' labels, the rule's, the external `site`
    return {"alertname": alertname, "device": device, "kind": kind, "severity": severity, "source": "dcops",
            "site": site, "system": "shared", "level": "3"}


ALERTS = [
    (_labels("DcopsUpsOnBattery", "kg-ups-01", "ups", "critical"),
     {"summary_vi": "UPS kg-ups-01 đang chạy bằng ắc quy", "summary": "UPS kg-ups-01 is on battery"}),
    (_labels("DcopsDeviceUnreachable", "kg-crac-01", "cooling", "critical"),
     {"summary_vi": "Mất kết nối tới kg-crac-01", "summary": "kg-crac-01 unreachable"}),
]


# the DR site's UPS, same device name, in the same (central) Alertmanager: not this page's site
DR_ALERT = (_labels("DcopsUpsOnBattery", "kg-ups-01", "ups", "critical", site="kg-dr"),
            {"summary_vi": "UPS kg-ups-01 (DR) đang chạy bằng ắc quy", "summary": "DR UPS on battery"})


def _post_alerts(am_url, alerts):
    now = time.time()
    body = [{"labels": lab, "annotations": ann, "startsAt": _iso(now - 60), "endsAt": _iso(now + 3600)}
            for lab, ann in alerts]
    r = httpx.post(f"{am_url}/api/v2/alerts", json=body, timeout=5)
    assert r.status_code == 200, r.text


def _wait(pred, timeout=30, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _login(base, user, pw):
    c = httpx.Client(base_url=base, follow_redirects=True, timeout=10)
    form = c.get("/login").text
    csrf = form.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": user, "password": pw, "next": "/", "csrf": csrf})
    assert r.status_code == 200 and "/login" not in str(r.url), r.text[:300]
    return c


def _csrf(html):
    return html.split('name="csrf" value="')[1].split('"')[0]


def _am_silences(am_url):
    return [s for s in httpx.get(f"{am_url}/api/v2/silences", timeout=5).json() if s["status"]["state"] == "active"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("am-noc")
    b = bundle(load_inventory(), load_rules(), exporters=["127.0.0.1:9118"], alertmanagers=[])
    write(b, tmp / "bundle")
    am = start_alertmanager(tmp / "bundle" / "alertmanager.yml", tmp / "am")
    db = tmp / "noc.db"
    st = Store(db)
    st.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS trung tâm 80 kVA")
    st.register_device("kg-crac-01", "liebert-cooling", "cooling", "Điều hòa chính xác số 1")
    web = None
    try:
        web = start_dashboard(db, users={"admin": ("admin", ADMIN_PW), "noc": ("viewer", VIEWER_PW)},
                              extra=["--alertmanager", am.url, "--site", "kg-dc", "--stale-after", "100000"])
        _post_alerts(am.url, [*ALERTS, DR_ALERT])
        yield am, web, st
    finally:
        if web:
            web.stop()
        am.stop()


def test_page_lists_alertmanagers_alerts_in_vietnamese_with_inhibition_marked(stack):
    am, web, st = stack
    with st.read() as db:
        assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 0  # nothing from the embedded engine
    c = _login(web.url, "noc", VIEWER_PW)
    html = _wait(lambda: (lambda h: h if "kg-crac-01" in h and "kg-ups-01" in h else None)(c.get("/alerts").text),
                 what="both alerts on the page")
    assert "UPS kg-ups-01 đang chạy bằng ắc quy" in html and "(DR)" not in html
    rows = html.split('class="alert-row"')[1:]
    assert len(rows) == 2
    crac = next(r for r in rows if 'data-device="kg-crac-01"' in r)
    ups = next(r for r in rows if 'data-device="kg-ups-01"' in r)
    assert 'class="badge info inhibited"' in crac and "inhibited" not in ups  # the generated inhibition, live
    assert 'id="alert-source-down"' not in html and 'id="no-alerts"' not in html
    status = c.get("/api/status").json()
    assert status["alert_source"] == {"kind": "alertmanager", "ok": True, "error": None, "fallback": False}
    assert {(a["rule"], a["device"], a["severity"]) for a in status["alerts"]} == {
        ("DcopsUpsOnBattery", "kg-ups-01", "critical"), ("DcopsDeviceUnreachable", "kg-crac-01", "critical")}
    assert {d["name"]: d["status"] for d in status["devices"]}["kg-ups-01"] == "unknown"  # never polled here


def test_acknowledgement_is_an_alertmanager_silence_of_exactly_that_alert(stack):
    am, web, _st = stack
    viewer = _login(web.url, "noc", VIEWER_PW)
    fp = next(a["fingerprint"] for a in httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()
              if a["labels"]["alertname"] == "DcopsUpsOnBattery" and a["labels"]["site"] == "kg-dc")
    page = viewer.get("/alerts").text
    r = viewer.post(f"/alerts/{fp}/ack", data={"csrf": _csrf(page), "comment": "x"}, follow_redirects=False)
    assert r.status_code == 403 and not _am_silences(am.url)  # a viewer cannot acknowledge
    admin = _login(web.url, "admin", ADMIN_PW)
    page = admin.get("/alerts").text
    assert f'action="/alerts/{fp}/ack"' in page
    r = admin.post(f"/alerts/{fp}/ack", data={"csrf": _csrf(page), "comment": "đã gọi điện lực", "next": "/alerts"},
                   follow_redirects=False)
    assert r.status_code == 303, r.text
    (sil,) = _am_silences(am.url)
    assert sil["createdBy"] == "admin" and sil["comment"] == "ACK: đã gọi điện lực"
    assert {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in sil["matchers"]} == {
        (k, v, False, True) for k, v in ALERTS[0][0].items()}
    alerts = {(a["labels"]["alertname"], a["labels"]["site"]): a
              for a in httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()}
    assert alerts["DcopsUpsOnBattery", "kg-dc"]["status"]["silencedBy"] == [sil["id"]]
    assert alerts["DcopsUpsOnBattery", "kg-dr"]["status"]["silencedBy"] == []
    assert alerts["DcopsDeviceUnreachable", "kg-dc"]["status"]["silencedBy"] == []
    html = _wait(lambda: (lambda h: h if 'class="acked"' in h else None)(admin.get("/alerts").text),
                 what="the acknowledgement on the page")
    ups = next(r for r in html.split('class="alert-row"')[1:] if 'data-device="kg-ups-01"' in r)
    assert "Đã xác nhận bởi admin" in ups and "đã gọi điện lực" in ups
    httpx.delete(f"{am.url}/api/v2/silence/{sil['id']}", timeout=5)


def test_maintenance_window_made_on_the_page_is_an_alertmanager_silence_and_ends_there(stack):
    am, web, _st = stack
    admin = _login(web.url, "admin", ADMIN_PW)
    page = admin.get("/silences").text
    r = admin.post("/silences", data={"csrf": _csrf(page), "target": "device:kg-crac-01", "starts": "",
                                      "ends": str(int(time.time() + 7200)), "reason": "bảo dưỡng định kỳ"},
                   follow_redirects=False)
    assert r.status_code == 303, r.text
    (sil,) = [s for s in _am_silences(am.url) if not s["comment"].startswith("ACK")]
    assert sorted((m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in sil["matchers"]) == [
        ("device", "kg-crac-01", False, True), ("site", "kg-dc", False, True)]  # a DR site may have a kg-crac-01
    assert sil["comment"] == "bảo dưỡng định kỳ" and sil["createdBy"] == "admin"
    html = _wait(lambda: (lambda h: h if sil["id"] in h else None)(admin.get("/silences").text), what="the window")
    row = next(r for r in html.split('class="silence-row')[1:] if sil["id"] in r)
    assert 'data-target="device:kg-crac-01"' in row and "Điều hòa chính xác số 1" in row
    over = _wait(lambda: (lambda h: h if "in-maintenance" in h else None)(admin.get("/").text), what="maintenance")
    assert over.count("in-maintenance") == 1 and 'id="dev-kg-crac-01"' in over.split("in-maintenance")[0]
    # a group window: the site and the group's kinds
    page = admin.get("/silences").text
    r = admin.post("/silences", data={"csrf": _csrf(page), "target": "group:ups", "starts": "",
                                      "ends": str(int(time.time() + 3600)), "reason": "thay ắc quy"},
                   follow_redirects=False)
    assert r.status_code == 303
    grp = next(s for s in _am_silences(am.url) if s["comment"] == "thay ắc quy")
    assert sorted((m["name"], m["value"], m["isRegex"]) for m in grp["matchers"]) == [
        ("kind", "ups", True), ("site", "kg-dc", False)]
    alerts = {(a["labels"]["alertname"], a["labels"]["site"]): a
              for a in httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()}
    assert alerts["DcopsUpsOnBattery", "kg-dc"]["status"]["silencedBy"] == [grp["id"]]
    assert alerts["DcopsUpsOnBattery", "kg-dr"]["status"]["silencedBy"] == []  # the other site's UPS group
    # end both from the page: expired in Alertmanager
    for sid in (sil["id"], grp["id"]):
        page = admin.get("/silences").text
        r = admin.post(f"/silences/{sid}/end", data={"csrf": _csrf(page)}, follow_redirects=False)
        assert r.status_code == 303
    assert [s for s in _am_silences(am.url) if not s["comment"].startswith("ACK")] == []


def test_alertmanager_down_is_flagged_never_all_ok_and_writes_fail_honestly(tmp_path):
    """A page pointed at an Alertmanager that does not answer: a banner on every page, the alert list says
    the state is unknown (the store has no alert to fall back on), /api/status says so, a window is refused."""
    from dcops.monitor.launch import free_tcp_port
    db = tmp_path / "noc.db"
    st = Store(db)
    st.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS trung tâm 80 kVA")
    dead = f"http://127.0.0.1:{free_tcp_port()}"
    web = start_dashboard(db, users={"admin": ("admin", ADMIN_PW)},
                          extra=["--alertmanager", dead, "--site", "kg-dc", "--stale-after", "100000"])
    try:
        c = _login(web.url, "admin", ADMIN_PW)
        for path in ("/", "/alerts", "/wall", "/silences"):
            html = c.get(path).text
            assert 'id="alert-source-down"' in html and dead in html, path
            assert 'id="no-alerts"' not in html, path
        assert 'id="alerts-unknown"' in c.get("/alerts").text
        status = c.get("/api/status").json()["alert_source"]
        assert status["ok"] is False and status["fallback"] is True and dead in status["error"]
        page = c.get("/silences").text
        r = c.post("/silences", data={"csrf": _csrf(page), "target": "device:kg-ups-01", "starts": "",
                                      "ends": str(int(time.time() + 3600)), "reason": "bảo trì"})
        assert r.status_code == 502 and "Alertmanager không lưu được" in r.text
        with st.read() as d:
            assert d.execute("SELECT COUNT(*) FROM silences").fetchone()[0] == 0
    finally:
        web.stop()


def test_alertmanager_down_falls_back_to_the_embedded_engines_alerts_marked(tmp_path):
    from dcops.monitor.alerts import AlertEngine
    from dcops.monitor.launch import free_tcp_port
    from dcops.monitor.poller import DevicePoll
    from dcops.monitor.profiles import Sample
    db = tmp_path / "noc.db"
    st = Store(db)
    auth.set_user(st, "noc", "viewer", VIEWER_PW)
    st.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS trung tâm 80 kVA")
    AlertEngine(load_rules(), st).evaluate([DevicePoll("kg-ups-01", "ups-rfc1628", time.time(), True, samples=[
        Sample("ups_output_source", {}, 5, "enum", "", state="battery")])])
    web = start_dashboard(db, extra=["--alertmanager", f"http://127.0.0.1:{free_tcp_port()}",
                                     "--stale-after", "100000"])
    try:
        html = _login(web.url, "noc", VIEWER_PW).get("/").text
        assert 'id="alert-source-down"' in html and 'id="alerts-fallback"' in html
        assert 'data-rule="ups_on_battery"' in html and "UPS kg-ups-01 đang chạy bằng ắc quy" in html
    finally:
        web.stop()


def test_dashboard_refuses_a_non_http_alertmanager(tmp_path):
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "dcops.cli", "dashboard", "--db", str(tmp_path / "d.db"),
                        "--alertmanager", "127.0.0.1:9093"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "http(s)://" in p.stderr
