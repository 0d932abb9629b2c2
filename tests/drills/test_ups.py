"""UPS power-loss drill: the plan from the inventory, the runtime over SNMP, and a real shutdown/power-on."""
import os
import socket
import subprocess
import time

import pytest

from dcops.drills import ups
from dcops.drills.core import run_drill
from dcops.drills.registry import get


def test_plan_orders_by_criticality_and_keeps_ha_members(inv):
    p = ups.plan(inv, "kg-ups-01", 20, "test")
    pos = {m: i for i, w in enumerate(p.shutdown) for m in w.members}
    level = {vm.name: inv.vm_security_level(vm) for vm in inv.vms}
    assert set(pos) == set(level) | {h.name for h in inv.hosts}  # every VM and host, once
    assert not any(d.name in pos for d in inv.network_devices)
    # level-1 VMs first; hosts after every VM; control plane last
    assert p.shutdown[0].name == "vm-level-1" and p.shutdown[-1].name == "hosts-control"
    assert min(pos[h.name] for h in inv.hosts) > max(pos[v] for v in level)
    # every HA group of level >= 3 keeps exactly one member until the last VM wave
    last_vm_wave = max(pos[v] for v in level)
    groups = {}
    for vm in inv.vms:
        if vm.ha_group:
            groups.setdefault(vm.ha_group, []).append(vm.name)
    for g, members in groups.items():
        if len(members) > 1 and max(level[m] for m in members) >= 3:
            assert sorted(pos[m] for m in members)[-1] == last_vm_wave, g
            assert sum(pos[m] == last_vm_wave for m in members) == 1, g
    assert all(ok for ok in ups._plan_properties(inv, p).values())
    assert p.fits and p.end_s <= p.budget_s == 20 * 60 * 0.8
    # a shorter battery makes the same plan not fit
    short = ups.plan(inv, "kg-ups-01", 10, "test")
    assert not short.fits and not short.shutdown[-1].within_budget


def test_plan_only_without_execute_touches_nothing(inv, report_dir):
    r, paths = run_drill(get("ups-power-loss"), inv, execute=False, report_dir=report_dir)
    assert r.mode == "plan" and r.playbooks == [] and r.verdict == "pass"
    assert "wave 1 vm-level-1" in r.details["plan_text"]
    assert paths["md"].exists()


@pytest.fixture
def ups_agent(tmp_path):
    """snmpsim answering the RFC 1628 UPS-MIB: on battery, 7 minutes left."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "ups-on-battery.snmprec").write_text(
        "1.3.6.1.2.1.33.1.2.2.0|2|95\n1.3.6.1.2.1.33.1.2.3.0|2|7\n1.3.6.1.2.1.33.1.4.1.0|2|5\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["snmpsim-command-responder", f"--data-dir={data}", f"--cache-dir={tmp_path / 'cache'}",
                             f"--agent-udpv4-endpoint=127.0.0.1:{port}"],
                            env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ups.read_ups(f"127.0.0.1:{port}", "ups-on-battery")
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_runtime_from_snmp_drives_the_budget(inv, report_dir, ups_agent):
    r, _ = run_drill(get("ups-power-loss"), inv, execute=False, report_dir=report_dir,
                     options={"ups_agent": ups_agent, "ups_community": "ups-on-battery"})
    assert r.details["ups_snmp"] == {"seconds_on_battery": 95, "runtime_min": 7, "output_source": 5}
    plan = r.details["plan"]
    assert plan["runtime_min"] == 7 and "SNMP" in plan["runtime_source"] and not plan["fits"]
    assert r.verdict == "fail" and "does not fit" in " ".join(f["message"] for f in r.findings)


def test_refuses_targets_not_drill_enabled(inv, report_dir):
    r, _ = run_drill(get("ups-power-loss"), inv, execute=True, options={"targets": ["kg-ctl-01"]},
                     report_dir=report_dir)
    assert r.verdict == "fail" and "kg-ctl-01 not marked drill_enabled" in r.reason and r.playbooks == []


@pytest.mark.lab
def test_shutdown_and_power_on_in_plan_order(inv, lab_prefix, report_dir):
    r, _ = run_drill(get("ups-power-loss"), inv, execute=True, lab_prefix=lab_prefix, report_dir=report_dir,
                     options={"targets": ["kg-bak-01", "portal-web-01", "kg-cmp-23"]})
    assert r.verdict == "pass", r.reason
    assert r.details["executed"]["shutdown_order"] == ["portal-web-01", "kg-cmp-23", "kg-bak-01"]
    assert r.details["executed"]["power_on_order"] == ["kg-bak-01", "kg-cmp-23", "portal-web-01"]
    downs = [e["host"] for e in r.timeline if e["event"].endswith(")") and " is down " in e["event"]]
    ups_ = [e["host"] for e in r.timeline if e["event"].endswith("is back up")]
    assert downs == ["portal-web-01", "kg-cmp-23", "kg-bak-01"] and ups_ == ["kg-bak-01", "kg-cmp-23", "portal-web-01"]
    m = {x.name: x for x in r.measurements}
    assert 0 < m["shutdown_duration"].value < 120
    assert m["shutdown_duration"].met is None and m["shutdown_duration"].scale.startswith("3 of ")
    assert m["planned_shutdown_duration"].met is True and m["planned_shutdown_duration"].measured_in == "model"
