"""`dcops drill list|run` through the real CLI."""
import json

from typer.testing import CliRunner

from dcops.cli import app

runner = CliRunner()


def test_list_names_every_drill():
    res = runner.invoke(app, ["drill", "list", "--json"])
    assert res.exit_code == 0, res.output
    names = [d["name"] for d in json.loads(res.output)]
    assert names == ["backup-restore", "leased-line-failover", "ups-power-loss", "firewall-restore", "dr-readiness",
                     "incident-response", "dr-failover"]


def test_ups_plan_only_writes_a_record(tmp_path):
    res = runner.invoke(app, ["drill", "run", "ups-power-loss", "--report", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["mode"] == "plan" and rec["verdict"] == "pass" and rec["playbooks"] == []
    assert rec["details"]["extravars"]["drill_ups_shutdown_order"][-1] == "kg-bak-02"
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted([".chain.lock", "CHAIN_HEAD"] + [f"{rec['id']}.{x}" for x in ("html", "json", "md")])
    assert rec["environment"]["kind"] == "plan" and rec["operator"]["name"] is None


def test_refusal_and_unknown_drill_exit_non_zero(tmp_path):
    res = runner.invoke(app, ["drill", "run", "backup-restore", "-t", "qlvb-db-02", "--report", str(tmp_path)])
    assert res.exit_code == 1 and "not marked drill_enabled" in res.output
    res = runner.invoke(app, ["drill", "run", "no-such-drill"])
    assert res.exit_code == 2 and "unknown drill" in res.output
    res = runner.invoke(app, ["drill", "run", "ups-power-loss", "-o", "oops"])
    assert res.exit_code == 2 and "KEY=VALUE" in res.output


def test_a_target_the_drill_cannot_act_on_is_an_error_not_another_device(tmp_path):
    res = runner.invoke(app, ["drill", "run", "leased-line-failover", "-t", "kg-fw-01", "--execute",
                              "--report", str(tmp_path), "--json"])
    assert res.exit_code == 1
    rec = json.loads(res.output)
    assert "kg-fw-01 is not a link balancer" in rec["reason"] and rec["playbooks"] == [] and rec["targets"] == []
    res = runner.invoke(app, ["drill", "run", "dr-readiness", "-t", "portal-db-01", "--report", str(tmp_path)])
    assert res.exit_code == 1 and "not backup hosts: portal-db-01" in res.output


def _netns() -> set[str]:
    import subprocess
    return {ln.split()[0] for ln in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                   text=True).stdout.splitlines() if ln.strip()}


def test_ups_plan_mode_builds_no_lab(tmp_path):
    import os
    if os.geteuid() != 0:
        import pytest
        pytest.skip("--lab needs root")
    before = _netns()
    res = runner.invoke(app, ["drill", "run", "ups-power-loss", "--lab", "--report", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["lab"] is None and rec["environment"]["kind"] == "plan" and rec["playbooks"] == []
    assert _netns() == before


def test_lab_name_is_checked_for_collisions(tmp_path):
    import os
    import secrets
    import subprocess

    import pytest
    if os.geteuid() != 0:
        pytest.skip("--lab needs root")
    name = f"kgt{secrets.token_hex(2)}"
    subprocess.run(["ip", "netns", "add", f"{name}-ctl"], check=True)
    try:
        res = runner.invoke(app, ["drill", "run", "backup-restore", "--lab", "--lab-name", name, "--execute",
                                  "--report", str(tmp_path)])
        assert res.exit_code == 2 and "already start with" in res.output
        # a lab that is registered (state file) but has no namespace yet is refused as well
        from dcops.lab import Lab, teardown
        other = f"kgu{secrets.token_hex(2)}"
        Lab(f"{other}-").workdir  # noqa: B018 — creates the lab's state file
        try:
            res = runner.invoke(app, ["drill", "run", "backup-restore", "--lab", "--lab-name", other, "--execute",
                                      "--report", str(tmp_path)])
            assert res.exit_code == 2 and f"lab {other!r} is running" in res.output
        finally:
            teardown(other)
        res = runner.invoke(app, ["drill", "run", "backup-restore", "--lab-name", "Bad_Name", "--lab",
                                  "--report", str(tmp_path)])
        assert res.exit_code == 2 and "lower-case" in res.output
        assert not list(tmp_path.glob("*.json"))  # refused before anything ran
    finally:
        subprocess.run(["ip", "netns", "del", f"{name}-ctl"], check=False)


def test_firewall_restore_of_a_fortigate_without_its_api_token_stops_before_any_restore(tmp_path, monkeypatch):
    """kg-fw-01 is FortiOS, restored through its REST API from the controller (issue 15 §8): with no
    backup and no API token here, taking the backup fails and the restore playbook never runs."""
    monkeypatch.delenv("DCOPS_FORTIOS_API_TOKEN", raising=False)
    res = runner.invoke(app, ["drill", "run", "firewall-restore", "-t", "kg-fw-01", "--execute",
                              "--report", str(tmp_path), "--json", "-o", f"backups_dir={tmp_path / 'none'}"])
    assert res.exit_code == 1
    rec = json.loads(res.output)
    assert rec["reason"] == "could not take a backup of kg-fw-01"
    assert [p["playbook"] for p in rec["playbooks"]] == ["netdev-backup.yml"]
