"""The NOC page's own sections for the facility alarms (fire panel, surge protector, doors, water leak) and for
the data quality of each device (malformed, rejected, implausible, profile matched nothing, never polled), in
Vietnamese by default and in English on request — over HTTP against the real server, and in Chromium."""
import html
import re
import time
from pathlib import Path

import httpx
import pytest

import dcops
from dcops.model import load_inventory
from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.launch import start_dashboard
from dcops.monitor.poller import DevicePoll, facility_alarms
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store
from dcops.monitor.targets import targets_from_inventory
from dcops.monitor.web import auth


def _contact(name, state):
    return Sample("env_contact_state", {"contact": name}, 1.0 if state == "closed" else 0.0, "enum", "", state=state)


def _site(db):
    """kg-env-01 with the fire panel's "discharged" relay closed and its door input gone missing; kg-env-02
    (the SPD) read normal once and silent since; devices in every data-quality state."""
    st = Store(db)
    auth.set_user(st, "noc", "viewer", "viewer-pass-123")
    targets = {t.name: t for t in targets_from_inventory(load_inventory(dcops.DEFAULT_INVENTORY), resolve=False)}
    now = time.time()
    env1 = [_contact("Tủ báo cháy: đã xả khí", "closed"), _contact("Tủ báo cháy: lỗi", "open"),
            _contact("Rò rỉ nước sàn nâng", "open"), _contact("Cửa phòng máy: mở cưỡng bức", "open"),
            Sample("env_temperature_celsius", {"sensor": "Nóng-Rack-A3"}, 24.5, "gauge", "celsius")]
    env2 = [_contact("Chống sét lan truyền: SPD hỏng", "closed")]
    polls = [
        DevicePoll("kg-env-01", "apc-netbotz", now, True, samples=env1 + facility_alarms(targets["kg-env-01"], env1)),
        DevicePoll("kg-env-02", "apc-netbotz", now - 120, True, samples=env2 + facility_alarms(targets["kg-env-02"],
                                                                                               env2)),
        DevicePoll("kg-ups-01", "ups-rfc1628", now, False, "malformed response from 10.10.1.201:161: INTEGER of 11 "
                   "bytes (more than 64 bits) (1 answer discarded)", state="malformed"),
        DevicePoll("kg-ups-02", "apc-ups", now, True, state="implausible", implausible=["x"], samples=[
            Sample("ups_battery_charge_ratio", {}, 0.97, "gauge", "ratio"),
            Sample("snmp_implausible_values", {}, 1.0, "gauge", "")]),
        DevicePoll("kg-crac-01", "liebert-cooling", now, True, state="profile_matched_nothing", samples=[
            Sample("snmp_profile_readings", {}, 0.0, "gauge", "")]),
        DevicePoll("kg-inrow-01", "apc-inrow", now, False, "no valid response from 10.10.1.212:161: 2 answers "
                   "rejected: security level noAuthNoPriv in answer to an authPriv request", state="rejected"),
    ]
    meta = {"kg-env-01": ("Cảm biến môi trường phòng máy chủ", "sensor"),
            "kg-env-02": ("Cảm biến môi trường phòng nguồn", "sensor"), "kg-ups-01": ("UPS 80 kVA", "ups"),
            "kg-ups-02": ("UPS rack", "ups"), "kg-crac-01": ("Liebert 1", "cooling"),
            "kg-inrow-01": ("InRow", "cooling")}
    st.write_polls(polls, meta)
    st.write_poll(DevicePoll("kg-env-02", "apc-netbotz", now, False, "unreachable: no response from "
                             "10.10.1.221:161", state="unreachable"), *meta["kg-env-02"])
    st.register_device("kg-crac-02", "liebert-cooling", "cooling", "Liebert 2")
    AlertEngine(load_rules(), st).evaluate(polls[:1])
    return st


@pytest.fixture(scope="module")
def noc(tmp_path_factory):
    db = tmp_path_factory.mktemp("facility") / "noc.db"
    _site(db)
    h = start_dashboard(db)
    try:
        yield h.url
    finally:
        h.stop()


def _login(base):
    c = httpx.Client(base_url=base, follow_redirects=True)
    form = c.get("/login")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": "noc", "password": "viewer-pass-123", "next": "/", "csrf": csrf})
    assert r.status_code == 200
    return c, r


def _rows(page, cls):
    return [dict(re.findall(r'data-(\w+)="([^"]*)"', m)) for m in re.findall(rf'<tr class="{cls}[^"]*"([^>]*)>', page)]


def _section(page, ident):
    return page.split(f'id="{ident}"')[1].split("</table>")[0]


EXPECTED_FACILITY = [  # alarms first, then unknown (sensor silent), then missing, then normal
    {"role": "fire_discharged", "device": "kg-env-01", "state": "alarm"},
    {"role": "spd_failed", "device": "kg-env-02", "state": "unknown"},
    {"role": "door_open", "device": "kg-env-01", "state": "missing"},
    {"role": "door_forced", "device": "kg-env-01", "state": "normal"},  # then by device and input name
    {"role": "water_leak", "device": "kg-env-01", "state": "normal"},
    {"role": "fire_fault", "device": "kg-env-01", "state": "normal"},
]
EXPECTED_QUALITY = [  # failures first, then degraded answers, then never polled
    {"device": "kg-env-02", "quality": "unreachable"}, {"device": "kg-ups-01", "quality": "malformed"},
    {"device": "kg-inrow-01", "quality": "rejected"}, {"device": "kg-ups-02", "quality": "implausible"},
    {"device": "kg-crac-01", "quality": "profile_matched_nothing"}, {"device": "kg-crac-02", "quality": "never_polled"},
]


def test_facility_alarms_have_their_own_section_in_vietnamese(noc):
    _c, r = _login(noc)
    page = r.text
    assert 'lang="vi"' in page
    assert _rows(page, "fac-row") == EXPECTED_FACILITY
    fac = html.unescape(_section(page, "facility"))
    first = fac.split('class="fac-row')[1]
    assert "Xả khí chữa cháy" in first and "BÁO ĐỘNG" in first and "badge critical" in first
    assert "Tủ báo cháy: đã xả khí" in first and "kg-fire-01" in first
    spd = fac.split('class="fac-row')[2]
    assert "Không rõ: thiết bị đọc không trả lời" in spd and "Mất kết nối" in spd and "badge warning" in spd
    assert "Không đọc được đầu vào" in fac.split('class="fac-row')[3]
    assert "Báo động hạ tầng kỹ thuật: cháy, chống sét, cửa, rò nước" in html.unescape(page)
    assert "CHÁY: hệ thống chữa cháy khí đã xả" in html.unescape(page)  # the alert, in the alert table


def test_data_quality_per_device_in_vietnamese(noc):
    _c, r = _login(noc)
    page = html.unescape(r.text)
    assert _rows(r.text, "quality-row") == EXPECTED_QUALITY
    q = _section(page, "quality")
    for word in ("Phản hồi sai định dạng", "Phản hồi bị loại", "Giá trị không hợp lý", "Hồ sơ không khớp",
                 "Chưa thăm dò", "INTEGER of 11 bytes"):
        assert word in q, word
    # the device tables: a malformed device is not called unreachable; degraded answers carry a badge
    row = page.split('id="dev-kg-ups-01"')[1].split("</tr>")[0]
    assert 'data-status="malformed"' in row and "Mất kết nối" not in row
    row = page.split('id="dev-kg-ups-02"')[1].split("</tr>")[0]
    assert 'data-quality="implausible"' in row and "97 %" in row
    row = page.split('id="dev-kg-crac-02"')[1].split("</tr>")[0]
    assert 'data-status="unknown"' in row and 'data-quality="never_polled"' in row


def test_english_on_request(noc):
    c, r = _login(noc)
    csrf = r.text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/lang", data={"lang": "en", "next": "/", "csrf": csrf})
    page = html.unescape(r.text)
    assert 'lang="en"' in page
    assert "Facility alarms: fire, surge protection, doors, water" in page
    fac = _section(page, "facility")
    assert "Gas suppression discharge" in fac and "ALARM" in fac and "Unknown: its sensor gives no data" in fac
    q = _section(page, "quality")
    for word in ("Malformed response", "Answers rejected", "Implausible value", "Profile matched nothing",
                 "Never polled"):
        assert word in q, word
    assert "Xả khí chữa cháy" not in page and "Phản hồi sai định dạng" not in page


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium")
def test_in_chromium_the_fire_alarm_row_is_first_and_red_on_a_phone(noc):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = b.new_page(viewport={"width": 390, "height": 844})
            page.goto(noc + "/")
            page.fill("#username", "noc")
            page.fill("#password", "viewer-pass-123")
            page.click("#login-button")
            page.wait_for_selector("#facility")
            first = page.locator("#facility tr.fac-row").first
            assert first.get_attribute("data-role") == "fire_discharged"
            assert first.locator(".fac-state").inner_text() == "BÁO ĐỘNG"
            assert first.locator(".fac-state").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(185, 28, 28)"
            assert page.locator("#quality tr.quality-row").count() == len(EXPECTED_QUALITY)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
            d = __import__("os").environ.get("DCOPS_SCREENSHOT_DIR")
            if d:
                page.screenshot(path=str(Path(d) / "facility-vi-phone.png"), full_page=True)
        finally:
            b.close()
