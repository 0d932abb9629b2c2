"""The demo's life cycle: a crash (SIGKILL) cleaned up by `dcops lab down`; the demo without a lab."""
from __future__ import annotations

import os
import re
import signal
import time
import urllib.request

import pytest

from dcops.lab import can_run, netns

from .conftest import assert_nothing_left, dcops as run, recorded

pytestmark = pytest.mark.slow


@pytest.mark.lab
@pytest.mark.skipif(not can_run(), reason="needs root, network namespaces and OpenSSH server")
def test_sigkill_then_lab_down_leaves_nothing(start_demo):
    demo = start_demo()
    namespaces, processes = recorded(demo.state())
    whats = {p["what"] for p in processes}
    assert {"sshd", "lbcheck", "tcpserver", "snmp-sim", "snmpsim", "monitor", "dashboard", "bacula-dir", "bacula-sd",
            "bacula-fd"} <= whats, whats
    assert set(namespaces) <= set(netns.list_namespaces()) and len(namespaces) >= 10
    demo.proc.send_signal(signal.SIGKILL)   # no teardown at all: a crash
    demo.proc.wait(10)
    time.sleep(0.5)
    from dcops.lab import procs
    assert any(procs.alive(p["pid"], p.get("start")) for p in processes), "the crash should leave processes"
    out = run("lab", "down", "--name", demo.lab_name).stdout
    assert f"{demo.lab_name}: removed" in out, out
    assert_nothing_left(namespaces, processes, f"{demo.lab_name}-")
    # and a second `lab down` finds nothing to do
    assert "nothing to remove" in run("lab", "down", "--name", demo.lab_name).stdout


@pytest.mark.lab
@pytest.mark.skipif(not can_run(), reason="needs root, network namespaces and OpenSSH server")
def test_ctrl_c_during_start_up_removes_what_was_built(start_demo):
    demo = start_demo(wait_ready=False)
    demo.wait_for(r"✓ Namespace lab", 120)       # namespaces and sshd exist, the agents are starting
    namespaces, processes = recorded(demo.state())
    assert len(namespaces) >= 10 and processes
    assert demo.stop(signal.SIGINT) == 0, demo.output
    assert "SIGINT: stopping the demo" in demo.output and "nothing left behind" in demo.output
    assert "NOC dashboard:" not in demo.output
    assert_nothing_left(namespaces, processes, f"{demo.lab_name}-")


def _firing(url: str, rule: str, device: str) -> bool:
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return False
    return any(ln.startswith("dcops_alert_firing{") and f'rule="{rule}"' in ln and f'device="{device}"' in ln
               and ln.rstrip().endswith(" 1") for ln in text.splitlines())


def test_no_lab_demo_runs_scenario_and_stops_clean(start_demo):
    """What a machine without root gets: SNMP simulation, monitor, dashboard, Bacula, facility and backup
    scenarios."""
    demo = start_demo("--no-lab", "-s", "mains-failure", "-s", "cooling-failure", "-s", "backup-job-failed",
                      "--scenario-delay", "0", "--speed", "4")
    out = demo.output
    assert "Namespace lab" in out and "skipped" in out
    assert "Render and push network configs" in out
    st = demo.state()
    assert st["namespaces"] == [] and not st["meta"]["demo"]["lab"]
    metrics = st["meta"]["demo"]["metrics"]
    # the file daemon stopped: the job fails (Bacula's words below), the catalogue's metric raises the alert
    want = {("ups_on_battery", "kg-ups-01"), ("cooling_alarm", "kg-crac-01"), ("backup_job_failed", "kg-bak-dir")}
    seen, deadline = set(), time.monotonic() + 60
    while seen != want:
        assert time.monotonic() < deadline, f"only {seen} of {want} in {metrics}:\n{demo.output}"
        seen |= {w for w in want - seen if _firing(metrics, *w)}
        time.sleep(0.3)
    demo.wait_for(r"\[mains-failure\] Mains lost", 5)
    demo.wait_for(r"\[backup-job-failed\] JobId \d+: fatal error — .*Unable to connect to Client: portal-db-01-fd", 5)
    demo.wait_for(r"\[backup-job-failed\] JobId \d+: OK", 60)    # the daemon is back, the job runs again
    deadline = time.monotonic() + 30
    while _firing(metrics, "backup_job_failed", "kg-bak-dir"):
        assert time.monotonic() < deadline, f"backup_job_failed did not clear:\n{demo.output}"
        time.sleep(0.3)
    text = urllib.request.urlopen(metrics, timeout=5).read().decode()
    ok = {ln.split('job="')[1].split('"')[0]: ln.rsplit(" ", 1)[1] for ln in text.splitlines()
          if ln.startswith("dcops_backup_last_job_ok{")}
    assert ok == {"portal-db-01": "1", "mail-mbox-01": "1", "qlcb-db-01": "1"}, text  # the first full backups too
    assert not re.search(r"\] \w+ failed: ", demo.output), demo.output  # every scenario step did what it said
    _, processes = recorded(demo.state())
    # a second demo under the same name refuses, and leaves the running one alone
    second = run("demo", "--no-lab", "--port", "0", "--lab-name", demo.lab_name, check=False)
    assert second.returncode == 1 and "is already running" in second.stdout, second.stdout + second.stderr
    assert recorded(demo.state())[1] == processes and _firing(metrics, "ups_on_battery", "kg-ups-01")
    assert demo.stop(signal.SIGTERM) == 0, demo.output
    assert "nothing left behind" in demo.output
    assert_nothing_left([], processes, f"{demo.lab_name}-")
    assert not os.path.exists(st["meta"]["demo"]["workdir"])
