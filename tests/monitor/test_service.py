"""The monitor service: traps (net-snmp snmptrap, a real sender) feed alerts; /metrics parses."""
import asyncio
import shutil
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dcops.monitor.alerts import active_alerts
from dcops.monitor.launch import free_tcp_port
from dcops.monitor.service import MonitorConfig, MonitorService
from dcops.monitor.sim import SIM_AUTH_KEY, SIM_PRIV_KEY, SIM_TRAP_ENGINE_ID, SIM_USER, free_port
from dcops.monitor.targets import Target, credentials_of
from dcops.monitor.traps import TrapUser


def _svc(sim, tmp_path):
    targets = [Target(t.device, t.host, t.port, t.profile, credentials_of(t), kind="ups" if "ups" in t.device else "")
               for t in sim.targets]
    return MonitorService(MonitorConfig(
        targets=targets, db=tmp_path / "m.db", interval=60, trap_port=free_port(), metrics_port=free_tcp_port(),
        trap_communities=("lb-1", "ups-rack"),
        trap_users=(TrapUser(SIM_USER, SIM_AUTH_KEY, SIM_PRIV_KEY, engine_ids=(SIM_TRAP_ENGINE_ID,)),)))


@pytest.mark.skipif(not shutil.which("snmptrap"), reason="net-snmp snmptrap not installed")
def test_traps_v2c_and_v3_raise_and_clear_alerts(sim, tmp_path):
    svc = _svc(sim, tmp_path)
    port = svc.cfg.trap_port

    async def trap(*args):
        p = await asyncio.create_subprocess_exec("snmptrap", *args)
        assert await p.wait() == 0

    async def run():
        task = asyncio.create_task(svc.run())
        await asyncio.sleep(1.5)
        # APC UPS on battery, v2c (community names the simulated device)
        await trap("-v2c", "-c", "ups-rack", f"127.0.0.1:{port}", "", "1.3.6.1.4.1.318.0.5")
        # Liebert cooling alarm, v3 authPriv trap (engine id known to the receiver)
        await trap("-v3", "-e", SIM_TRAP_ENGINE_ID, "-u", SIM_USER, "-a", "SHA-256", "-A", SIM_AUTH_KEY, "-x", "AES",
                   "-X", SIM_PRIV_KEY, "-l", "authPriv", "-n", "crac-1", f"127.0.0.1:{port}", "",
                   "1.3.6.1.4.1.476.1.42.3.3.0.1")
        for _ in range(40):
            if len(active_alerts(svc.store)) >= 2:
                break
            await asyncio.sleep(0.1)
        firing = {(a["rule"], a["device"]) for a in active_alerts(svc.store)}
        url = f"http://127.0.0.1:{svc.cfg.metrics_port}/metrics"
        body = (await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())).decode()
        # power restored: the clearing trap resolves the trap-raised alert
        await trap("-v2c", "-c", "ups-rack", f"127.0.0.1:{port}", "", "1.3.6.1.4.1.318.0.9")
        await asyncio.sleep(0.5)
        after = {(a["rule"], a["device"]) for a in active_alerts(svc.store)}
        svc.stop_event.set()
        await task
        return firing, after, body

    firing, after, body = asyncio.run(run())
    assert ("ups_on_battery", "ups-rack") in firing
    assert ("cooling_alarm", "crac-1") in firing
    assert ("ups_on_battery", "ups-rack") not in after
    fams = {f.name: f for f in text_string_to_metric_families(body)}
    assert "dcops_device_up" in fams and "dcops_alert_firing" in fams
    ups = [s for s in fams["dcops_ups_battery_charge_ratio"].samples if s.labels["device"] == "ups-80kva"]
    assert ups and 0 <= ups[0].value <= 1
    src = {s.labels["ups_output_source"]: s.value for s in fams["dcops_ups_output_source"].samples
           if s.labels["device"] == "ups-80kva"}
    assert sum(src.values()) == 1  # state set: exactly one current state


def test_monitor_restart_mid_incident_sends_no_duplicate_and_still_recovers(sim, tmp_path):
    """Two MonitorService lifetimes over one database, a real simulated UPS and a real webhook receiver."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from dcops.monitor.alerts import load_rules
    from dcops.monitor.sim import UPS_OUTPUT_SOURCE

    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    rules_file = tmp_path / "alerts.yaml"
    rules_file.write_text(
        "rules:\n"
        "  - {name: ups_on_battery, metric: ups_output_source, state_in: [battery], clear_for: 0s,"
        " severity: critical, summary_en: 'UPS {device} is on battery'}\n"
        "notify:\n"
        f"  webhook: {{enabled: true, url: 'http://127.0.0.1:{srv.server_address[1]}/hook'}}\n")
    rules = load_rules(rules_file)
    t = sim.target("ups-80kva")
    targets = [Target(t.device, t.host, t.port, t.profile, credentials_of(t))]

    def lifetime(cycles):
        svc = MonitorService(MonitorConfig(targets=targets, db=tmp_path / "m.db", trap_port=None,
                                           metrics_port=None, rules=rules))

        async def run():
            for _ in range(cycles):
                await svc.on_cycle(await svc.poller.poll_all())
        asyncio.run(run())
        svc.store.close()

    try:
        sim.set("ups-80kva", UPS_OUTPUT_SOURCE, 5)
        lifetime(2)
        assert [(m["status"], m["rule"]) for m in got] == [("firing", "ups_on_battery")]
        lifetime(2)  # restarted monitor, incident still on: nothing new
        assert len(got) == 1
        sim.set("ups-80kva", UPS_OUTPUT_SOURCE, 3)
        lifetime(1)
        assert [m["status"] for m in got] == ["firing", "resolved"]
        assert got[0]["alert_id"] == got[1]["alert_id"]
    finally:
        sim.set("ups-80kva", UPS_OUTPUT_SOURCE, 3)
        srv.shutdown()
        srv.server_close()
