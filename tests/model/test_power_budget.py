"""The UPS power-loss shutdown plan as a capacity: validate and capacity show it next to RAM, SAN and tape,
and fail where the inventory change is made when a new tenant pushes the plan past the battery budget."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys

import pytest

from dcops import DEFAULT_INVENTORY
from dcops.model import capacity, load_inventory, power, validate
from tests.extension import add_tenant


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dcops.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def shipped():
    inv = load_inventory()
    return inv, power.shipped_plan(inv)


def test_shipped_inventory_fits_and_is_reported(shipped) -> None:
    inv, plan = shipped
    assert plan.fits is True and plan.end_s <= plan.budget_s
    ups = max((f for f in inv.facility if f.kind.value == "ups"), key=lambda f: f.capacity_kva)
    data = power.timings()
    assert plan.ups == ups.name
    assert plan.budget_s == round(ups.battery_runtime_min * 60 * (1 - data["reserve_fraction"]), 1)
    report = capacity.compute(inv)
    assert report.rows[-1] is report.ups
    assert (report.ups.name, report.ups.demand, report.ups.supply, report.ups.fits) == \
        (f"UPS shutdown plan ({ups.name})", plan.end_s, plan.budget_s, True)
    v = _cli("validate", "--json")
    assert v.returncode == 0, v.stderr
    assert json.loads(v.stdout)["summary"]["ups_shutdown"] == {
        "ups": ups.name, "plan_s": plan.end_s, "budget_s": plan.budget_s, "fits": True,
        "waves": len(plan.shutdown), "late_waves": []}
    table = _cli("validate")
    assert f"plan {plan.end_s:.0f} s of {plan.budget_s:.0f} s battery budget" in table.stdout
    cap = _cli("capacity", "--json")
    assert cap.returncode == 0 and json.loads(cap.stdout)["ups"]["fits"] is True


def _spill_one_wave(plan: power.PowerPlan, level: int, parallel: int) -> int:
    """VMs of `level` to add so its wave needs one more round of shutdowns."""
    members = next((len(w.members) for w in plan.shutdown if w.name == f"vm-level-{level}"), 0)
    return parallel * max(math.ceil(members / parallel), 1) + 1 - members if members else parallel + 1


def test_generated_tenant_over_the_battery_budget_fails_validate(shipped, tmp_path) -> None:
    inv, plan = shipped
    data = power.timings()
    step = data["shutdown_s"]["vm"]
    rounds = int((plan.budget_s - plan.end_s) // step) + 1  # extra VM rounds that break the budget
    assert rounds <= 3, "the shipped plan has more slack than three levels can spill; raise the test's levels"
    systems = [(level, _spill_one_wave(plan, level, data["parallel"]["vm"])) for level in (2, 3, 1)[:rounds]]
    inventory = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inventory)
    add_tenant(inventory, "so-thu-nghiem", systems)
    expected_end = plan.end_s + rounds * step

    result = validate(inventory)
    assert result.ok is False
    [err] = result.errors
    assert err.kind == "capacity" and err.loc.file.endswith("facility.yaml")
    facility = (inventory / "facility.yaml").read_text(encoding="utf-8").splitlines()
    assert facility[err.loc.line - 1].strip().startswith("battery_runtime_min:")
    assert f"plan {expected_end:.0f} s vs battery {plan.budget_s:.0f} s" in err.message

    cli = _cli("validate", "-i", str(inventory))
    assert cli.returncode == 1
    assert re.search(rf"facility\.yaml:{err.loc.line}: UPS {plan.ups} shutdown plan does not fit the battery: "
                     rf"plan {expected_end:.0f} s vs battery {plan.budget_s:.0f} s", cli.stderr), cli.stderr
    cap = _cli("capacity", "-i", str(inventory), "--json")
    assert cap.returncode == 1
    ups = json.loads(cap.stdout)["ups"]
    assert (ups["demand"], ups["supply"], ups["fits"]) == (expected_end, plan.budget_s, False)
    over = power.shipped_plan(result.capacity_view)
    assert ups["late_waves"] == over.late_waves() and over.late_waves()[-1] == over.shutdown[-1].name


def test_a_tenant_inside_the_slack_still_passes(shipped, tmp_path) -> None:
    """One more VM where the level's wave has room changes nothing: no false alarm."""
    inv, plan = shipped
    inventory = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inventory)
    level2 = next(len(w.members) for w in plan.shutdown if w.name == "vm-level-2")
    room = power.timings()["parallel"]["vm"] - level2 % power.timings()["parallel"]["vm"]
    assert room >= 1
    add_tenant(inventory, "so-thu-nghiem", [(2, 1)])
    result = validate(inventory)
    assert result.ok is True, [str(e) for e in result.errors]
    assert power.shipped_plan(result.inventory).end_s == plan.end_s
