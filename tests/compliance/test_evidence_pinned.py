"""The newer evidence rules pinned (issue 20): incident-response drill records (which record decides, and
what it says), and the TCVN catalogue's own evidence (running firewall configuration, validation, the
clause a system is held to)."""
from __future__ import annotations

import dataclasses
import datetime as dt

from .test_rules import AS_OF, ctx, drill_record, inv, run, signer, with_protection  # noqa: F401 — fixtures

SYSTEM = "qlvb"


def _ir(ctx, when: str, passed: bool = True, **kw):
    return drill_record(ctx, "incident-response", [SYSTEM], when, passed, vms=["qlvb-app-01"], **kw)


def test_incident_drill_newest_valid_record_decides_a_failure_after_a_pass(ctx):
    _ir(ctx, "2026-03-01", True)
    newest = _ir(ctx, "2026-09-01", False)
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message, ev.args, ev.source) == ("fail", "incident_drill_failed",
                                                           {"date": "2026-09-01"}, str(newest))


def test_incident_drill_newest_valid_record_decides_a_pass_after_a_failure(ctx):
    _ir(ctx, "2026-03-01", False)
    newest = _ir(ctx, "2026-09-01", True)
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message, ev.args, ev.source) == ("pass", "incident_drill_ok",
                                                           {"date": "2026-09-01"}, str(newest))


def test_incident_drill_a_newer_lab_rehearsal_does_not_hide_a_valid_production_drill(ctx):
    prod = _ir(ctx, "2026-03-01", True)
    _ir(ctx, "2026-09-01", True, kind="lab")
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.args, ev.source) == ("pass", {"date": "2026-03-01"}, str(prod))


def test_incident_drill_without_valid_records_names_the_newest_and_its_reasons(ctx):
    _ir(ctx, "2026-03-01", True, kind="staging")
    newest = _ir(ctx, "2026-09-01", True, kind="lab", sign=False)
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message, ev.source) == ("missing", "incident_drill_no_evidence", str(newest))
    assert ev.args == {"date": "2026-09-01", "reasons": ("env_lab", "unsigned")}


def test_incident_drill_record_after_the_assessment_date_is_ignored_and_the_declaration_speaks(ctx):
    with_protection(ctx, SYSTEM, last_incident_response_drill=dt.date(2026, 2, 1))
    _ir(ctx, (AS_OF + dt.timedelta(days=1)).isoformat(), True)
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message, ev.args) == ("missing", "incident_drill_declared", {"date": "2026-02-01"})


def test_incident_drill_record_on_the_assessment_date_counts(ctx):
    on_day = _ir(ctx, AS_OF.isoformat(), True)
    assert run(ctx, "incident-response-drill", SYSTEM).source == str(on_day)


def test_incident_drill_record_of_january_first_counts_and_december_31_before_does_not(ctx):
    _ir(ctx, f"{AS_OF.year - 1}-12-31", True)
    assert run(ctx, "incident-response-drill", SYSTEM).message != "incident_drill_ok"
    jan = _ir(ctx, f"{AS_OF.year}-01-01", True)
    ev = run(dataclasses.replace(ctx), "incident-response-drill", SYSTEM)  # drill_records is read once per context
    assert (ev.status, ev.source) == ("pass", str(jan))


def test_incident_drill_declared_never_and_no_record_is_missing_with_the_declaration_cited(ctx):
    with_protection(ctx, SYSTEM, last_incident_response_drill=None)
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message, ev.args, ev.source) == ("missing", "no_incident_drill", {},
                                                           "inventory/organisation.yaml")
