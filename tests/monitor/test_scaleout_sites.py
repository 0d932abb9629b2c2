"""Several sites from several inventory folders (the production room and the DR site): one Prometheus
configuration per site, one central Alertmanager configuration and a federating central Prometheus — checked
by promtool/amtool and run for real: two site Prometheus servers, one Alertmanager, one central view."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

import dcops
from dcops.monitor.launch import free_tcp_port

PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")
PROMETHEUS, ALERTMANAGER = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")


def _dr_inventory(tmp_path, code="kg-dr"):
    """The shipped inventory as the DR site's: only the site code differs (device names may repeat)."""
    inv = tmp_path / f"inventory-{code}"
    shutil.copytree(dcops.DEFAULT_INVENTORY, inv)
    site = inv / "site.yaml"
    text = site.read_text(encoding="utf-8")
    assert "  code: kg-dc\n" in text
    site.write_text(text.replace("  code: kg-dc\n", f"  code: {code}\n"), encoding="utf-8")
    return inv


def _generate(tmp_path, *extra):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "dcops.cli", "monitor", "prometheus", "--out", str(out), "--json",
                        "--inventory", str(dcops.DEFAULT_INVENTORY), "--inventory", str(_dr_inventory(tmp_path)),
                        *extra], capture_output=True, text=True, timeout=120)
    return p, out


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
                        str(_dr_inventory(tmp_path, "kg-dc"))], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "the same site 'kg-dc'" in p.stderr, p.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER), reason="prometheus / prometheus-alertmanager not installed")
def test_two_site_prometheus_one_alertmanager_and_a_federated_central_view(tmp_path):
    from dcops.monitor.stack import start_alertmanager, start_prometheus
    from tests.monitor.test_scaleout import _Exporter, _ExporterHandler, _exposition, _serve, _wait
    pages = {"kg-dc": _serve(_Exporter(("127.0.0.1", 0), _ExporterHandler)),
             "kg-dr": _serve(_Exporter(("127.0.0.1", 0), _ExporterHandler))}
    pages["kg-dc"].text = _exposition(on_battery=True, crac_up=True, line_down=False)  # mains failure at prod only
    pages["kg-dr"].text = _exposition(on_battery=False, crac_up=True, line_down=False)
    ports = {s: free_tcp_port() for s in ("kg-dc", "kg-dr", "am")}
    p, out = _generate(tmp_path, "--scrape-interval", "1s", "--evaluation-interval", "1s",
                       "--alertmanager", f"127.0.0.1:{ports['am']}",
                       *[x for s in ("kg-dc", "kg-dr") for x in ("--exporter", f"{s}=127.0.0.1:{pages[s].server_port}",
                                                                 "--federate", f"{s}=127.0.0.1:{ports[s]}")])
    assert p.returncode == 0, p.stderr
    central_cfg = yaml.safe_load((out / "central" / "prometheus.yml").read_text())
    central_cfg["global"]["scrape_interval"] = "1s"  # test-sized
    (out / "central" / "prometheus.yml").write_text(yaml.safe_dump(central_cfg))
    handles = []
    try:
        am = start_alertmanager(out / "central" / "alertmanager.yml", tmp_path / "am", port=ports["am"])
        handles.append(am)
        for s in ("kg-dc", "kg-dr"):
            handles.append(start_prometheus(out / s / "prometheus.yml", tmp_path / s, port=ports[s]))
        central = start_prometheus(out / "central" / "prometheus.yml", tmp_path / "central")
        handles.append(central)

        def query(expr):
            r = httpx.get(f"{central.url}/api/v1/query", params={"query": expr}, timeout=5).json()
            return r["data"]["result"]

        def both_sites():
            got = {r["metric"]["site"]: r["value"][1] for r in query("count by (site) (dcops_device_up)")}
            return got if set(got) == {"kg-dc", "kg-dr"} else None

        assert _wait(both_sites, 90, "both sites in the central view") == {"kg-dc": "2", "kg-dr": "2"}
        on_batt = query('dcops_ups_output_source{ups_output_source="battery"} == 1')
        assert {(r["metric"]["site"], r["metric"]["device"]) for r in on_batt} == {("kg-dc", "kg-ups-01")}
        firing = _wait(lambda: query('ALERTS{alertname="DcopsUpsOnBattery", alertstate="firing"}'), 60,
                       "the federated ALERTS series")
        assert {r["metric"]["site"] for r in firing} == {"kg-dc"}

        def at_am():
            got = [a for a in httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()
                   if a["labels"]["alertname"] == "DcopsUpsOnBattery"]
            return got or None

        (alert,) = _wait(at_am, 60, "the UPS alert at the central Alertmanager")
        assert alert["labels"]["site"] == "kg-dc" and alert["labels"]["device"] == "kg-ups-01"
    finally:
        for h in reversed(handles):
            h.stop()
        for srv in pages.values():
            srv.shutdown()
