"""`dcops drill list|run` through the real CLI."""
import json

from typer.testing import CliRunner

from dcops.cli import app

runner = CliRunner()


def test_list_names_every_drill():
    res = runner.invoke(app, ["drill", "list", "--json"])
    assert res.exit_code == 0, res.output
    names = [d["name"] for d in json.loads(res.output)]
    assert names == ["backup-restore", "leased-line-failover", "ups-power-loss", "firewall-restore", "dr-readiness"]


def test_ups_plan_only_writes_a_record(tmp_path):
    res = runner.invoke(app, ["drill", "run", "ups-power-loss", "--report", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["mode"] == "plan" and rec["verdict"] == "pass" and rec["playbooks"] == []
    assert rec["details"]["extravars"]["drill_ups_shutdown_order"][-1] == "kg-bak-02"
    files = sorted(p.suffix for p in tmp_path.iterdir())
    assert files == [".html", ".json", ".md"]


def test_refusal_and_unknown_drill_exit_non_zero(tmp_path):
    res = runner.invoke(app, ["drill", "run", "backup-restore", "-t", "qlvb-db-02", "--report", str(tmp_path)])
    assert res.exit_code == 1 and "not marked drill_enabled" in res.output
    res = runner.invoke(app, ["drill", "run", "no-such-drill"])
    assert res.exit_code == 2 and "unknown drill" in res.output
    res = runner.invoke(app, ["drill", "run", "ups-power-loss", "-o", "oops"])
    assert res.exit_code == 2 and "KEY=VALUE" in res.output
