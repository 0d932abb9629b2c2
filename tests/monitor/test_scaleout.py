"""The generated scale-out stack, checked by the engines themselves: promtool and amtool accept the files,
and Debian's Prometheus and Alertmanager, started here on 127.0.0.1, turn a UPS on battery into exactly one
grouped notification with the Vietnamese summary, inhibit the dependent alerts and honour a silence."""
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml
from ruamel.yaml import YAML

from dcops.model import load_inventory
from dcops.monitor import MONITORS_DIR
from dcops.monitor.alerts import load_rules
from dcops.monitor.scaleout import RULES_FILE, bundle, write
from tests.waiting import wait_for

PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")
PROMETHEUS, ALERTMANAGER = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")


def _rules_file(tmp_path, *, webhook_url=None, email=None, telegram=None, fast=False, unreachable_for="0s"):
    y = YAML(typ="safe")  # YAML 1.2, as load_rules reads it: `off` stays a state word
    doc = y.load((MONITORS_DIR / "alerts.yaml").read_text(encoding="utf-8"))
    if webhook_url:
        doc["notify"]["webhook"].update(enabled=True, url=webhook_url)
    if email:
        doc["notify"]["email"].update(enabled=True, **email)
    if telegram:
        doc["notify"]["telegram"].update(enabled=True, **telegram)
    if fast:  # the shipped rules with test-sized hold times
        for r in doc["rules"]:
            if r["name"] in ("device_unreachable", "leased_line_down", "leased_line_utilisation_high"):
                r["for"] = unreachable_for if r["name"] == "device_unreachable" else "0s"
    path = tmp_path / "alerts.yaml"
    with path.open("w", encoding="utf-8") as f:
        y.dump(doc, f)
    return path


@pytest.mark.skipif(not (PROMTOOL and AMTOOL), reason="Debian's prometheus / prometheus-alertmanager not installed")
def test_generated_bundle_passes_promtool_and_amtool(tmp_path):
    rules = load_rules(_rules_file(tmp_path, webhook_url="http://127.0.0.1:9095/alerts"))
    b = bundle(load_inventory(), rules, exporters=["127.0.0.1:9118"], alertmanagers=["127.0.0.1:9093"])
    assert b.warnings == []
    write(b, tmp_path / "out")
    for cmd in ([PROMTOOL, "check", "config", "prometheus.yml"], [PROMTOOL, "check", "rules", RULES_FILE],
                [AMTOOL, "check-config", "alertmanager.yml"]):
        proc = subprocess.run(cmd, cwd=tmp_path / "out", capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    am = yaml.safe_load((tmp_path / "out" / "alertmanager.yml").read_text())
    assert {"source_matchers": ['alertname="DcopsUpsOnBattery"'],
            "target_matchers": ['alertname=~"DcopsDeviceUnreachable(_.*)?"'], "equal": ["site"]} in am["inhibit_rules"]
    prom = yaml.safe_load((tmp_path / "out" / "prometheus.yml").read_text())
    relabel = prom["scrape_configs"][0]["metric_relabel_configs"]
    assert {"source_labels": ["device"], "regex": "kg-ups-01", "target_label": "kind", "replacement": "ups"} in relabel


def test_a_receiver_whose_secret_is_unset_is_left_out_and_a_set_one_is_written_0600(tmp_path, monkeypatch):
    email = {"username": "noc", "password_ref": "env:DCOPS_TEST_SMTP_PASSWORD"}
    rules = load_rules(_rules_file(tmp_path, email=email))
    monkeypatch.delenv("DCOPS_TEST_SMTP_PASSWORD", raising=False)
    b = bundle(load_inventory(), rules, exporters=["127.0.0.1:9118"], alertmanagers=[])
    assert any("e-mail receiver left out" in w and "DCOPS_TEST_SMTP_PASSWORD" in w for w in b.warnings)
    assert "auth_password" not in b.files["alertmanager.yml"]
    monkeypatch.setenv("DCOPS_TEST_SMTP_PASSWORD", "s3cret-from-env")
    b = bundle(load_inventory(), rules, exporters=["127.0.0.1:9118"], alertmanagers=[])
    write(b, tmp_path / "out")
    am = tmp_path / "out" / "alertmanager.yml"
    assert "s3cret-from-env" in am.read_text() and stat.S_IMODE(am.stat().st_mode) == 0o600


def test_cli_writes_the_bundle_and_reports_json(tmp_path):
    proc = subprocess.run([os.sys.executable, "-m", "dcops.cli", "monitor", "prometheus", "--out", str(tmp_path),
                           "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert sorted(os.path.relpath(p, tmp_path) for p in out["files"]) == ["alertmanager.yml", "prometheus.yml",
                                                                          RULES_FILE]
    assert any("routed nowhere" in w for w in out["warnings"])  # the shipped alerts.yaml enables no receiver


# ---------------------------------------------------------------- the real engines, end to end

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Exporter(ThreadingHTTPServer):
    """Stands in for `dcops monitor`'s /metrics: the exposition text is set by the test."""
    text = ""


class _ExporterHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class _Receiver(ThreadingHTTPServer):
    def __init__(self, *a):
        super().__init__(*a)
        self.posts: list[dict] = []


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _exposition(on_battery: bool, crac_up: bool, line_down: bool) -> str:
    lines = ["# TYPE dcops_ups_output_source gauge"]
    for word in ("normal", "battery"):
        v = int((word == "battery") == on_battery)
        lines.append(f'dcops_ups_output_source{{device="kg-ups-01",ups_output_source="{word}"}} {v}')
    lines += ["# TYPE dcops_device_up gauge",
              'dcops_device_up{device="kg-ups-01",profile="ups-rfc1628",kind="ups"} 1',
              f'dcops_device_up{{device="kg-crac-01",profile="liebert-cooling",kind="cooling"}} {int(crac_up)}',
              "# TYPE dcops_device_state gauge",
              f'dcops_device_state{{device="kg-crac-01",device_state="ok"}} {int(crac_up)}',
              f'dcops_device_state{{device="kg-crac-01",device_state="unreachable"}} {int(not crac_up)}',
              "# TYPE dcops_if_oper_status gauge"]
    for word in ("up", "down"):
        v = int((word == "down") == line_down)
        lines.append(f'dcops_if_oper_status{{device="kg-lb-01",ifName="wan1",line="isp1-vnpt",if_oper_status="{word}"}} {v}')
    lines += ["# TYPE dcops_if_in_utilisation_ratio gauge",
              'dcops_if_in_utilisation_ratio{device="kg-lb-01",ifName="wan1",line="isp1-vnpt"} 0.95']
    return "\n".join(lines) + "\n"


def _wait(pred, timeout, what):
    return wait_for(pred, timeout, what, every=0.25)


def _stop_all(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _test_timers(route: dict) -> None:
    """Test-sized timers on a route and every route under it (the site routes and their severity routes)."""
    route.update(group_wait="2s", group_interval="2s", repeat_interval="1h")
    for child in route.get("routes", ()):
        _test_timers(child)


def _start_engines(tmp_path, exporter_addr, receiver_port, procs, unreachable_for="0s"):
    """Debian's Alertmanager and Prometheus on 127.0.0.1 from the generated bundle (test-sized timers)."""
    prom_port, am_port = _free_port(), _free_port()
    rules = load_rules(_rules_file(tmp_path, webhook_url=f"http://127.0.0.1:{receiver_port}/alerts", fast=True,
                                   unreachable_for=unreachable_for))
    b = bundle(load_inventory(), rules, exporters=[exporter_addr],
               alertmanagers=[f"127.0.0.1:{am_port}"], scrape_interval="1s", evaluation_interval="1s")
    am = yaml.safe_load(b.files["alertmanager.yml"])  # test-sized timers, the same routes and inhibitions
    _test_timers(am["route"])
    b.files["alertmanager.yml"] = yaml.safe_dump(am)
    out = tmp_path / "stack"
    write(b, out)
    procs.append(subprocess.Popen(
        [ALERTMANAGER, f"--config.file={out / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "am.log", "w")))
    procs.append(subprocess.Popen(
        [PROMETHEUS, f"--config.file={out / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prom.log", "w")))
    am_url, prom_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
    _wait(lambda: _ok(f"{am_url}/-/ready") and _ok(f"{prom_url}/-/ready"), 60, "engines ready")
    return prom_url, am_url


@pytest.fixture
def engines(tmp_path):
    if not (PROMETHEUS and ALERTMANAGER):
        pytest.skip("Debian's prometheus / prometheus-alertmanager not installed")
    exporter = _serve(_Exporter(("127.0.0.1", 0), _ExporterHandler))
    receiver = _serve(_Receiver(("127.0.0.1", 0), _ReceiverHandler))
    procs = []
    try:
        prom_url, am_url = _start_engines(tmp_path, f"127.0.0.1:{exporter.server_port}", receiver.server_port,
                                          procs)
        yield exporter, receiver, prom_url, am_url
    finally:
        _stop_all(procs)
        exporter.shutdown()
        receiver.shutdown()


def _ok(url):
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _am_alerts(am_url):
    return {a["labels"]["alertname"]: a for a in httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()}


@pytest.mark.slow
def test_ups_on_battery_is_one_grouped_vietnamese_notification_with_inhibition_and_silence(engines):
    exporter, receiver, prom_url, am_url = engines
    exporter.text = _exposition(on_battery=False, crac_up=True, line_down=False)
    time.sleep(3)
    # mains failure: the UPS goes to battery and the cooling unit it feeds stops answering; a line drops
    exporter.text = _exposition(on_battery=True, crac_up=False, line_down=True)
    alerts = _wait(lambda: (lambda a: a if {"DcopsUpsOnBattery", "DcopsDeviceUnreachable", "DcopsLeasedLineDown",
                                             "DcopsLeasedLineUtilisationHigh"} <= set(a) else None)(_am_alerts(am_url)),
                   90, "the alerts at Alertmanager")
    assert alerts["DcopsDeviceUnreachable"]["status"]["inhibitedBy"]
    assert alerts["DcopsUpsOnBattery"]["status"]["state"] == "active"
    battery = _wait(lambda: [p for p in receiver.posts if p["groupLabels"].get("alertname") == "DcopsUpsOnBattery"],
                    60, "the UPS notification")
    time.sleep(5)  # two more group intervals: still one notification for the group
    battery = [p for p in receiver.posts if p["groupLabels"].get("alertname") == "DcopsUpsOnBattery"]
    assert len(battery) == 1, battery
    (alert,) = battery[0]["alerts"]
    assert alert["annotations"]["summary_vi"] == "UPS kg-ups-01 đang chạy bằng ắc quy"
    assert alert["labels"]["site"] == "kg-dc" and alert["labels"]["severity"] == "critical"
    notified = {p["groupLabels"].get("alertname") for p in receiver.posts}
    assert "DcopsDeviceUnreachable" not in notified  # inhibited by the UPS on battery
    assert "DcopsLeasedLineUtilisationHigh" not in notified  # inhibited by its line being down
    # a silence on the line: the line-down notification (already sent once) is not repeated, nothing new is sent
    now = time.time()
    silence = httpx.post(f"{am_url}/api/v2/silences", json={
        "matchers": [{"name": "alertname", "value": "DcopsUpsOnBattery", "isRegex": False, "isEqual": True}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        "createdBy": "noc-test", "comment": "bảo trì UPS"}, timeout=5)
    assert silence.status_code == 200, silence.text
    _wait(lambda: _am_alerts(am_url)["DcopsUpsOnBattery"]["status"]["silencedBy"], 30, "the silence")
    before = len(receiver.posts)
    exporter.text = _exposition(on_battery=True, crac_up=True, line_down=True)  # the group changes
    time.sleep(6)
    assert not [p for p in receiver.posts[before:] if p["groupLabels"].get("alertname") == "DcopsUpsOnBattery"]


VM = shutil.which("victoria-metrics")


@pytest.mark.slow
@pytest.mark.skipif(not (PROMETHEUS and VM), reason="Debian's prometheus / victoria-metrics not installed")
def test_two_sites_remote_write_to_one_victoria_metrics_and_one_query_sees_both(tmp_path):
    """The production site (a stand-in exporter page, UPS on battery) and the shipped DR site with nothing stood in
    for: simulated agents of inventory-dr's devices → `dcops monitor --inventory inventory-dr` → the DR site's
    Prometheus from the generated kg-dr/ files; both remote-write to one VictoriaMetrics."""
    from dcops import paths
    from dcops.monitor.scaleout import multi_site_bundle
    exporter = _serve(_Exporter(("127.0.0.1", 0), _ExporterHandler))
    exporter.text = _exposition(on_battery=True, crac_up=True, line_down=False)
    vm_port, dr_metrics, targets = _free_port(), _free_port(), tmp_path / "dr-targets.json"
    procs = []
    try:
        procs.append(subprocess.Popen([os.sys.executable, "-m", "dcops.monitor", "snmp", "sim", "--inventory",
                                       str(paths.DR_INVENTORY), "--targets-out", str(targets)],
                                      stdout=subprocess.DEVNULL, stderr=open(tmp_path / "sim.log", "w")))
        procs.append(subprocess.Popen([VM, f"-httpListenAddr=127.0.0.1:{vm_port}",
                                       f"-storageDataPath={tmp_path / 'vm'}", "-retentionPeriod=1d",
                                       # points become visible to queries after 30 s by default: 1 s is enough
                                       # here, the test forces a flush before each query
                                       "-search.latencyOffset=1s", "-search.disableCache"],
                                      stdout=subprocess.DEVNULL, stderr=open(tmp_path / "vm.log", "w")))
        _wait(lambda: targets.exists() and targets.stat().st_size > 0, 60, "the DR site's simulated agents")
        procs.append(subprocess.Popen(
            [os.sys.executable, "-m", "dcops.monitor", "monitor", "--inventory", str(paths.DR_INVENTORY), "--sim",
             str(targets), "--db", str(tmp_path / "dr.db"), "--interval", "1", "--trap-port", "0",
             "--metrics-port", str(dr_metrics)], stdout=subprocess.DEVNULL, stderr=open(tmp_path / "dr.log", "w")))
        vm = f"http://127.0.0.1:{vm_port}"
        _wait(lambda: _ok(f"{vm}/health"), 60, "VictoriaMetrics")
        invs = [load_inventory(), load_inventory(paths.DR_INVENTORY, dr_ok=True)]
        b = multi_site_bundle(invs, load_rules(), exporters={"kg-dc": [f"127.0.0.1:{exporter.server_port}"],
                                                             "kg-dr": [f"127.0.0.1:{dr_metrics}"]},
                              alertmanagers=[], scrape_interval="1s", evaluation_interval="1s",
                              remote_write=[f"{vm}/api/v1/write"])
        write(b, tmp_path / "stack")
        for site in ("kg-dc", "kg-dr"):  # the production room and the DR site, each its own Prometheus
            port = _free_port()
            procs.append(subprocess.Popen(
                [PROMETHEUS, f"--config.file={tmp_path / 'stack' / site / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / site / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{site}.log", "w")))

        def ups_series():
            httpx.get(f"{vm}/internal/force_flush", timeout=5)
            r = httpx.get(f"{vm}/api/v1/query", params={"query": "dcops_ups_output_source == 1"}, timeout=5).json()
            found = {tuple(s["metric"].get(k) for k in ("site", "device", "ups_output_source", "kind", "level"))
                     for s in r["data"]["result"]}
            return found if {f[0] for f in found} == {"kg-dc", "kg-dr"} else None

        assert _wait(ups_series, 90, "both sites' UPS series in VictoriaMetrics") == {
            ("kg-dc", "kg-ups-01", "battery", "ups", "3"), ("kg-dr", "kg-dr-ups-01", "normal", "ups", "3")}
    finally:
        _stop_all(procs)
        exporter.shutdown()


SNMPSET = shutil.which("snmpset")


def _snmpset(target: dict, oid: str, value: int) -> None:
    proc = subprocess.run([SNMPSET, "-v3", "-l", "authPriv", "-u", target["user"], "-a", "SHA-256", "-A",
                           target["auth_key"], "-x", "AES", "-X", target["priv_key"], "-n", target["context"], "-r", "2",
                           "-t", "2", f"{target['host']}:{target['port']}", oid, "i", str(value)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER and SNMPSET), reason="prometheus, alertmanager, snmpset needed")
def test_snmpsim_to_dcops_exporter_to_prometheus_to_alertmanager(tmp_path):
    """The whole chain, nothing stood in for: simulated agents → `dcops monitor` /metrics → Prometheus with the
    generated rules → Alertmanager → webhook, with net-snmp's snmpset as the operator. Mains failure: the UPS on
    battery (snmpset) while a cooling unit stops answering gives exactly one grouped notification, Vietnamese,
    the unreachable alert inhibited; a maintenance window set on the NOC page (`dcops dashboard --alertmanager`)
    is an Alertmanager silence that suppresses the UPS's next alert."""
    from dcops.monitor.launch import start_dashboard
    receiver = _serve(_Receiver(("127.0.0.1", 0), _ReceiverHandler))
    targets, metrics_port = tmp_path / "targets.json", _free_port()
    procs, web = [], None
    try:
        procs.append(subprocess.Popen([os.sys.executable, "-m", "dcops.monitor", "snmp", "sim", "--targets-out",
                                       str(targets)], stdout=subprocess.DEVNULL, stderr=open(tmp_path / "sim.log", "w")))
        _wait(lambda: targets.exists() and targets.stat().st_size > 0, 60, "the simulated agents")
        agents = json.loads(targets.read_text())
        ups = next(t for t in agents if t["device"] == "kg-ups-01")
        _snmpset(ups, "1.3.6.1.2.1.33.1.4.1.0", 5)  # upsOutputSource: battery(5)
        for t in agents:  # … and the cooling unit it no longer feeds stops answering (nothing listens there)
            if t["device"] == "kg-crac-01":
                t["port"] = _free_port()
        targets.write_text(json.dumps(agents))
        procs.append(subprocess.Popen(
            [os.sys.executable, "-m", "dcops.monitor", "monitor", "--sim", str(targets), "--db", str(tmp_path / "m.db"),
             "--interval", "1", "--trap-port", "0", "--metrics-port", str(metrics_port)],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "monitor.log", "w")))
        _wait(lambda: _ok(f"http://127.0.0.1:{metrics_port}/metrics"), 60, "the dcops exporter")
        # a hold on "unreachable" as in the shipped rules (60 s there, test-sized here): the UPS alert, which
        # has none, is at Alertmanager before the first unreachable one, as it would be after a mains failure
        prom_url, am_url = _start_engines(tmp_path, f"127.0.0.1:{metrics_port}", receiver.server_port, procs,
                                          unreachable_for="5s")

        def posts(name):
            return [p for p in receiver.posts if p["groupLabels"].get("alertname") == name]

        _wait(lambda: posts("DcopsUpsOnBattery"), 90, "the UPS-on-battery notification")
        unreachable = _wait(lambda: [a for a in httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
                                     if a["labels"]["alertname"] == "DcopsDeviceUnreachable"
                                     and a["labels"]["device"] == "kg-crac-01"], 30, "the cooling unit unreachable")
        time.sleep(3)  # another group interval: still one notification
        (post,) = posts("DcopsUpsOnBattery")
        (alert,) = post["alerts"]
        assert alert["labels"]["device"] == "kg-ups-01" and alert["labels"]["kind"] == "ups"
        assert alert["annotations"]["summary_vi"] == "UPS kg-ups-01 đang chạy bằng ắc quy"
        assert [bool(a["status"]["inhibitedBy"]) for a in unreachable] == [True]
        # every unreachable alert of the storm (on this loaded 1 s poll, slow network walks overrun their deadline
        # too) is inhibited: the NOC is paged about the UPS only
        storm = [a for a in httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
                 if a["labels"]["alertname"] == "DcopsDeviceUnreachable"]
        assert all(a["status"]["inhibitedBy"] for a in storm), storm
        assert posts("DcopsDeviceUnreachable") == [], [(a["labels"]["device"], a["startsAt"], a["status"]) for p in posts("DcopsDeviceUnreachable") for a in p["alerts"]] + [alert["startsAt"]]

        # the NOC page on Alertmanager: a maintenance window on the UPS is a silence there …
        pw = secrets.token_urlsafe(12)  # made here, never written down
        web = start_dashboard(tmp_path / "m.db", users={"admin": ("admin", pw)},
                              extra=["--alertmanager", am_url, "--site", "kg-dc"])
        page = httpx.Client(base_url=web.url, follow_redirects=True, timeout=10)
        csrf = page.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        page.post("/login", data={"username": "admin", "password": pw, "next": "/", "csrf": csrf})
        csrf = page.get("/silences").text.split('name="csrf" value="')[1].split('"')[0]
        r = page.post("/silences", data={"csrf": csrf, "target": "device:kg-ups-01", "starts": "",
                                         "ends": str(int(time.time() + 3600)), "reason": "thay ắc quy UPS"},
                      follow_redirects=False)
        assert r.status_code == 303, r.text
        (sil,) = [x for x in httpx.get(f"{am_url}/api/v2/silences", timeout=5).json() if x["status"]["state"] == "active"]
        # … which suppresses the UPS's next alert: its battery reported low (snmpset) reaches Alertmanager silenced
        _snmpset(ups, "1.3.6.1.2.1.33.1.2.1.0", 3)  # upsBatteryStatus: batteryLow(3)
        low = _wait(lambda: [a for a in httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
                             if a["labels"]["alertname"] == "DcopsUpsBatteryLow"], 60, "the battery-low alert")
        assert [a["status"]["silencedBy"] for a in low] == [[sil["id"]]]
        time.sleep(3)  # past its group wait: nothing sent
        assert posts("DcopsUpsBatteryLow") == []
    finally:
        if web:
            web.stop()
        _stop_all(procs)
        receiver.shutdown()


@pytest.mark.skipif(not AMTOOL, reason="Debian's prometheus-alertmanager (amtool) not installed")
def test_telegram_receiver_from_alerts_yaml_passes_amtool(tmp_path, monkeypatch):
    y = YAML(typ="safe")
    doc = y.load((MONITORS_DIR / "alerts.yaml").read_text(encoding="utf-8"))
    doc["notify"]["telegram"].update(enabled=True, chat_ids=["-1001234567890"])
    path = tmp_path / "alerts.yaml"
    with path.open("w", encoding="utf-8") as f:
        y.dump(doc, f)
    monkeypatch.setenv("DCOPS_TELEGRAM_TOKEN", "123456:test-token-from-env")
    b = bundle(load_inventory(), load_rules(path), exporters=["127.0.0.1:9118"], alertmanagers=[])
    assert b.warnings == [] and "alertmanager.yml" in b.secret_files
    write(b, tmp_path / "out")
    am = yaml.safe_load((tmp_path / "out" / "alertmanager.yml").read_text())
    (tg,) = next(r for r in am["receivers"] if r["name"] == "kg-dc-noc-critical")["telegram_configs"]
    assert tg["chat_id"] == -1001234567890 and tg["bot_token"] == "123456:test-token-from-env"
    proc = subprocess.run([AMTOOL, "check-config", "alertmanager.yml"], cwd=tmp_path / "out", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
