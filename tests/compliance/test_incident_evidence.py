"""The incident-response control reads incident-response drill records (dcops drill run incident-response):
a signed, approved production record of this year passes, a lab rehearsal is named with its reasons, a
failed production drill fails, and without records the declared date is never a pass."""
from __future__ import annotations

from .test_rules import AS_OF, ctx, drill_record, inv, run, signer, text  # noqa: F401 — fixtures

SYSTEM = "qlvb"  # level 3: the control applies


def test_a_production_incident_drill_record_passes(ctx) -> None:
    path = drill_record(ctx, "incident-response", [SYSTEM], "2026-05-04", True, vms=["qlvb-app-01"])
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message, ev.source) == ("pass", "incident_drill_ok", str(path))
    assert text(ev) == "Incident-response drill on 2026-05-04"


def test_a_lab_incident_drill_is_no_evidence_and_says_why(ctx) -> None:
    drill_record(ctx, "incident-response", [SYSTEM], "2026-05-04", True, kind="lab", vms=["qlvb-app-01"])
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message) == ("missing", "incident_drill_no_evidence")
    assert ev.args["reasons"] == ("env_lab",)


def test_a_failed_production_incident_drill_fails(ctx) -> None:
    drill_record(ctx, "incident-response", [SYSTEM], "2026-05-04", False, vms=["qlvb-app-01"])
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message) == ("fail", "incident_drill_failed")


def test_last_year_s_record_does_not_count_this_year(ctx) -> None:
    drill_record(ctx, "incident-response", [SYSTEM], f"{AS_OF.year - 1}-11-04", True, vms=["qlvb-app-01"])
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert ev.status != "pass" and ev.message not in ("incident_drill_ok", "incident_drill_no_evidence")


def test_a_restore_drill_record_is_not_incident_response_evidence(ctx) -> None:
    drill_record(ctx, "backup-restore", [SYSTEM], "2026-05-04", True)
    assert run(ctx, "incident-response-drill", SYSTEM).status != "pass"
