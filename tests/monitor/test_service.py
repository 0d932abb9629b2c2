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
                   "1.3.6.1.4.1.476.1.42.3.2.0.1")
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
