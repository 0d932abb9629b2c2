"""The monitor's CLI verbs through `dcops` (typer CliRunner) against the simulated agents."""
import json

from typer.testing import CliRunner

from dcops.cli import app

runner = CliRunner()


def test_probe_v2c_json_values_with_units(sim):
    t = sim.target("lb-1")
    r = runner.invoke(app, ["snmp", "probe", f"127.0.0.1:{t.port}", "--profile", "if-mib",
                            "--community", t.community, "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["reachable"] and data["info"]["sys_name"] == "lb-1"
    speeds = [s for s in data["samples"] if s["metric"] == "if_speed_bits_per_second"]
    assert speeds and all(s["unit"] == "bits_per_second" for s in speeds)


def test_probe_v3_table(sim, monkeypatch):
    t = sim.target("ups-80kva")
    monkeypatch.setenv("PROBE_AUTH", t.auth_key)
    r = runner.invoke(app, ["snmp", "probe", f"127.0.0.1:{t.port}", "--profile", "ups-rfc1628", "--user", t.user,
                            "--auth-key", "env:PROBE_AUTH", "--priv-key", t.priv_key, "--context", t.context])
    assert r.exit_code == 0, r.output
    assert "ups_battery_charge_ratio" in r.stdout and "%" in r.stdout


def test_probe_errors_are_one_line_and_nonzero(sim):
    r = runner.invoke(app, ["snmp", "probe", "127.0.0.1:1", "--profile", "nope", "--community", "x"])
    assert r.exit_code == 2 and "unknown SNMP profile" in r.output
    r = runner.invoke(app, ["snmp", "probe", "127.0.0.1", "--profile", "if-mib", "--user", "u"])
    assert r.exit_code == 2 and "authPriv" in r.output
    from dcops.monitor.sim import free_port
    r = runner.invoke(app, ["snmp", "probe", f"127.0.0.1:{free_port()}", "--profile", "if-mib", "--community", "x",
                            "--timeout", "0.2", "--retries", "0"])
    assert r.exit_code == 1 and "unreachable" in r.output


def test_monitor_once_against_simulated_inventory(tmp_path):
    import dcops
    from dcops.model import load_inventory
    from dcops.monitor.sim import sim_devices_from_inventory, start_agents
    inv = load_inventory(dcops.DEFAULT_INVENTORY)
    devs = [d for d in sim_devices_from_inventory(inv) if d.name in ("kg-ups-01", "kg-lb-01", "kg-env-01")]
    with start_agents(devs, workdir=tmp_path / "sim") as h:
        r = runner.invoke(app, ["monitor", "--once", "--sim", str(h.targets_file), "--db", str(tmp_path / "m.db"),
                                "--trap-port", "0", "--metrics-port", "0", "--json"])
    assert r.exit_code == 0, r.output
    polls = {p["device"]: p for p in json.loads(r.stdout)}
    assert set(polls) == {"kg-ups-01", "kg-lb-01", "kg-env-01"}  # only simulated devices are contacted
    assert all(p["reachable"] for p in polls.values())
    lines = {s["labels"].get("line") for s in polls["kg-lb-01"]["samples"] if s["metric"] == "if_oper_status"}
    assert {"isp1-vnpt", "isp2-viettel"} <= lines


def test_monitor_without_secrets_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.delenv("DCOPS_SNMP_AUTH_KEY", raising=False)
    r = runner.invoke(app, ["monitor", "--once", "--db", str(tmp_path / "m.db")])
    assert r.exit_code == 2 and "DCOPS_SNMP_AUTH_KEY" in r.output
    r = runner.invoke(app, ["monitor", "--once", "--sim", str(tmp_path / "missing.json"), "--db", str(tmp_path / "m.db")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_snmp_sim_verb_serves_the_inventory_and_cleans_up(tmp_path):
    """`dcops snmp sim` as a real process: agents answer; SIGTERM stops them (no orphan snmpsim)."""
    import asyncio
    import os
    import signal
    import subprocess
    import sys
    import time

    from dcops.monitor.sim import read_targets
    from dcops.monitor.snmp.session import open_session
    from dcops.monitor.targets import credentials_of

    out = tmp_path / "targets.json"
    p = subprocess.Popen([sys.executable, "-m", "dcops.monitor", "snmp", "sim", "--targets-out", str(out),
                          "--workdir", str(tmp_path / "w")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
        assert out.exists(), p.stdout.read().decode() if p.poll() is not None else "no targets file"
        targets = {t.device: t for t in read_targets(out)}
        assert {"kg-ups-01", "kg-lb-01", "kg-crac-01", "kg-env-01"} <= set(targets)
        t = targets["kg-ups-01"]
        vb = asyncio.run(open_session(t.host, t.port, credentials_of(t), timeout=2).get(["1.3.6.1.2.1.1.5.0"]))
        assert vb["1.3.6.1.2.1.1.5.0"] == b"kg-ups-01"
        agent_pid = t.pid
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0
        time.sleep(0.5)
        try:
            os.kill(agent_pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, "snmpsim agent left running"
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
