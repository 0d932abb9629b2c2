"""End to end in headless Chromium: the simulated site, `dcops monitor`, `dcops dashboard`.

Log in, flip the simulated UPS to battery by SNMP SET (snmpsim writecache), see the alert
within one poll cycle, acknowledge it, switch language; a viewer cannot acknowledge.
Screenshots go to $DCOPS_SCREENSHOT_DIR when set (docs/screenshots/ is made that way).
"""
import os
import time
from pathlib import Path

import pytest

import dcops
from dcops.model import load_inventory
from dcops.monitor.launch import start_dashboard, start_monitor
from dcops.monitor.sim import sim_devices_from_inventory, start_agents

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
INTERVAL = 3.0
from dcops.monitor.sim import UPS_OUTPUT_SOURCE as UPS_SOURCE  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("noc")
    inv = load_inventory(dcops.DEFAULT_INVENTORY)
    sim = start_agents(sim_devices_from_inventory(inv), workdir=tmp / "sim")
    mon = web = None
    try:
        mon = start_monitor(sim.targets_file, tmp / "noc.db", interval=INTERVAL)
        web = start_dashboard(tmp / "noc.db", users={"admin": ("admin", "admin-pass-123"),
                                                     "noc": ("viewer", "viewer-pass-123")})
        yield sim, mon, web
    finally:
        for h in (web, mon):
            if h is not None:
                h.stop()
        sim.stop()


def shot(page, name):
    d = os.environ.get("DCOPS_SCREENSHOT_DIR")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(d) / f"{name}.png"), full_page=True)


def login(page, url, user, pw):
    page.goto(url + "/")
    assert "/login" in page.url
    page.fill("#username", user)
    page.fill("#password", pw)
    page.click("#login-button")
    page.wait_for_selector("#nav-overview")


def test_noc_flow_in_chromium(site):
    sim, mon, web = site
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(web.url + "/login")
            assert "Đăng nhập" in page.content()  # Vietnamese by default
            page.fill("#username", "admin")
            page.fill("#password", "wrong-password")
            page.click("#login-button")
            assert page.is_visible("#login-error")
            login(page, web.url, "admin", "admin-pass-123")
            # Every SNMP-polled facility device is on the overview, all reachable after a cycle.
            deadline = time.monotonic() + 4 * INTERVAL
            while True:
                page.goto(web.url + "/")
                statuses = {el.get_attribute("data-status") for el in page.query_selector_all("#dev-kg-ups-01 .status")}
                if statuses == {"ok"} or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert statuses == {"ok"}
            for dev in ("kg-ups-01", "kg-ups-02", "kg-crac-01", "kg-inrow-01", "kg-env-01", "kg-lb-01"):
                assert page.is_visible(f"#dev-{dev}")
            shot(page, "overview-vi")

            # The UPS goes to battery: SNMP SET on the simulated agent.
            sim.set("kg-ups-01", UPS_SOURCE, 5)
            t0 = time.monotonic()
            row = None
            while time.monotonic() - t0 < INTERVAL + 4:
                page.goto(web.url + "/")
                row = page.query_selector('tr.alert-row[data-rule="ups_on_battery"][data-device="kg-ups-01"]')
                if row:
                    break
                time.sleep(0.3)
            elapsed = time.monotonic() - t0
            assert row is not None, "alert did not appear"
            assert elapsed <= INTERVAL + 4, f"alert took {elapsed:.1f} s (poll interval {INTERVAL} s)"
            assert "đang chạy bằng ắc quy" in row.inner_text()
            assert page.get_attribute("#dev-kg-ups-01 .status", "data-status") == "critical"
            shot(page, "alert-vi")

            row.query_selector(".ack-button").click()
            page.wait_for_selector('tr.alert-row[data-rule="ups_on_battery"] .acked')
            assert "Đã xác nhận bởi admin" in page.inner_text('tr.alert-row[data-rule="ups_on_battery"]')

            page.click("#lang-switch")
            page.wait_for_selector("html[lang=en]")
            assert "Acknowledged by admin" in page.inner_text('tr.alert-row[data-rule="ups_on_battery"]')
            assert "UPS kg-ups-01 is on battery" in page.content()
            shot(page, "overview-en")
            page.goto(web.url + "/device/kg-ups-01?range=1h")
            assert page.is_visible("svg.chart")
            shot(page, "device-ups-en")
            page.goto(web.url + "/lines")
            assert "isp1-vnpt" in page.content() and page.is_visible("svg.chart")
            shot(page, "lines-en")

            # A viewer sees the alert but cannot acknowledge anything.
            ctx = browser.new_context()
            viewer = ctx.new_page()
            login(viewer, web.url, "noc", "viewer-pass-123")
            viewer.goto(web.url + "/alerts")
            assert viewer.query_selector('tr.alert-row[data-rule="ups_on_battery"]')
            assert viewer.query_selector(".ack-button") is None
            ctx.close()
        finally:
            sim.set("kg-ups-01", UPS_SOURCE, 3)
            browser.close()
