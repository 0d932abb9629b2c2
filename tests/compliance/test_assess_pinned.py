"""Compliance assessment and evidence pinned (issue 20): booleans are booleans, the JSON summary counts are
exact, several drill records are read newest first, and each collector's edge decides as documented."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from dcops.compliance.assess import Assessment, BudgetCheck, Finding, assess, catalogue
from dcops.compliance.evidence import Evidence, _date, chain_breaks

from .test_rules import (AS_OF, CONTROLS, ctx, drill_record, inv, run, signer, text,  # noqa: F401 (fixtures)
                         with_protection, write_monitors, write_policy)

PASS, FAIL, MISSING = Evidence("pass", "dr_covered"), Evidence("fail", "dr_not_covered"), Evidence("missing", "x")


def _assessment(findings, budgets) -> Assessment:
    return Assessment("site", AS_OF, (), (), tuple(findings), tuple(budgets))


# ---------------------------------------------------------------- booleans are booleans

def test_ok_is_a_real_bool_every_way():
    good = BudgetCheck(2026, 100.0, 10.0, 0.10)
    low = BudgetCheck(2021, 100.0, 9.99, 0.10)
    assert _assessment([Finding("s", "c", PASS)], [good]).ok is True
    assert _assessment([Finding("s", "c", PASS), Finding("s", "d", FAIL)], [good]).ok is False
    assert _assessment([Finding("s", "c", MISSING)], [good]).ok is False
    assert _assessment([Finding("s", "c", PASS)], [good, low]).ok is False
    assert _assessment([Finding("s", "c", PASS)], []).ok is False  # no budget declared is no compliance
    assert _assessment([], [good]).ok is True


def test_finding_and_budget_ok_are_real_bools_and_the_share_boundary_passes():
    assert Finding("s", "c", PASS).ok is True and Finding("s", "c", MISSING).ok is False
    assert Finding("s", "c", FAIL).ok is False
    assert BudgetCheck(2026, 200.0, 20.0, 0.10).ok is True   # exactly 10 %
    assert BudgetCheck(2026, 200.0, 19.9, 0.10).ok is False
    zero = BudgetCheck(2026, 0.0, 0.0, 0.10)
    assert (zero.share, zero.ok) == (0.0, False)           # an empty budget: no division by zero
    assert BudgetCheck(2026, 0.0, 0.0, 0.0).ok is True
    assert BudgetCheck(2026, 400.0, 50.0, 0.10).share == 0.125


def test_the_shipped_assessment_is_not_ok_and_says_so_as_false(ctx):
    a = assess(ctx.inventory, ctx)
    assert a.ok is False
    assert a.as_dict("en")["ok"] is False


# ---------------------------------------------------------------- which controls apply

def test_controls_follow_the_level_exactly(ctx):
    a = assess(ctx.inventory, ctx)
    by_level = {1: set(), 2: set(), 3: set()}
    for s in ctx.inventory.systems:
        by_level[s.security_level] |= {f.control for f in a.for_system(s.name)}
    assert by_level[1] == {"firewall-default-deny", "layer1-self-protection"}
    assert by_level[2] == {"backup-restore-drill", "firewall-default-deny", "monitoring", "layer1-self-protection",
                           "layer2-soc"}
    assert by_level[3] == {c for c in CONTROLS}
    # the systems are sorted by level (highest first), then by name
    levels = [(-s.security_level, s.name) for s in a.systems]
    assert levels == sorted(levels) and len(a.systems) == len(ctx.inventory.systems)
    assert len(a.findings) == sum(len(a.for_system(s.name)) for s in a.systems)


def test_dr_coverage_is_skipped_below_level_3_unless_dr_is_required(ctx):
    catalog = catalogue()
    catalog = {**catalog, "controls": [dict(c, min_level=1) if c["id"] == "dr-coverage" else c
                                       for c in catalog["controls"]]}
    a = assess(ctx.inventory, ctx, catalog)
    # level 2, no DR required: every other level-2 control still applies
    assert {f.control for f in a.for_system("gis")} == {"backup-restore-drill", "firewall-default-deny", "monitoring",
                                                        "layer1-self-protection", "layer2-soc"}
    assert "dr-coverage" in {f.control for f in a.for_system("backup")}      # level 3 even without DR
    inv2 = ctx.inventory.model_copy(update={"systems": tuple(
        s.model_copy(update={"dr_required": True}) if s.name == "gis" else s for s in ctx.inventory.systems)})
    assert "dr-coverage" in {f.control for f in assess(inv2, dataclasses.replace(ctx, inventory=inv2),
                                                        catalog).for_system("gis")}


# ---------------------------------------------------------------- the JSON report

def test_json_summary_counts_are_exact(ctx):
    ctx.dr_plan.write_text(json.dumps({"stack": "dr", "resources": [
        {"type": "openstack:compute/instance:Instance", "inputs": {"metadata": {"system": "qlvb"}}},
        {"type": "openstack:compute/instance:Instance", "inputs": {"metadata": {"system": "mail"}}}]}))
    a = assess(ctx.inventory, ctx)
    doc = a.as_dict("en")
    levels = [s.security_level for s in ctx.inventory.systems]
    n = 10 * levels.count(3) + 5 * levels.count(2) + 2 * levels.count(1)  # controls per level: 10, 5, 2
    assert len(a.findings) == n
    assert doc["summary"] == {"controls": n, "passed": 2, "findings": n - 2, "systems": len(levels),
                              "systems_ok": 0}
    qlvb = next(s for s in doc["systems"] if s["name"] == "qlvb")
    dr = next(c for c in qlvb["controls"] if c["id"] == "dr-coverage")
    assert (dr["status"], dr["message"], dr["title"]) == (
        "pass", "System declared in the DR stack", "Disaster-recovery coverage (system declared in the DR stack)")
    assert dr["detail"] == {"status": "pass", "message": "dr_covered", "args": {}, "source": str(ctx.dr_plan)}
    assert (doc["site"], doc["as_of"], doc["lang"]) == (ctx.inventory.site.name, "2026-11-23", "en")
    assert [b["year"] for b in doc["directive14"]] == [2021, 2026]
    assert doc["directive14"][0] == {
        "year": 2021, "total_million_vnd": 19000, "security_million_vnd": 1050, "share": 0.0553,
        "min_share": 0.1, "ok": False, "security_lines": doc["directive14"][0]["security_lines"],
        "source": "Phụ lục Kế hoạch số 195/KH-UBND ngày 31/12/2020 của UBND tỉnh Kiên Giang: Danh mục nhiệm vụ, "
                  "hoạt động ứng dụng CNTT năm 2021 sử dụng nguồn vốn sự nghiệp CNTT"}


def test_systems_ok_counts_a_system_whose_every_control_passes(ctx):
    only_dr = {**catalogue(), "controls": [c for c in catalogue()["controls"] if c["id"] == "dr-coverage"]}
    ctx.dr_plan.write_text(json.dumps({"stack": "dr", "resources": [
        {"type": "openstack:compute/instance:Instance", "inputs": {"metadata": {"system": "qlvb"}}}]}))
    doc = assess(ctx.inventory, ctx, only_dr).as_dict("vi")
    levels = [s.security_level for s in ctx.inventory.systems]
    n3 = levels.count(3)
    # systems below level 3 have no control at all, so nothing fails for them; qlvb passes its one
    assert doc["summary"] == {"controls": n3, "passed": 1, "findings": n3 - 1, "systems": len(levels),
                              "systems_ok": len(levels) - n3 + 1}


def test_rendered_reasons_are_in_the_report_language(ctx):
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, kind="lab", sign=False)
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.args["reasons"] == ("env_lab", "unsigned")
    assert text(ev) == ("The drill record of 2026-06-02 is not accepted as evidence: ran in a lab, not on the real "
                        "system; the record is not signed")
    assert text(ev, "vi") == ("Biên bản diễn tập ngày 2026-06-02 không được công nhận là bằng chứng: thực hiện trên "
                              "phòng thí nghiệm (lab), không phải hệ thống thật; biên bản chưa được ký")


# ---------------------------------------------------------------- several drill records: newest first

def test_newest_record_decides_a_failure_after_a_pass(ctx):
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-05-02", True)
    failed = drill_record(ctx, "backup-restore", ["qlvb"], "2026-09-02", False)
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-03-02", True)
    ev = run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message, ev.args, ev.source) == ("fail", "restore_drill_failed", {"date": "2026-09-02"},
                                                           str(failed))


def test_newest_record_decides_a_pass_after_a_failure(ctx):
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-05-02", False)
    newest = drill_record(ctx, "backup-restore", ["qlvb"], "2026-09-02", True)
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-07-02", False)
    ev = run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message, ev.args, ev.source) == ("pass", "restore_drill_ok", {"date": "2026-09-02"},
                                                           str(newest))


def test_too_old_names_the_newest_valid_record(ctx):
    one = ["qlvb-db-01"]  # one run per record, so the second run is the second-newest record
    drill_record(ctx, "backup-restore", ["qlvb"], "2025-01-02", True, vms=one)
    newest = drill_record(ctx, "backup-restore", ["qlvb"], "2025-10-01", True, vms=one)
    drill_record(ctx, "backup-restore", ["qlvb"], "2025-06-02", True, vms=one)
    ev = run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message, ev.args, ev.source) == ("fail", "restore_drill_old", {"date": "2025-10-01"},
                                                           str(newest))


def test_a_record_exactly_max_age_old_still_counts_and_one_day_more_does_not(ctx):
    drill_record(ctx, "backup-restore", ["qlvb"], "2025-11-23", True)  # as of 2026-11-23: 365 days
    assert run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb").status == "pass"
    c2 = dataclasses.replace(ctx, as_of=dt.date(2026, 11, 24))
    assert run(c2, "backup-restore-drill", "qlvb").message == "restore_drill_old"


def test_a_record_dated_after_the_assessment_date_is_ignored(ctx):
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-11-24", True)
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message) == ("missing", "no_restore_drill")
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-11-23", True)
    assert run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb").status == "pass"  # the same day counts


def test_no_evidence_names_the_newest_rejected_record_and_its_reasons(ctx):
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-03-02", True, kind="staging")
    newest = drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, kind="lab")
    ev = run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message, ev.source) == ("missing", "restore_drill_no_evidence", str(newest))
    assert ev.args == {"date": "2026-06-02", "reasons": ("env_lab",)}


def test_partial_coverage_counts_and_lists_at_most_six_vms(ctx):
    drill_record(ctx, "backup-restore", ["mail"], "2026-06-02", True, vms=["mail-ldap-01"])
    ev = run(ctx, "backup-restore-drill", "mail")
    assert (ev.status, ev.message) == ("missing", "restore_drill_partial")
    assert (ev.args["covered"], ev.args["total"]) == (1, 10)
    shown = ev.args["vms"].split(", ")
    assert len(shown) == 6 and shown[-1].endswith(" (+3)") and "mail-ldap-01" not in ev.args["vms"]


def test_restores_of_every_vm_in_separate_records_together_pass(ctx):
    vms = [v.name for v in ctx.inventory.vms_of_system("qlvb") if v.backup_policy]
    assert len(vms) >= 2
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-05-02", True, vms=vms[:1])
    newest = drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, vms=vms[1:])
    ev = run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb")
    assert (ev.status, ev.args, ev.source) == ("pass", {"date": "2026-06-02"}, str(newest))


def test_record_problems_each_reason(ctx):
    from dcops.compliance.evidence import record_problems
    base = {"mode": "execute", "environment": {"kind": "production"}, "operator": {"name": "A"},
            "approver": {"name": "B"}, "_path": str(ctx.drills_dir / "r.json")}
    c = dataclasses.replace(ctx, allowed_signers=None)
    assert record_problems(c, base) == ["unchained", "no_signers"]
    assert record_problems(c, dict(base, mode="check")) == ["not_executed", "unchained", "no_signers"]
    assert record_problems(c, dict(base, environment={})) == ["no_environment", "unchained", "no_signers"]
    assert record_problems(c, dict(base, environment={"kind": "dev"})) == ["env_other", "unchained", "no_signers"]
    assert record_problems(c, dict(base, approver={"name": " a "})) == ["self_approved", "unchained", "no_signers"]
    assert record_problems(c, dict(base, operator=None, approver=None)) == ["no_operator", "no_approver",
                                                                            "unchained"]


def test_dates_in_records():
    assert _date("2026-06-02T02:30:00Z") == dt.date(2026, 6, 2)
    assert _date(dt.date(2026, 6, 2)) == dt.date(2026, 6, 2)
    assert _date("yesterday") is None and _date(20260602) is None and _date(None) is None


def test_chain_breaks_two_records_claiming_one_predecessor(tmp_path):
    recs = [{"_path": str(tmp_path / "a.json"), "integrity": {"hash": "h1", "prev": "0" * 64}},
            {"_path": str(tmp_path / "b.json"), "integrity": {"hash": "h2", "prev": "h1"}},
            {"_path": str(tmp_path / "c.json"), "integrity": {"hash": "h3", "prev": "h1"}},
            {"_path": str(tmp_path / "d.json"), "integrity": {}}]
    assert chain_breaks(recs) == {str(tmp_path / "b.json"), str(tmp_path / "c.json")}
    assert chain_breaks(recs[:2]) == set()
    (tmp_path / "CHAIN_HEAD").write_text("h2\n")
    assert chain_breaks(recs[:2]) == set()
    (tmp_path / "CHAIN_HEAD").write_text("h9\n")
    assert chain_breaks(recs[:2]) == {str(tmp_path / "a.json"), str(tmp_path / "b.json")}
    (tmp_path / "CHAIN_HEAD").write_text("\n")
    assert chain_breaks(recs[:2]) == set()


# ---------------------------------------------------------------- the other collectors' edges

def test_dr_plan_that_is_not_json_or_not_a_dr_plan_is_missing(ctx):
    ctx.dr_plan.write_text("{not json")
    assert run(ctx, "dr-coverage", "qlvb").message == "no_dr_plan"
    c2 = dataclasses.replace(ctx)
    ctx.dr_plan.write_text(json.dumps(["stack", "dr"]))
    assert run(c2, "dr-coverage", "qlvb").message == "no_dr_plan"
    c3 = dataclasses.replace(ctx)
    ctx.dr_plan.write_text(json.dumps({"stack": "dr", "resources": [
        {"type": "openstack:compute/instance:Instance", "inputs": {"metadata": "qlvb"}},
        {"type": "openstack:compute/instance:Instance", "inputs": {"metadata": {"owner": "qlvb"}}},
        {"type": "openstack:compute/instance:Instance"}]}))
    ev = run(c3, "dr-coverage", "qlvb")
    assert (ev.status, ev.message, ev.source) == ("fail", "dr_not_covered", str(ctx.dr_plan))


def test_firewall_policy_default_deny_must_be_bare_and_for_any_zone(ctx):
    allow = {"header": {"zones": {"from": "app", "to": "db"}}, "terms": [{"name": "x", "action": "accept"}]}
    dmz = {"header": {"zones": {"from": ["public"], "to": ["dmz", "app"]}}, "terms": [{"name": "w", "action": "accept"}]}
    for deny, status in [
        ({"header": {"zones": {"from": "any", "to": "any"}}, "terms": [{"name": "d", "action": "reject"}]}, "missing"),
        ({"header": {"zones": {"from": "app", "to": "any"}}, "terms": [{"name": "d", "action": "deny"}]}, "fail"),
        ({"header": {"zones": {"from": "any", "to": "any"}}, "terms": []}, "fail"),
        ({"header": {"zones": {"from": "any", "to": "any"}},
          "terms": [{"name": "d", "action": "deny"}, {"name": "e", "action": "accept"}]}, "fail"),
        ({"header": {"zones": {"from": "any", "to": "any"}},
          "terms": [{"name": "d", "action": "deny", "source-port": "X"}]}, "fail"),
    ]:
        write_policy(ctx, [allow, dmz, deny])
        ev = run(dataclasses.replace(ctx), "firewall-default-deny", "qlvb")
        assert ev.status == status, deny
    write_policy(ctx, [allow, dmz, {"header": {"zones": {"from": "any", "to": "any"}},
                                    "terms": [{"name": "d", "action": "deny"}]}])
    ev = run(dataclasses.replace(ctx), "firewall-default-deny", "qlvb")
    assert (ev.message, ev.args, ev.source) == ("policy_intent_only", {"filters": 3},
                                                str(ctx.policy_dir / "site.yaml"))


def test_firewall_policy_unreadable_files_are_skipped(ctx):
    ctx.policy_dir.mkdir(parents=True)
    (ctx.policy_dir / "a.yaml").write_text("filters: [\n")
    (ctx.policy_dir / "b.yaml").write_text("- just a list\n")
    ev = run(ctx, "firewall-default-deny", "qlvb")
    assert (ev.status, ev.message, ev.args) == ("missing", "no_policy", {"dir": str(ctx.policy_dir)})


def test_monitoring_needs_rules_and_every_polled_device_profiled(ctx, inv):
    from dcops.compliance.evidence import system_devices
    needed = system_devices(inv, inv.system("qlvb"))  # per system: room power/cooling and its network path
    assert {"kg-ups-01", "kg-core-01", "kg-core-02"} <= {d.name for d in needed}
    profiles = sorted({d.snmp.profile for d in needed if d.snmp})
    write_monitors(ctx, profiles, [])
    assert run(ctx, "monitoring", "qlvb").message == "no_monitoring"
    write_monitors(ctx, profiles, ["a", "b"])
    ev = run(dataclasses.replace(ctx), "monitoring", "qlvb")
    polled = sum(1 for d in needed if d.snmp)
    assert (ev.status, ev.message, ev.args) == ("missing", "monitoring_configured_only",
                                                {"devices": polled, "rules": 2})


def test_assessment_age_boundaries(ctx):
    for last, status in [(AS_OF, "missing"), (AS_OF - dt.timedelta(days=365), "missing"),
                         (AS_OF - dt.timedelta(days=366), "fail"), (AS_OF + dt.timedelta(days=1), "fail")]:
        with_protection(ctx, "qlvb", last_independent_assessment=last)
        assert run(ctx, "layer3-assessment", "qlvb").status == status, last


def test_incident_drill_must_be_this_year_and_not_in_the_future(ctx):
    for last, status in [(dt.date(2026, 1, 1), "missing"), (AS_OF, "missing"), (dt.date(2026, 11, 24), "fail"),
                         (dt.date(2025, 12, 31), "fail")]:
        with_protection(ctx, "qlvb", last_incident_response_drill=last)
        assert run(ctx, "incident-response-drill", "qlvb").status == status, last


# ---------------------------------------------------------------- reading drill records

def _raw(ctx, rel: str, doc) -> None:
    path = ctx.drills_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")


def _rec(when: str | None = None, finished: str | None = None, **entry) -> dict:
    e = {"system": "qlvb", "evidence": "backup-restore", "verified": True, "vm": "qlvb-db-01", **entry}
    if when:
        e["at"] = when
    return {"schema": "dcops.drill-record/2", "mode": "execute", "verdict": "pass", "finished_at": finished,
            "environment": {"kind": "production"}, "operator": {"name": "A"}, "approver": {"name": "B"},
            "systems": [e]}


def test_drill_records_skip_what_is_not_a_record_and_never_trust_a_recorded_path(ctx):
    _raw(ctx, "a/list.json", [1, 2])
    _raw(ctx, "a/broken.json", "{nope")
    _raw(ctx, "b/deep/rec.json", dict(_rec("2026-06-02"), _path="/etc/passwd"))
    _raw(ctx, "notes.txt", "not json at all")
    assert [r["_path"] for r in ctx.drill_records] == [str(ctx.drills_dir / "b/deep/rec.json")]


def test_a_record_of_another_schema_or_evidence_or_system_is_not_read(ctx):
    _raw(ctx, "x1.json", dict(_rec("2026-06-02"), schema="dcops.drill-record/9"))
    _raw(ctx, "x2.json", _rec("2026-06-03", evidence="ups-failover"))
    _raw(ctx, "x3.json", _rec("2026-06-04", system="mail"))
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message) == ("missing", "no_restore_drill")


def test_a_run_is_dated_by_its_entry_else_by_the_record_and_undated_runs_are_ignored(ctx):
    _raw(ctx, "r1.json", _rec(None, "2026-07-01T10:00:00Z"))   # no entry date: the record's finish
    _raw(ctx, "r2.json", _rec("2026-05-01T10:00:00Z", "2026-09-01T10:00:00Z"))  # the entry's own date wins
    _raw(ctx, "r3.json", _rec(None, None))                     # no date at all: not a run
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message, ev.args["date"], ev.source) == (
        "missing", "restore_drill_no_evidence", "2026-07-01", str(ctx.drills_dir / "r1.json"))
    assert ev.args["reasons"] == ("unchained", "unsigned")


def test_a_verified_entry_in_a_failed_record_is_not_a_verified_restore(ctx):
    from dcops.compliance.evidence import _drill_evidence
    _raw(ctx, "r1.json", dict(_rec("2026-06-02"), verdict="fail"))
    _raw(ctx, "r2.json", _rec("2026-06-03", vm=None, target="qlvb-app-01"))
    runs = _drill_evidence(ctx, "backup-restore", "qlvb")
    assert [(r.when.isoformat(), r.verified, r.vm, r.path.rsplit("/", 1)[-1]) for r in runs] == [
        ("2026-06-03", True, "qlvb-app-01", "r2.json"), ("2026-06-02", False, "qlvb-db-01", "r1.json")]
    assert all(r.problems == ("unchained", "unsigned") for r in runs)


def test_render_message_translates_known_reasons_and_shows_unknown_ones_as_they_are():
    from dcops.compliance.assess import messages, render_message
    ev = Evidence("missing", "restore_drill_no_evidence", {"date": "2026-06-02", "reasons": ("unsigned", "odd_key")})
    assert render_message(messages()["en"], ev) == ("The drill record of 2026-06-02 is not accepted as evidence: "
                                                    "the record is not signed; odd_key")
    assert ev.args["reasons"] == ("unsigned", "odd_key")  # the evidence itself is left as it was
    assert render_message(messages()["en"], Evidence("fail", "dr_not_covered")) == "System NOT declared in the DR stack"


def test_budgets_are_sorted_by_year_with_their_security_lines(ctx):
    inv = ctx.inventory.model_copy(update={"budgets": tuple(reversed(ctx.inventory.budgets))})
    a = assess(inv, dataclasses.replace(ctx, inventory=inv))
    assert [b.year for b in a.budgets] == [2021, 2026]
    b2021 = a.budgets[0]
    assert (b2021.total, b2021.security, b2021.min_share) == (19000, 1050, 0.1)
    assert [(item[:4], amount) for item, amount in b2021.security_lines] == [("IV.1", 50), ("IV.2", 1000)]
    assert (a.site, a.as_of, a.controls) == (inv.site.name, AS_OF, tuple(catalogue()["controls"]))


def test_signature_check_is_silent_and_strict(ctx, signer, capfd):
    """ssh-keygen's own messages must not leak into the report's output (`--json` on stdout)."""
    from dcops.compliance.evidence import verify_signature
    from .test_rules import OPERATOR
    path = drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True)
    capfd.readouterr()
    assert verify_signature(path, OPERATOR, signer[1]) is True
    assert verify_signature(path, "someone.else@example.invalid", signer[1]) is False
    unsigned = drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-03", True, sign=False)
    assert verify_signature(unsigned, OPERATOR, signer[1]) is False
    assert capfd.readouterr() == ("", "")


def test_a_record_with_vietnamese_names_keeps_its_hash(ctx):
    """The hash is over UTF-8 JSON as the writer makes it, not over \\u escapes."""
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, approver="Trần Thị Bình")
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert (ev.status, ev.message) == ("pass", "restore_drill_ok")


def test_a_record_naming_a_missing_predecessor_breaks_the_chain(tmp_path):
    recs = [{"_path": str(tmp_path / "a.json"), "integrity": {"hash": "h1", "prev": "0" * 64}},
            {"_path": str(tmp_path / "b.json"), "integrity": {"hash": "h2", "prev": "h9"}}]
    assert chain_breaks(recs) == {str(tmp_path / "b.json")}


def test_each_collector_outcome_exactly(ctx, inv):
    from dcops.compliance.evidence import firewall_policy, incident_drill, monitoring, restore_drill
    qlvb = inv.system("qlvb")
    assert restore_drill(ctx, qlvb, CONTROLS["backup-restore-drill"]) == Evidence(
        "missing", "no_restore_drill", {"dir": str(ctx.drills_dir)}, str(ctx.drills_dir))
    assert firewall_policy(ctx, qlvb, {}) == Evidence("missing", "no_policy", {"dir": str(ctx.policy_dir)},
                                                      str(ctx.policy_dir))
    deny = {"header": {"zones": {"from": "any", "to": "any"}}, "terms": [{"name": "d", "action": "deny"}]}
    write_policy(ctx, [{"header": {"zones": {"from": "wan", "to": "mgmt"}}, "terms": []}, deny])
    c2 = dataclasses.replace(ctx)
    assert firewall_policy(c2, qlvb, {}) == Evidence("fail", "policy_zone_uncovered", {"zones": "app, db, dmz"},
                                                     str(ctx.policy_dir / "site.yaml"))
    write_monitors(ctx, ["ups-rfc1628"], ["r"])
    gaps = monitoring(dataclasses.replace(ctx), qlvb, {})
    from dcops.compliance.evidence import system_devices
    unprofiled = [d.name for d in system_devices(inv, qlvb) if d.snmp is None or d.snmp.profile != "ups-rfc1628"]
    assert len(unprofiled) >= 2
    assert gaps == Evidence("fail", "monitoring_gaps", {"devices": ", ".join(unprofiled)},
                            str(ctx.monitors_dir / "alerts.yaml"))
    with_protection(ctx, "qlvb", last_incident_response_drill=dt.date(2025, 6, 1))
    assert incident_drill(ctx, ctx.inventory.system("qlvb"), {}) == Evidence(
        "fail", "incident_drill_old", {"date": "2025-06-01"}, "inventory/organisation.yaml")


def test_a_control_can_shorten_the_restore_drill_age(ctx, inv):
    from dcops.compliance.evidence import restore_drill
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-08-01", True)
    qlvb = inv.system("qlvb")
    assert restore_drill(ctx, qlvb, {"max_age_days": 365}).status == "pass"
    assert restore_drill(ctx, qlvb, {"max_age_days": 30}).message == "restore_drill_old"
    assert restore_drill(ctx, qlvb, {}).status == "pass"  # 365 days without a word


def test_partial_coverage_shows_six_vms_and_counts_the_seventh(ctx):
    names = sorted(v.name for v in ctx.inventory.vms_of_system("mail") if v.backup_policy)
    drill_record(ctx, "backup-restore", ["mail"], "2026-06-02", True, vms=names[:len(names) - 7])
    ev = run(ctx, "backup-restore-drill", "mail")
    assert ev.args["vms"] == ", ".join(names[len(names) - 7:][:6]) + " (+1)"


def test_the_json_report_defaults_to_vietnamese_and_names_every_field(ctx):
    a = assess(ctx.inventory, ctx)
    doc = a.as_dict()
    assert doc["lang"] == "vi" and set(doc) == {"site", "as_of", "lang", "ok", "summary", "systems",
                                                 "directive14_projects", "directive14"}
    s = doc["systems"][0]
    assert set(s) == {"name", "display_name", "owner", "security_level", "controls"}
    assert s["owner"] == ctx.inventory.system(s["name"]).owner
    c = s["controls"][0]
    assert set(c) == {"id", "title", "status", "message", "evidence", "detail"}
    assert c["evidence"] == c["detail"]["source"]


def test_catalogue_and_messages_read_as_utf8_whatever_the_locale():
    import subprocess
    import sys

    from dcops import PROJECT_ROOT
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONPATH": str(PROJECT_ROOT),
           "PYTHONIOENCODING": "utf-8"}  # stdout only: files still open in the locale's encoding
    code = ("from dcops.compliance.assess import catalogue, messages; "
            "print(messages()['vi']['pass'], len(catalogue()['controls']))")
    out = subprocess.run([sys.executable, "-X", "utf8=0", "-c", code], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-500:]
    assert out.stdout.decode("utf-8").split() == ["Đạt", "10"]
