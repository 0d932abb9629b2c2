"""`system`, `level` (Decree 85) and `site` on every series and alert of the scale-out stack, checked by the
engines: promtool accepts the relabelling, amtool's routing tree sends a level-3 critical alert to the site's
stricter route, and a real Prometheus scraping an exporter page stores every series with the three labels and hands
Alertmanager alerts that carry them."""
import json
import shutil
import subprocess
import sys

import httpx
import pytest
import yaml

import dcops
from dcops.model import load_inventory
from dcops.monitor.alerts import load_rules
from dcops.monitor.scaleout import SHARED_SYSTEM, bundle, device_labels, write

PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")


def _inventory_with(tmp_path, device: str, system: str):
    """The shipped inventory with `system:` set on one network device."""
    inv = tmp_path / "inventory"
    shutil.copytree(dcops.DEFAULT_INVENTORY, inv)
    net = inv / "network.yaml"
    text = net.read_text(encoding="utf-8")
    anchor = f"  - name: {device}\n"
    assert anchor in text
    net.write_text(text.replace(anchor, anchor + f"    system: {system}\n"), encoding="utf-8")
    return inv


def test_every_monitored_device_has_system_and_level_from_the_inventory(tmp_path):
    inv = load_inventory(_inventory_with(tmp_path, "kg-waf-01", "gis"))
    labels = device_labels(inv)
    monitored = {d.name for d in (*inv.facility, *inv.network_devices) if d.snmp is not None}
    assert set(labels) == monitored
    top = str(max(s.security_level for s in inv.systems))
    assert labels["kg-waf-01"] == {"kind": "waf", "system": "gis", "level": str(inv.system("gis").security_level)}
    assert labels["kg-ups-01"] == {"kind": "ups", "system": SHARED_SYSTEM, "level": top}
    assert {n: lab["system"] for n, lab in labels.items() if n != "kg-waf-01"} == dict.fromkeys(monitored - {"kg-waf-01"},
                                                                                                SHARED_SYSTEM)


def test_an_unknown_system_on_a_device_is_a_validation_error_at_its_line(tmp_path):
    inv = _inventory_with(tmp_path, "kg-waf-01", "no-such-system")
    p = subprocess.run([sys.executable, "-m", "dcops.cli", "validate", "--inventory", str(inv), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    line = (inv / "network.yaml").read_text(encoding="utf-8").splitlines().index("    system: no-such-system") + 1
    (e,) = json.loads(p.stdout)["errors"]
    assert (e["file"], e["line"], e["message"]) == (str(inv / "network.yaml"), line,
                                                   "unknown information system 'no-such-system'")


@pytest.mark.skipif(not (PROMTOOL and AMTOOL), reason="Debian's prometheus / prometheus-alertmanager not installed")
def test_relabelling_passes_promtool_and_routing_by_level_passes_amtool(tmp_path):
    inv = load_inventory(_inventory_with(tmp_path, "kg-waf-01", "gis"))
    b = bundle(inv, load_rules(), exporters=["127.0.0.1:9118"], alertmanagers=["127.0.0.1:9093"])
    write(b, tmp_path / "out")
    p = subprocess.run([PROMTOOL, "check", "config", "prometheus.yml"], cwd=tmp_path / "out", capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    prom = yaml.safe_load((tmp_path / "out" / "prometheus.yml").read_text())
    relabel = prom["scrape_configs"][0]["metric_relabel_configs"]
    got = {(r["regex"], r["target_label"]): r["replacement"] for r in relabel}
    want = {(dev, key): value for dev, lab in device_labels(inv).items() for key, value in lab.items()}
    assert got == want and len(relabel) == len(want)
    assert prom["global"]["external_labels"] == {"site": "kg-dc"}

    def route(*labels):
        r = subprocess.run([AMTOOL, "config", "routes", "test", "--config.file=alertmanager.yml", *labels],
                           cwd=tmp_path / "out", capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()

    assert route("alertname=DcopsUpsOnBattery", "severity=critical", "site=kg-dc", "system=shared",
                 "level=3") == "kg-dc-noc-critical-high-level"
    assert route("alertname=DcopsLeasedLineDown", "severity=critical", "site=kg-dc", "system=gis",
                 "level=2") == "kg-dc-noc-critical"
    assert route("alertname=DcopsUpsLoadHigh", "severity=warning", "site=kg-dc", "level=3") == "kg-dc-noc"
    # a series without the site's label (another site's, or none): the catch-all, same severity/level split
    assert route("alertname=DcopsUpsOnBattery", "severity=critical", "site=elsewhere",
                 "level=3") == "noc-critical-high-level"
    assert route("alertname=DcopsUpsLoadHigh", "severity=warning", "level=3") == "noc"


PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager")


@pytest.mark.slow
@pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER), reason="prometheus / prometheus-alertmanager not installed")
def test_prometheus_stores_every_series_with_site_system_level_and_alerts_carry_them(tmp_path):
    from tests.monitor.test_scaleout import _ExporterHandler, _Exporter, _exposition, _serve, _wait
    from dcops.monitor.stack import start_alertmanager, start_prometheus
    exporter = _serve(_Exporter(("127.0.0.1", 0), _ExporterHandler))
    exporter.text = _exposition(on_battery=True, crac_up=True, line_down=False)
    inv = load_inventory(_inventory_with(tmp_path, "kg-lb-01", "gis"))
    handles = []
    try:
        b = bundle(inv, load_rules(), exporters=[f"127.0.0.1:{exporter.server_port}"], alertmanagers=[],
                   scrape_interval="1s", evaluation_interval="1s")
        write(b, tmp_path / "out")
        am = start_alertmanager(tmp_path / "out" / "alertmanager.yml", tmp_path / "am")
        handles.append(am)
        prom_cfg = yaml.safe_load((tmp_path / "out" / "prometheus.yml").read_text())
        prom_cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [am.url.split("//")[1]]}]}]}
        (tmp_path / "out" / "prometheus.yml").write_text(yaml.safe_dump(prom_cfg))
        prom = start_prometheus(tmp_path / "out" / "prometheus.yml", tmp_path / "prom")
        handles.append(prom)

        exposed = sum(1 for line in exporter.text.splitlines() if line.startswith("dcops_"))

        def series():
            r = httpx.get(f"{prom.url}/api/v1/series", params={"match[]": '{__name__=~"dcops_.+"}'}, timeout=5).json()
            return r["data"] if len(r["data"]) == exposed else None  # every series the exposition has

        found = _wait(series, 60, "the scraped series")
        labels = {s["device"]: (s.get("site"), s.get("system"), s.get("level")) for s in found}
        assert labels == {"kg-ups-01": ("kg-dc", "shared", "3"), "kg-crac-01": ("kg-dc", "shared", "3"),
                          "kg-lb-01": ("kg-dc", "gis", "2")}
        assert all({"site", "system", "level"} <= set(s) for s in found)

        def battery():
            for a in httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json():
                if a["labels"]["alertname"] == "DcopsUpsOnBattery":
                    return a
            return None

        alert = _wait(battery, 60, "the UPS alert at Alertmanager")
        assert {k: alert["labels"][k] for k in ("site", "system", "level", "device", "kind", "severity")} == {
            "site": "kg-dc", "system": "shared", "level": "3", "device": "kg-ups-01", "kind": "ups",
            "severity": "critical"}
        assert [r["name"] for r in alert["receivers"]] == ["kg-dc-noc-critical-high-level"]
    finally:
        for h in reversed(handles):
            h.stop()
        exporter.shutdown()
