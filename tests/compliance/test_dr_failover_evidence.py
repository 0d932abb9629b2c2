"""The DR failover control reads dr-failover drill records (dcops drill run dr-failover): a signed, approved
production record within 12 months passes, a lab rehearsal is named with its reasons, a failed switch fails,
an old one fails, and a system the DR stack does not declare cannot fail over."""
from __future__ import annotations

import json

from .test_rules import AS_OF, ctx, drill_record, inv, run, signer, text  # noqa: F401 — fixtures

SYSTEM = "qlvb"  # level 3: the control applies


def test_a_production_dr_failover_record_passes(ctx) -> None:
    path = drill_record(ctx, "dr-failover", [SYSTEM], "2026-05-04", True, vms=["qlvb-db-01"])
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.status, ev.message, ev.source) == ("pass", "dr_failover_ok", str(path))
    assert text(ev) == "DR failover drill on 2026-05-04"


def test_a_lab_dr_failover_is_no_evidence_and_says_why(ctx) -> None:
    drill_record(ctx, "dr-failover", [SYSTEM], "2026-05-04", True, kind="lab", vms=["qlvb-db-01"])
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.status, ev.message, ev.args["reasons"]) == ("missing", "dr_failover_no_evidence", ("env_lab",))


def test_an_old_dr_failover_fails(ctx) -> None:
    drill_record(ctx, "dr-failover", [SYSTEM], f"{AS_OF.year - 1}-01-04", True, vms=["qlvb-db-01"])
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.status, ev.message, ev.args) == ("fail", "dr_failover_old", {"date": f"{AS_OF.year - 1}-01-04"})


def test_a_failed_dr_failover_fails(ctx) -> None:
    drill_record(ctx, "dr-failover", [SYSTEM], "2026-05-04", False, vms=["qlvb-db-01"])
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.status, ev.message) == ("fail", "dr_failover_failed")


def test_no_record_is_missing(ctx) -> None:
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.status, ev.message) == ("missing", "no_dr_failover_drill")


def test_a_system_outside_the_dr_stack_fails(ctx) -> None:
    ctx.dr_plan.write_text(json.dumps({"stack": "dr", "resources": [
        {"type": "openstack:compute/instance:Instance", "inputs": {"metadata": {"system": "mail"}}}]}))
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.status, ev.message) == ("fail", "dr_failover_not_in_dr")
    # a backup-restore record is no failover evidence
    drill_record(ctx, "backup-restore", ["mail"], "2026-05-04", True)
    assert run(ctx, "dr-failover-drill", "mail").message == "no_dr_failover_drill"
