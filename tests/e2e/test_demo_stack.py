"""`dcops demo --stack prometheus`: the demo's simulated agents → `dcops monitor` /metrics → Debian's Prometheus
with the generated rules → Alertmanager → the NOC page, all on 127.0.0.1; a crash is cleaned up by
`dcops demo down`, which stops Prometheus and Alertmanager by their recorded PIDs."""
from __future__ import annotations

import signal

import httpx
import pytest

from dcops.monitor.stack import ALERTMANAGER_BIN, PROMETHEUS_BIN, StackError, find_binary

from .conftest import PASSWORD, assert_nothing_left, dcops as run, recorded
from tests.waiting import wait_for

try:
    find_binary(PROMETHEUS_BIN), find_binary(ALERTMANAGER_BIN)
    HAVE_STACK = True
except StackError:
    HAVE_STACK = False

pytestmark = [pytest.mark.slow, pytest.mark.lab,
              pytest.mark.skipif(not HAVE_STACK, reason="Debian's prometheus / prometheus-alertmanager not installed")]


def _login(base):
    c = httpx.Client(base_url=base, follow_redirects=True, timeout=10)
    csrf = c.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": "admin", "password": PASSWORD, "next": "/", "csrf": csrf})
    assert r.status_code == 200 and "/login" not in str(r.url)
    return c


def _wait(pred, timeout, what):
    return wait_for(pred, timeout, what, every=0.5)


def test_demo_on_the_prometheus_stack_pages_through_alertmanager_and_demo_down_stops_it(start_demo):
    demo = start_demo("--no-lab", "--stack", "prometheus", "-s", "mains-failure", "--scenario-delay", "0",
                      "--speed", "4", ready_timeout=240)
    meta = demo.state()["meta"]["demo"]
    prom, am = meta["prometheus"], meta["alertmanager"]
    assert meta["stack"] == "prometheus" and prom.startswith("http://127.0.0.1:") and am.startswith("http://127.0.0.1:")
    _, processes = recorded(demo.state())
    assert {"prometheus", "alertmanager", "monitor", "dashboard"} <= {p["what"] for p in processes}
    assert f"Alertmanager:  {am}/" in demo.output

    # Prometheus scrapes the demo's monitor: every simulated device, labelled from the inventory
    def targets_up():
        r = httpx.get(f"{prom}/api/v1/query", params={"query": 'up{job="dcops"}'}, timeout=5).json()
        return r["data"]["result"] if r["data"]["result"] and r["data"]["result"][0]["value"][1] == "1" else None
    _wait(targets_up, 90, "Prometheus scraping the demo's monitor")

    # the scenario's mains failure fires in Prometheus and reaches Alertmanager with site/system/level
    def at_am():
        return [a for a in httpx.get(f"{am}/api/v2/alerts", timeout=5).json()
                if a["labels"]["alertname"] == "DcopsUpsOnBattery" and a["labels"]["device"] == "kg-ups-01"] or None
    (alert,) = _wait(at_am, 120, "DcopsUpsOnBattery at Alertmanager")
    assert {k: alert["labels"][k] for k in ("site", "system", "level", "kind")} == {
        "site": "kg-dc", "system": "shared", "level": "3", "kind": "ups"}

    # the NOC page shows Alertmanager's alert (its id is Alertmanager's fingerprint), in Vietnamese
    page = _login(demo.url)
    html = _wait(lambda: (lambda h: h if f'action="/alerts/{alert["fingerprint"]}/ack"' in h else None)(
        page.get("/alerts").text), 30, "Alertmanager's alert on the NOC page")
    assert "UPS kg-ups-01 đang chạy bằng ắc quy" in html and 'id="alert-source-down"' not in html
    status = page.get("/api/status").json()
    assert status["alert_source"]["kind"] == "alertmanager" and status["alert_source"]["ok"] is True

    # a crash: nothing torn down; `dcops demo down` stops every recorded process, Prometheus included
    demo.proc.send_signal(signal.SIGKILL)
    demo.proc.wait(10)
    out = run("demo", "down", "--lab-name", demo.lab_name).stdout
    assert f"{demo.lab_name}: removed" in out, out
    assert_nothing_left([], processes, f"{demo.lab_name}-")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{prom}/-/ready", timeout=2)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{am}/-/ready", timeout=2)


def test_demo_refuses_an_unknown_stack():
    p = run("demo", "--stack", "thanos", "--no-lab", check=False)
    assert p.returncode == 2 and "--stack wants embedded or prometheus" in p.stdout + p.stderr
