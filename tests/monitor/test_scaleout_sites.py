"""Several sites from several inventory folders (the production room, inventory/, and the DR site, the shipped
inventory-dr/): one Prometheus configuration per site, one central Alertmanager configuration and a federating
central Prometheus — checked by promtool/amtool and run for real: the site Prometheus servers (production as an
HA pair), one Alertmanager that deduplicates the pair's alerts into one notification, one central view."""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

import dcops
from dcops import paths
from dcops.monitor.launch import free_tcp_port

PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")
PROMETHEUS, ALERTMANAGER = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")


def _prod_copy(tmp_path, code):
    """The shipped production inventory under another site code."""
    inv = tmp_path / f"inventory-{code}"
    shutil.copytree(dcops.DEFAULT_INVENTORY, inv)
    site = inv / "site.yaml"
    text = site.read_text(encoding="utf-8")
    assert "  code: kg-dc\n" in text
    site.write_text(text.replace("  code: kg-dc\n", f"  code: {code}\n"), encoding="utf-8")
    return inv


def _dr_copy(tmp_path, notify: str):
    """The shipped inventory-dr with a `notify:` block (YAML lines under `site:`) appended to its site.yaml."""
    inv = tmp_path / "inventory-dr"
    shutil.copytree(paths.DR_INVENTORY, inv)
    site = inv / "site.yaml"
    text = site.read_text(encoding="utf-8")
    assert text.endswith("  timezone: Asia/Ho_Chi_Minh\n")
    site.write_text(text + "  notify:\n" + "".join(f"    {line}\n" for line in notify.splitlines()),
                    encoding="utf-8")
    return inv


def _generate(tmp_path, *extra, dr=paths.DR_INVENTORY):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "dcops.cli", "monitor", "prometheus", "--out", str(out), "--json",
                        "--inventory", str(dcops.DEFAULT_INVENTORY), "--inventory", str(dr),
                        *extra], capture_output=True, text=True, timeout=120)
    return p, out


def _route(folder, *labels) -> str:
    """The receiver Debian's amtool routes an alert with these labels to."""
    r = subprocess.run([AMTOOL, "config", "routes", "test", "--config.file=alertmanager.yml", *labels],
                       cwd=folder, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip()


@pytest.mark.skipif(not (PROMTOOL and AMTOOL), reason="Debian's prometheus / prometheus-alertmanager not installed")
def test_two_inventories_give_a_folder_per_site_and_a_central_one_that_the_engines_accept(tmp_path):
    p, out = _generate(tmp_path, "--exporter", "kg-dr=10.99.0.5:9118", "--alertmanager", "10.1.0.9:9093",
                       "--remote-write", "http://10.1.0.10:8428/api/v1/write",
                       "--federate", "kg-dc=10.1.0.21:9090", "--federate", "kg-dr=10.99.0.21:9090")
    assert p.returncode == 0, p.stderr
    files = sorted(str(Path(f).relative_to(out)) for f in json.loads(p.stdout)["files"])
    assert files == ["central/alertmanager.yml", "central/prometheus.yml", "kg-dc/prometheus.yml",
                     "kg-dc/rules/dcops-alerts.yml", "kg-dr/prometheus.yml", "kg-dr/rules/dcops-alerts.yml"]
    for cmd, cwd in (([PROMTOOL, "check", "config", "prometheus.yml"], out / "kg-dc"),
                     ([PROMTOOL, "check", "config", "prometheus.yml"], out / "kg-dr"),
                     ([PROMTOOL, "check", "config", "prometheus.yml"], out / "central"),
                     ([AMTOOL, "check-config", "alertmanager.yml"], out / "central")):
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    for site, exporter in (("kg-dc", "127.0.0.1:9118"), ("kg-dr", "10.99.0.5:9118")):
        cfg = yaml.safe_load((out / site / "prometheus.yml").read_text())
        assert cfg["global"]["external_labels"] == {"site": site}
        assert cfg["scrape_configs"][0]["static_configs"] == [{"targets": [exporter], "labels": {"site": site}}]
        assert cfg["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["10.1.0.9:9093"]}]}]
        assert cfg["remote_write"] == [{"url": "http://10.1.0.10:8428/api/v1/write"}]
    central = yaml.safe_load((out / "central" / "prometheus.yml").read_text())
    assert {j["job_name"]: (j["static_configs"], j["metrics_path"]) for j in central["scrape_configs"]} == {
        "federate-kg-dc": ([{"targets": ["10.1.0.21:9090"], "labels": {"site": "kg-dc"}}], "/federate"),
        "federate-kg-dr": ([{"targets": ["10.99.0.21:9090"], "labels": {"site": "kg-dr"}}], "/federate")}
    assert "rule_files" not in central and "alerting" not in central  # the sites page; the centre only looks
    # the DR site's devices are the shipped inventory-dr's, at the level of the systems that must run at DR
    dr = yaml.safe_load((out / "kg-dr" / "prometheus.yml").read_text())["scrape_configs"][0]["metric_relabel_configs"]
    assert {(r["regex"], r["target_label"], r["replacement"]) for r in dr} == {
        (d, k, v) for d, kind in (("kg-dr-ups-01", "ups"), ("kg-dr-env-01", "sensor"))
        for k, v in (("kind", kind), ("system", "shared"), ("level", "3"))}
    assert yaml.safe_load((out / "kg-dr" / "rules" / "dcops-alerts.yml").read_text()) == \
        yaml.safe_load((out / "kg-dc" / "rules" / "dcops-alerts.yml").read_text())
    # the central Alertmanager routes by site first, then by severity and level; a series without a known site
    # takes the catch-all
    am = yaml.safe_load((out / "central" / "alertmanager.yml").read_text())
    assert [r["name"] for r in am["receivers"]] == [f"{p}noc{s}" for p in ("", "kg-dc-", "kg-dr-")
                                                    for s in ("", "-critical", "-critical-high-level")]
    central = out / "central"
    assert _route(central, "alertname=DcopsUpsOnBattery", "site=kg-dr", "severity=critical", "level=3",
                  "device=kg-dr-ups-01") == "kg-dr-noc-critical-high-level"
    assert _route(central, "alertname=DcopsUpsOnBattery", "site=kg-dr", "severity=critical",
                  "level=2") == "kg-dr-noc-critical"
    assert _route(central, "alertname=DcopsUpsLoadHigh", "site=kg-dr", "severity=warning", "level=3") == "kg-dr-noc"
    assert _route(central, "alertname=DcopsUpsLoadHigh", "site=kg-dc", "severity=warning", "level=3") == "kg-dc-noc"
    assert _route(central, "alertname=DcopsUpsOnBattery", "site=kg-dc", "severity=critical",
                  "level=3") == "kg-dc-noc-critical-high-level"
    assert _route(central, "alertname=DcopsUpsOnBattery", "site=kg-xx", "severity=critical",
                  "level=3") == "noc-critical-high-level"
    assert _route(central, "alertname=DcopsUpsLoadHigh", "severity=warning") == "noc"


DR_NOTIFY = """email_to: [noc-dr@example.vn, truc-dr@example.vn]
telegram_chat_ids: [-1009876543210]
webhook_url: http://10.99.0.30:9095/alerts"""


def test_a_site_notify_block_replaces_exactly_its_recipients(tmp_path, monkeypatch):
    """kg-dr's site.yaml names its own recipients: its three receivers are alerts.yaml's with the e-mail
    addresses, the chat ids and the webhook URL replaced — SMTP relay, sender, login, bot token, API base and
    message unchanged; kg-dc (no block) and the catch-all keep alerts.yaml's recipients."""
    from dcops.model import load_inventory
    from dcops.monitor.alerts import load_rules
    from dcops.monitor.scaleout import multi_site_bundle
    from tests.monitor.test_scaleout import _rules_file
    rules_path = _rules_file(tmp_path, webhook_url="http://10.1.0.30:9095/alerts",
                             email={"username": "noc", "password_ref": "env:DCOPS_TEST_SMTP_PASSWORD",
                                    "to": ["noc@kiengiang.gov.vn"]}, telegram={"chat_ids": ["-1001234567890"]})
    monkeypatch.setenv("DCOPS_TEST_SMTP_PASSWORD", "smtp-pass-from-env")
    monkeypatch.setenv("DCOPS_TELEGRAM_TOKEN", "123456:token-from-env")
    prod = load_inventory()
    invs = [prod, load_inventory(_dr_copy(tmp_path, DR_NOTIFY), dr_ok=True)]
    b = multi_site_bundle(invs, load_rules(rules_path), exporters={"kg-dc": ["127.0.0.1:9118"],
                          "kg-dr": ["127.0.0.1:9119"]}, alertmanagers=[], remote_write=["http://127.0.0.1:8428/w"])
    assert b.warnings == [] and b.secret_files == {"central/alertmanager.yml"}
    receivers = {r.pop("name"): r for r in yaml.safe_load(b.files["central/alertmanager.yml"])["receivers"]}
    default = receivers["noc"]
    assert default["email_configs"][0]["to"] == "noc@kiengiang.gov.vn"
    assert [t["chat_id"] for t in default["telegram_configs"]] == [-1001234567890]
    assert default["webhook_configs"] == [{"url": "http://10.1.0.30:9095/alerts", "send_resolved": True}]
    (tg,) = default["telegram_configs"]
    dr = {**default, "email_configs": [{**default["email_configs"][0], "to": "noc-dr@example.vn, truc-dr@example.vn"}],
          "telegram_configs": [{**tg, "chat_id": -1009876543210}],
          "webhook_configs": [{"url": "http://10.99.0.30:9095/alerts", "send_resolved": True}]}
    assert receivers == {**{n: default for n in ("noc", "noc-critical", "noc-critical-high-level", "kg-dc-noc",
                                                 "kg-dc-noc-critical", "kg-dc-noc-critical-high-level")},
                         **{n: dr for n in ("kg-dr-noc", "kg-dr-noc-critical", "kg-dr-noc-critical-high-level")}}
    # an empty list turns that channel off at the site only; nothing left at all is said, not silently routed nowhere
    off = [prod, load_inventory(_dr_copy(tmp_path / "off", "email_to: []\ntelegram_chat_ids: []"),
                                            dr_ok=True)]
    b = multi_site_bundle(off, load_rules(rules_path), exporters={"kg-dc": [], "kg-dr": []}, alertmanagers=[],
                          remote_write=["http://127.0.0.1:8428/w"])
    receivers = {r.pop("name"): r for r in yaml.safe_load(b.files["central/alertmanager.yml"])["receivers"]}
    assert receivers["kg-dr-noc"] == {"webhook_configs": default["webhook_configs"]} and receivers["noc"] == default
    assert b.warnings == []


def test_a_bad_site_notify_block_is_an_error_at_its_line(tmp_path):
    from dcops.model import InventoryInvalid, load_inventory
    inv = _dr_copy(tmp_path, "email_to: [noc-dr@example.vn, trực ban]\ntelegram_chat_ids: [-100123, '@noc_dr']\n"
                             "webhook_url: https://noc:s3cret@10.99.0.30/alerts\npassword: x")
    with pytest.raises(InventoryInvalid) as e:
        load_inventory(inv, dr_ok=True)
    lines = (inv / "site.yaml").read_text(encoding="utf-8").splitlines()
    at = {k: lines.index(next(x for x in lines if x.startswith(f"    {k}:"))) + 1
          for k in ("email_to", "telegram_chat_ids", "webhook_url", "password")}
    assert [(p.loc.file, p.loc.line, p.message) for p in e.value.problems] == [
        (str(inv / "site.yaml"), at["email_to"], "notify.email_to: not an e-mail address: trực ban"),
        (str(inv / "site.yaml"), at["telegram_chat_ids"],
         "notify.telegram_chat_ids: a Telegram chat id is an integer (a group's is negative): @noc_dr"),
        (str(inv / "site.yaml"), at["webhook_url"], "notify.webhook_url: must not carry credentials "
         "(user:password@): a secret is never written in the inventory"),
        (str(inv / "site.yaml"), at["password"], "unknown key 'password'")]


def test_the_dr_inventory_alone_is_refused_it_borrows_its_systems_from_production(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "dcops.cli", "monitor", "prometheus", "--out", str(out),
                        "--inventory", str(paths.DR_INVENTORY)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "site kg-dr is the DR site of kg-dc" in p.stderr, p.stderr
    assert not out.exists()


@pytest.mark.parametrize("extra,message", [
    (["--exporter", "kg-xx=10.0.0.1:9118"], "no site 'kg-xx'"),
    (["--federate", "10.0.0.1:9090"], "--federate wants SITE=HOST:PORT"),
    (["--federate", "kg-dc=10.0.0.1:9090"], "missing: kg-dr"),
    (["--site", "kg-dc"], "each inventory's site.code is used"),
])
def test_bad_site_addresses_are_refused_and_nothing_is_written(tmp_path, extra, message):
    p, out = _generate(tmp_path, *extra)
    assert p.returncode == 2 and message in p.stderr, p.stderr
    assert not out.exists()


def test_two_inventories_of_the_same_site_are_refused(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "dcops.cli", "monitor", "prometheus", "--out", str(out),
                        "--inventory", str(dcops.DEFAULT_INVENTORY), "--inventory",
                        str(_prod_copy(tmp_path, "kg-dc"))], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "the same site 'kg-dc'" in p.stderr, p.stderr
    assert not out.exists()


def _dr_exposition(on_battery: bool) -> str:
    """The DR site's exporter page: the shipped inventory-dr's SNMP devices."""
    src = "\n".join(f'dcops_ups_output_source{{device="kg-dr-ups-01",ups_output_source="{w}"}} '
                    f'{int((w == "battery") == on_battery)}' for w in ("normal", "battery"))
    return ("# TYPE dcops_ups_output_source gauge\n" + src + "\n# TYPE dcops_device_up gauge\n"
            'dcops_device_up{device="kg-dr-ups-01",profile="ups-rfc1628",kind="ups"} 1\n'
            'dcops_device_up{device="kg-dr-env-01",profile="apc-netbotz",kind="sensor"} 1\n')


def _sent(prom_url: str) -> float:
    """What a Prometheus says it sent to Alertmanager (its own /metrics)."""
    text = httpx.get(f"{prom_url}/metrics", timeout=5).text
    return sum(float(x.rsplit(" ", 1)[1]) for x in text.splitlines()
               if x.startswith("prometheus_notifications_sent_total{"))


@pytest.mark.slow
@pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER), reason="prometheus / prometheus-alertmanager not installed")
def test_two_sites_an_ha_pair_one_alertmanager_that_deduplicates_and_a_federated_central_view(tmp_path):
    """Production (an HA pair: two Prometheus servers with the same generated configuration) and the shipped DR
    site (its site.yaml naming its own webhook), one central Alertmanager, one federating central Prometheus.
    Mains fail at both sites. Both production servers send the production UPS alert; the central Alertmanager
    holds it once and production's webhook receives exactly one notification — and the DR site's alert goes
    to the DR site's webhook only."""
    from dcops.monitor.stack import start_alertmanager, start_prometheus
    from tests.monitor.test_scaleout import (_Exporter, _ExporterHandler, _exposition, _Receiver, _ReceiverHandler,
                                             _rules_file, _serve, _test_timers, _wait)
    pages = {"kg-dc": _serve(_Exporter(("127.0.0.1", 0), _ExporterHandler)),
             "kg-dr": _serve(_Exporter(("127.0.0.1", 0), _ExporterHandler))}
    pages["kg-dc"].text = _exposition(on_battery=True, crac_up=True, line_down=False)
    pages["kg-dr"].text = _dr_exposition(on_battery=True)
    receiver = _serve(_Receiver(("127.0.0.1", 0), _ReceiverHandler))  # alerts.yaml's webhook (production's)
    dr_receiver = _serve(_Receiver(("127.0.0.1", 0), _ReceiverHandler))  # inventory-dr's site.notify webhook
    ports = {s: free_tcp_port() for s in ("kg-dc", "kg-dr", "am")}
    rules = _rules_file(tmp_path, webhook_url=f"http://127.0.0.1:{receiver.server_port}/alerts")
    dr = _dr_copy(tmp_path, f"webhook_url: http://127.0.0.1:{dr_receiver.server_port}/alerts")
    p, out = _generate(tmp_path, "--scrape-interval", "1s", "--evaluation-interval", "1s", "--rules", str(rules),
                       "--alertmanager", f"127.0.0.1:{ports['am']}",
                       *[x for s in ("kg-dc", "kg-dr") for x in ("--exporter", f"{s}=127.0.0.1:{pages[s].server_port}",
                                                                 "--federate", f"{s}=127.0.0.1:{ports[s]}")], dr=dr)
    assert p.returncode == 0, p.stderr
    central_cfg = yaml.safe_load((out / "central" / "prometheus.yml").read_text())
    central_cfg["global"]["scrape_interval"] = "1s"  # test-sized
    (out / "central" / "prometheus.yml").write_text(yaml.safe_dump(central_cfg))
    am_cfg = yaml.safe_load((out / "central" / "alertmanager.yml").read_text())
    _test_timers(am_cfg["route"])  # test-sized timers, same routes
    (out / "central" / "alertmanager.yml").write_text(yaml.safe_dump(am_cfg))
    handles = []
    try:
        am = start_alertmanager(out / "central" / "alertmanager.yml", tmp_path / "am", port=ports["am"])
        handles.append(am)
        for s in ("kg-dc", "kg-dr"):
            handles.append(start_prometheus(out / s / "prometheus.yml", tmp_path / s, port=ports[s]))
        replica = start_prometheus(out / "kg-dc" / "prometheus.yml", tmp_path / "kg-dc-b")  # the HA pair's second
        handles.append(replica)
        central = start_prometheus(out / "central" / "prometheus.yml", tmp_path / "central")
        handles.append(central)

        def query(expr):
            r = httpx.get(f"{central.url}/api/v1/query", params={"query": expr}, timeout=5).json()
            return r["data"]["result"]

        def both_sites():
            got = {r["metric"]["site"]: r["value"][1] for r in query("count by (site) (dcops_device_up)")}
            return got if set(got) == {"kg-dc", "kg-dr"} else None

        assert _wait(both_sites, 90, "both sites in the central view") == {"kg-dc": "2", "kg-dr": "2"}
        ups = query("dcops_ups_output_source == 1")
        assert {(r["metric"]["site"], r["metric"]["device"], r["metric"]["ups_output_source"], r["metric"]["level"])
                for r in ups} == {("kg-dc", "kg-ups-01", "battery", "3"), ("kg-dr", "kg-dr-ups-01", "battery", "3")}
        firing = _wait(lambda: (lambda f: f if len(f) == 2 else None)(
            query('ALERTS{alertname="DcopsUpsOnBattery", alertstate="firing"}')), 60, "the federated ALERTS series")
        assert sorted(r["metric"]["site"] for r in firing) == ["kg-dc", "kg-dr"]
        # both production servers have sent the alert to the central Alertmanager …
        primary_url = f"http://127.0.0.1:{ports['kg-dc']}"
        _wait(lambda: _sent(primary_url) > 0 and _sent(replica.url) > 0, 60, "both servers of the pair sending")
        battery = {"prod": lambda: [p for p in receiver.posts if p["groupLabels"].get("alertname") ==
                                    "DcopsUpsOnBattery"],
                   "dr": lambda: [p for p in dr_receiver.posts if p["groupLabels"].get("alertname") ==
                                  "DcopsUpsOnBattery"]}
        _wait(lambda: battery["prod"]() and battery["dr"](), 60, "the UPS notifications of both sites")
        time.sleep(3)  # another group interval
        # … which holds it once and notifies once
        alerts = [a for a in httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()
                  if a["labels"]["alertname"] == "DcopsUpsOnBattery"]
        assert sorted((a["labels"]["site"], a["labels"]["device"]) for a in alerts) == [
            ("kg-dc", "kg-ups-01"), ("kg-dr", "kg-dr-ups-01")]
        # each site's alert reaches its own recipients only: production's webhook (alerts.yaml) gets kg-dc's,
        # the DR site's (its site.yaml notify:) gets kg-dr's, each through its site's level-3 critical receiver
        for who, site, device, name in (("prod", "kg-dc", "kg-ups-01", "kg-dc-noc-critical-high-level"),
                                        ("dr", "kg-dr", "kg-dr-ups-01", "kg-dr-noc-critical-high-level")):
            posts = battery[who]()
            assert [p["receiver"] for p in posts] == [name], posts
            (alert,) = posts[0]["alerts"]
            assert alert["labels"]["site"] == site and alert["annotations"]["summary_vi"] == \
                f"UPS {device} đang chạy bằng ắc quy"
        received = sum(float(x.rsplit(" ", 1)[1]) for x in httpx.get(f"{am.url}/metrics", timeout=5).text.splitlines()
                       if x.startswith("alertmanager_alerts_received_total{") and 'status="firing"' in x)
        assert received >= 2  # two copies came in (one per server of the pair): one alert, one notification
    finally:
        for h in reversed(handles):
            h.stop()
        for srv in (*pages.values(), receiver, dr_receiver):
            srv.shutdown()
