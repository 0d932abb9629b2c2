"""The shipped inventory of the Kiên Giang data centre, through the model and the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import pydantic
import pytest

from tests.inventory_facts import count, items
from typer.testing import CliRunner

from dcops.cli import app
from dcops.model import capacity, load_inventory
from dcops.model.ansible_inventory import build

from .conftest import Workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def inv(request):
    return load_inventory()


def test_site_shape(inv) -> None:
    assert len(inv.hosts) == count("hosts")
    assert len(inv.vms) == count("vms")
    assert inv.storage.san.usable_tb == 330
    assert inv.storage.tape.capacity_tb == 60
    assert [l.bandwidth_mbps for l in inv.leased_lines] == [300, 300]
    for kind in ("firewall", "waf"):
        assert sum(1 for d in inv.network_devices if d.kind.value == kind) == count("network_devices", kind=kind) > 0
    ups = [f for f in inv.facility if f.kind.value == "ups" and f.capacity_kva == 80]
    assert len(ups) == 1
    assert inv.system("mail").facts["mailboxes"] == 4926
    assert inv.system("portal").facts["component_portals"] == 51
    # Directive 14 seed figures: 1,050 of 19,000 million VND in 2021
    b2021 = next(b for b in inv.budgets if b.year == 2021)
    assert sum(l.amount_million_vnd for l in b2021.lines) == 19000
    assert sum(l.amount_million_vnd for l in b2021.lines if l.security) == 1050


def test_model_is_immutable(inv) -> None:
    with pytest.raises(pydantic.ValidationError, match="Instance is frozen") as e:
        inv.vms[0].name = "x"  # type: ignore[misc]
    assert [err["type"] for err in e.value.errors()] == ["frozen_instance"]
    assert inv.vms[0].name != "x"


def test_diacritics_survive(inv) -> None:
    assert inv.tenant("so-tnmt").display_name == "Sở Tài nguyên và Môi trường"


def test_capacity_numbers(inv) -> None:
    report = capacity.compute(inv)
    vcpu, ram = report.compute
    assert vcpu.demand == sum(inv.flavor(v.flavor).vcpus for v in inv.vms)
    # compute hosts × (cores − 2 reserved) × 4.0 overcommit, the cores as written in compute.yaml
    assert vcpu.supply == sum((h["cpu_cores"] - 2) * 4.0 for h in items("hosts") if h["role"] == "compute")
    assert report.largest_host == "kg-cmp-20"  # an agg-db host with 1 TB RAM
    assert ram.supply_n1 == ram.supply - (1024 - 16)
    assert all(r.fits for r in report.rows) and all(r.fits_n1 is not False for r in report.rows)
    assert 0 < report.tape.demand <= 60


def test_tape_demand_formula(inv) -> None:
    """Full sets kept = ceil(retention / full interval) + 1; incrementals at the change rate; compression."""
    one = inv.model_copy(update={"vms": (inv.vm("qlvb-db-01"),)})
    vm = inv.vm("qlvb-db-01")
    data_gb = (inv.boot_gb(vm) + sum(v.size_gb for v in vm.volumes)) * inv.site.capacity.data_fill_ratio
    policy = inv.backup_policy(vm.backup_policy)  # tape-daily-30d: full every 14 d, 30 d retention
    fulls = 4
    incrementals = (30 - fulls + 1) * policy.change_rate
    assert capacity.tape_demand_tb(one) == pytest.approx(data_gb * (fulls + incrementals) / 1000 / 2.0)


def test_validate_cli_summary() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert str(count("hosts")) in result.output and str(count("vms")) in result.output
    assert "inventory OK" in result.output


def test_validate_json_parses() -> None:
    result = runner.invoke(app, ["validate", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["errors"] == []
    assert doc["summary"]["hosts"] == count("hosts") and doc["summary"]["vms"] == count("vms")
    assert doc["summary"]["site"] == "Trung tâm dữ liệu tỉnh Kiên Giang"


def test_validate_cli_reports_errors(ws: Workspace) -> None:
    line = ws.edit("vms/vp-ubnd.yaml", "    flavor: m1.large\n", "    flavor: m1.huge\n")
    result = runner.invoke(app, ["validate", "-i", str(ws.inventory), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert any(e["line"] == line and e["message"] == "unknown flavor 'm1.huge'" for e in doc["errors"])


def test_capacity_json_and_chart(tmp_path) -> None:
    chart = tmp_path / "cap.svg"
    result = runner.invoke(app, ["capacity", "--json", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["compute_hosts"] == count("hosts", role="compute") and doc["tape"]["fits"] is True
    assert chart.read_text().lstrip().startswith("<?xml") and "capacity" in chart.read_text()
    png = tmp_path / "cap.png"
    assert runner.invoke(app, ["capacity", "--chart", str(png)]).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_capacity_over_shows_table_and_fails_without_writing(ws: Workspace, tmp_path) -> None:
    ws.edit("storage.yaml", "    capacity_tb: 60\n", "    capacity_tb: 40\n")
    chart = tmp_path / "cap.png"
    result = runner.invoke(app, ["capacity", "-i", str(ws.inventory), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["tape"]["fits"] is False
    # an invalid inventory (not just over capacity) writes nothing
    ws.edit("catalog.yaml", "os: Red Hat Enterprise Linux 9", "os: Red Hat: Enterprise Linux 9")
    result = runner.invoke(app, ["capacity", "-i", str(ws.inventory), "--chart", str(chart)])
    assert result.exit_code == 1 and not chart.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp") or p.suffix == ".png"]


def test_ansible_inventory_groups(inv) -> None:
    doc = build(inv)
    hv = doc["_meta"]["hostvars"]
    assert len(doc["physical"]["hosts"]) == count("hosts")
    assert len(doc["role_compute"]["hosts"]) == count("hosts", role="compute")
    assert set(doc["zone_dmz"]["hosts"]) == {v.name for v in inv.vms if v.zone == "dmz"}
    assert set(doc["level_3"]["hosts"]) == {v.name for v in inv.vms if inv.system(v.system).security_level == 3}
    assert set(doc["tenant_vp_ubnd"]["hosts"]) == {v.name for v in inv.vms if v.tenant == "vp-ubnd"}
    assert hv["qlvb-db-01"]["dcops_rpo_hours"] == 24 and hv["qlvb-db-01"]["dcops_drill_enabled"] is True
    assert hv["kg-cmp-01"]["ansible_host"] == "10.10.0.14"
    # every group named under all.children exists
    assert all(g in doc for g in doc["all"]["children"] if g != "ungrouped")


def test_ansible_inventory_is_accepted_by_ansible(tmp_path) -> None:
    """ansible-inventory itself parses what we emit, through the dynamic-inventory protocol."""
    script = tmp_path / "dcops_inventory.sh"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -m dcops.cli inventory ansible \"$@\"\n")
    script.chmod(0o755)
    out = subprocess.run(["ansible-inventory", "-i", str(script), "--graph", "level_3"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "qlvb-db-01" in out.stdout and "@level_3" in out.stdout


def test_yaml_inventory_round_trip(tmp_path) -> None:
    target = tmp_path / "hosts.yaml"
    result = runner.invoke(app, ["inventory", "ansible", "--format", "yaml", "--out", str(target)])
    assert result.exit_code == 0, result.output
    out = subprocess.run(["ansible-inventory", "-i", str(target), "--list"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert "kg-cmp-01" in listed["role_compute"]["hosts"]


def test_entry_point_help() -> None:
    out = subprocess.run(["dcops", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "validate" in out.stdout and "capacity" in out.stdout
