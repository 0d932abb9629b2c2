"""Every compliance rule both ways: passes with evidence, fails (or is missing) without, and says what is missing."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dcops import PROJECT_ROOT
from dcops.cli import app
from dcops.compliance.assess import assess, messages, render_message
from dcops.compliance.evidence import COLLECTORS, Context
from dcops.model import load_inventory

AS_OF = dt.date(2026, 11, 23)
CONTROLS = {c["id"]: c for c in yaml.safe_load((PROJECT_ROOT / "dcops/compliance/controls.yaml").read_text(encoding="utf-8"))["controls"]}


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


OPERATOR, APPROVER = "an.nv@sotttt.kiengiang.gov.vn", "binh.tt@sotttt.kiengiang.gov.vn"


@pytest.fixture(scope="session")
def signer(tmp_path_factory):
    """The operator's SSH key and an allowed-signers file naming them (ssh-keygen -Y)."""
    d = tmp_path_factory.mktemp("signer")
    key = d / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = d / "allowed_signers"
    allowed.write_text(f"{OPERATOR} {' '.join((d / 'id_ed25519.pub').read_text().split()[:2])}\n")
    return key, allowed


@pytest.fixture
def ctx(inv, tmp_path: Path, signer) -> Context:
    return Context(inv, AS_OF, tmp_path / "drills", tmp_path / "plan-dr.json", tmp_path / "policy",
                   tmp_path / "monitors", signer[1])


def run(ctx: Context, control_id: str, system: str):
    control = CONTROLS[control_id]
    return COLLECTORS[control["evidence"]](ctx, ctx.inventory.system(system), control)


def text(ev, lang="en") -> str:
    return render_message(messages()[lang], ev)


def drill_record(ctx: Context, name: str, systems: list[str], when: str, passed: bool, mode: str = "execute", *,
                 kind: str = "production", operator: str | None = OPERATOR, approver: str | None = APPROVER,
                 sign: bool = True, vms: list[str] | None = None, key: Path | None = None) -> Path:
    """A record written, chained and signed by the drills' own writer (dcops.drill-record/2)."""
    from dcops.drills import record as rec
    r = rec.DrillRecord(name, name, mode, id=f"{when}-{name}-{'ok' if passed else 'bad'}-{mode}-{kind}",
                        started_at=f"{when}T02:00:00Z", finished_at=f"{when}T02:30:00Z",
                        verdict="pass" if passed else "fail", operator=rec.operator(operator),
                        approver=rec.approver(approver), environment={"kind": kind, "reason": "", "scale": ""})
    for s in systems:
        names = vms if vms is not None else [v.name for v in ctx.inventory.vms_of_system(s) if v.backup_policy]
        r.systems += [{"system": s, "security_level": 3, "evidence": name, "verified": passed, "vm": v,
                       "at": f"{when}T02:30:00Z"} for v in names]
    key = key or Path(ctx.allowed_signers).parent / "id_ed25519"
    return rec.save(r, ctx.drills_dir, key if sign else None)["json"]


# ---------------------------------------------------------------- backup + restore drill

def test_restore_drill_missing(ctx) -> None:
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.status == "missing" and "No backup-restore drill record" in text(ev)


def test_restore_drill_pass(ctx) -> None:
    path = drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True)
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.status == "pass" and ev.source == str(path) and "2026-06-02" in text(ev)
    # a drill of another system is no evidence for this one
    assert run(ctx, "backup-restore-drill", "mail").status == "missing"


def test_restore_drill_too_old(ctx) -> None:
    drill_record(ctx, "backup-restore", ["qlvb"], "2025-10-01", True)
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.status == "fail" and "older than 12 months" in text(ev)


def test_restore_drill_in_check_mode_is_no_evidence(ctx) -> None:
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, mode="check")
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.status == "missing" and "rehearsal only" in text(ev)


def test_restore_drill_failed(ctx) -> None:
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-09-01", False)
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.status == "fail" and "failed" in text(ev)


def test_restore_drill_needs_backup_policy(ctx, inv) -> None:
    stripped = inv.model_copy(update={"vms": tuple(v.model_copy(update={"backup_policy": None}) if v.system == "gis"
                                                   else v for v in inv.vms)})
    ctx.inventory = stripped
    drill_record(ctx, "backup-restore", ["gis"], "2026-06-02", True, vms=["gis-db-01"])
    ev = run(ctx, "backup-restore-drill", "gis")
    assert ev.status == "fail" and text(ev) == "The system's VMs have no backup policy"


@pytest.mark.parametrize("change,reason_en,reason_vi", [
    ({"kind": "lab"}, "ran in a lab", "phòng thí nghiệm"),
    ({"kind": "staging"}, "staging", "môi trường thử nghiệm"),
    ({"operator": None}, "no named operator", "không ghi tên người thực hiện"),
    ({"approver": None}, "no approver", "không có người phê duyệt"),
    ({"approver": OPERATOR}, "approved their own drill", "tự phê duyệt"),
    ({"sign": False}, "not signed", "chưa được ký"),
])
def test_a_rehearsal_or_an_unaccountable_record_is_missing_evidence(ctx, change, reason_en, reason_vi) -> None:
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, **change)
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.status == "missing", ev
    assert reason_en in text(ev) and reason_vi in text(ev, "vi") and text(ev, "vi").startswith("Biên bản")


def test_a_record_signed_by_someone_else_is_no_evidence(ctx, tmp_path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, key=other)
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert ev.status == "missing" and "signature is invalid" in text(ev)
    ctx2 = dataclasses.replace(ctx, allowed_signers=None)
    assert "no allowed-signers list" in text(run(ctx2, "backup-restore-drill", "qlvb"))


def test_partial_coverage_is_not_a_pass(ctx) -> None:
    drill_record(ctx, "backup-restore", ["mail"], "2026-06-02", True, vms=["mail-ldap-01"])
    ev = run(ctx, "backup-restore-drill", "mail")
    assert ev.status == "missing" and "cover 1/10 VMs" in text(ev) and "mail-mbox-01" in text(ev)


def test_edited_records_are_detected(ctx) -> None:
    from dcops.compliance.evidence import record_hash, record_problems

    def problems(path):
        return record_problems(dataclasses.replace(ctx), dict(json.loads(path.read_text()), _path=str(path)))

    first = drill_record(ctx, "backup-restore", ["qlvb"], "2026-05-02", False)
    second = drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", False)
    assert json.loads(second.read_text())["integrity"]["prev"] == json.loads(first.read_text())["integrity"]["hash"]
    assert problems(first) == problems(second) == []
    # 1. flip the verdict of the newest record: its hash no longer matches
    data = json.loads(second.read_text())
    data["verdict"], data["systems"] = "pass", [dict(e, verified=True) for e in data["systems"]]
    second.write_text(json.dumps(data))
    assert "hash_mismatch" in problems(second)
    assert run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb").status == "fail"  # the first still counts
    # 2. also recompute its hash: the operator's signature no longer verifies
    data["integrity"]["hash"] = record_hash(data)
    second.write_text(json.dumps(data))
    assert "bad_signature" in problems(second)
    # 3. rewrite the older record with a fresh hash: the newer one's link to it breaks
    old = json.loads(first.read_text())
    old["verdict"] = "pass"
    old["integrity"]["hash"] = record_hash(old)
    first.write_text(json.dumps(old))
    assert "bad_signature" in problems(first) and "chain_broken" in problems(second)
    # 4. remove it: the newer record names a predecessor that is gone
    first.unlink()
    assert "chain_broken" in problems(second)


def test_removing_the_newest_record_is_detected(ctx) -> None:
    """A failed drill deleted so that an older pass shows: the folder's CHAIN_HEAD names a missing record."""
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-05-02", True)
    assert run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb").status == "pass"
    failed = drill_record(ctx, "backup-restore", ["qlvb"], "2026-09-02", False)
    assert run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb").status == "fail"
    failed.unlink()
    ev = run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb")
    assert ev.status == "missing" and "chain is broken" in text(ev)


# ---------------------------------------------------------------- DR coverage

def test_dr_plan_missing(ctx) -> None:
    ev = run(ctx, "dr-coverage", "qlvb")
    assert ev.status == "missing" and "dcops plan --stack dr --json" in text(ev)


def test_dr_plan_from_the_cloud_program(ctx, tmp_path) -> None:
    """The real `dcops plan --stack dr --json` output is the evidence the collector reads."""
    res = CliRunner().invoke(app, ["plan", "--stack", "dr", "--json", str(ctx.dr_plan)])
    assert ctx.dr_plan.is_file(), res.output
    assert run(ctx, "dr-coverage", "qlvb").status == "pass"
    assert run(ctx, "dr-coverage", "gis").status == "fail"  # level 2, not a DR system


def test_dr_plan_covers_and_misses(ctx) -> None:
    ctx.dr_plan.write_text(json.dumps({"stack": "prod", "resources": []}))
    assert run(ctx, "dr-coverage", "qlvb").status == "missing"  # a prod plan is no DR evidence
    ctx = dataclasses.replace(ctx)
    ctx.dr_plan.write_text(json.dumps({"stack": "dr", "resources": [
        {"type": "openstack:compute/instance:Instance", "name": "qlvb-db-01",
         "inputs": {"metadata": {"system": "qlvb", "security_level": "3"}}},
        {"type": "openstack:networking/secGroup:SecGroup", "name": "sg-mail",
         "inputs": {"tags": ["system=mail"], "metadata": {"system": "mail"}}}]}))
    assert run(ctx, "dr-coverage", "qlvb").status == "pass"
    ev = run(ctx, "dr-coverage", "mail")
    assert ev.status == "fail" and text(ev) == "System NOT declared in the DR stack"


# ---------------------------------------------------------------- firewall policy

def write_policy(ctx: Context, filters: list[dict]) -> None:
    ctx.policy_dir.mkdir(parents=True, exist_ok=True)
    (ctx.policy_dir / "site.yaml").write_text(yaml.safe_dump({"filters": filters}))


ALLOW = {"header": {"zones": {"from": "app", "to": "db"}}, "terms": [{"name": "x", "protocol": "tcp", "action": "accept"}]}
WEB = {"header": {"zones": {"from": "public", "to": "dmz"}}, "terms": [{"name": "w", "action": "accept"}]}
DENY = {"header": {"zones": {"from": "any", "to": "any"}}, "terms": [{"name": "default-deny", "action": "deny"}]}


def test_firewall_policy_in_git_is_intent_not_evidence(ctx) -> None:
    write_policy(ctx, [ALLOW, WEB, DENY])
    ev = run(ctx, "firewall-default-deny", "qlvb")  # zones dmz, app, db: the intent is right …
    assert ev.status == "missing" and "not compared with the firewalls' running configuration" in text(ev)


def test_firewall_policy_without_default_deny(ctx) -> None:
    write_policy(ctx, [ALLOW, WEB])
    ev = run(ctx, "firewall-default-deny", "qlvb")
    assert ev.status == "fail" and "default-deny" in text(ev)


def test_firewall_policy_deny_that_matches_something_is_not_default(ctx) -> None:
    narrow = {"header": {"zones": {"from": "any", "to": "any"}},
              "terms": [{"name": "d", "protocol": "tcp", "action": "deny"}]}
    write_policy(ctx, [ALLOW, WEB, narrow])
    assert run(ctx, "firewall-default-deny", "qlvb").status == "fail"


def test_firewall_policy_zone_not_covered(ctx) -> None:
    write_policy(ctx, [ALLOW, DENY])
    ev = run(ctx, "firewall-default-deny", "qlvb")
    assert ev.status == "fail" and text(ev) == "Zones not covered by the policy: dmz"


def test_firewall_policy_missing(ctx) -> None:
    assert run(ctx, "firewall-default-deny", "qlvb").status == "missing"


def test_shipped_policy_closes_with_default_deny(inv) -> None:
    ctx = Context(inv, AS_OF, Path("/nonexistent"), Path("/nonexistent"), PROJECT_ROOT / "network_configs" / "policy",
                  PROJECT_ROOT / "monitors")
    ev = run(ctx, "firewall-default-deny", "portal")
    assert ev.status == "missing" and ev.message == "policy_intent_only"


# ---------------------------------------------------------------- monitoring

def write_monitors(ctx: Context, profiles: list[str], rules: list[str] | None) -> None:
    (ctx.monitors_dir / "profiles").mkdir(parents=True, exist_ok=True)
    for p in profiles:
        (ctx.monitors_dir / "profiles" / f"{p}.yaml").write_text("{}\n")
    if rules is not None:
        (ctx.monitors_dir / "alerts.yaml").write_text(yaml.safe_dump({"rules": [{"name": r} for r in rules]}))


def test_monitoring_configuration_is_not_operation(ctx, inv) -> None:
    polled = (*inv.facility, *inv.network_devices)  # monitoring is per system: its network path counts too
    write_monitors(ctx, sorted({d.snmp.profile for d in polled if d.snmp}), ["ups_on_battery"])
    ev = run(ctx, "monitoring", "qlvb")
    assert ev.status == "missing" and "no evidence that it runs" in text(ev)


def test_monitoring_gap(ctx) -> None:
    write_monitors(ctx, ["ups-rfc1628"], ["ups_on_battery"])
    ev = run(ctx, "monitoring", "qlvb")
    assert ev.status == "fail" and "kg-crac-01" in text(ev) and "kg-ups-01" not in text(ev)


def test_monitoring_missing(ctx) -> None:
    write_monitors(ctx, ["ups-rfc1628"], None)
    assert run(ctx, "monitoring", "qlvb").status == "missing"


# ---------------------------------------------------------------- the four layers

def with_protection(ctx: Context, system: str, **changes) -> None:
    inv = ctx.inventory
    systems = tuple(s.model_copy(update={"protection": s.protection.model_copy(update=changes)})
                    if s.name == system else s for s in inv.systems)
    ctx.inventory = inv.model_copy(update={"systems": systems})


@pytest.mark.parametrize("control,flag", [("layer1-self-protection", "owner_self_protection"),
                                          ("layer2-soc", "soc_monitoring"),
                                          ("layer4-national", "national_monitoring_connected")])
def test_layers_both_ways(ctx, control, flag) -> None:
    with_protection(ctx, "qlvb", **{flag: True})
    ev = run(ctx, control, "qlvb")  # the owner's own word is no evidence
    assert ev.status == "missing" and "no document or report" in text(ev) and "tự khai báo" in text(ev, "vi")
    with_protection(ctx, "qlvb", **{flag: False})
    ev = run(ctx, control, "qlvb")
    assert ev.status == "fail" and text(ev) == "Not in place"


def test_assessment_both_ways(ctx) -> None:
    with_protection(ctx, "qlvb", last_independent_assessment=dt.date(2026, 3, 2))
    ev = run(ctx, "layer3-assessment", "qlvb")
    assert ev.status == "missing" and "declared on 2026-03-02" in text(ev)
    with_protection(ctx, "qlvb", last_independent_assessment=dt.date(2025, 5, 18))
    ev = run(ctx, "layer3-assessment", "qlvb")
    assert ev.status == "fail" and "554 days ago" in text(ev)
    with_protection(ctx, "qlvb", last_independent_assessment=None)
    assert run(ctx, "layer3-assessment", "qlvb").status == "missing"


def test_incident_drill_both_ways(ctx) -> None:
    with_protection(ctx, "qlvb", last_incident_response_drill=dt.date(2026, 6, 20))
    ev = run(ctx, "incident-response-drill", "qlvb")
    assert ev.status == "missing" and "no drill record" in text(ev)
    with_protection(ctx, "qlvb", last_incident_response_drill=dt.date(2025, 12, 30))
    ev = run(ctx, "incident-response-drill", "qlvb")
    assert ev.status == "fail" and "none this year" in text(ev)
    with_protection(ctx, "qlvb", last_incident_response_drill=None)
    assert run(ctx, "incident-response-drill", "qlvb").status == "missing"


# ---------------------------------------------------------------- the whole assessment

def test_directive14_flags_2021(ctx) -> None:
    a = assess(ctx.inventory, ctx)
    b2021, b2026 = a.budgets
    # the 2021 plan reproduces the appendix of KH 195/KH-UBND line by line (27 lines, 5 sections)
    lines = next(b for b in ctx.inventory.budgets if b.year == 2021).lines
    assert len(lines) == 27 and lines[0].item.startswith("I.1 ") and lines[-1].amount_million_vnd == 737
    sections = {}
    for ln in lines:
        sec = ln.item.split(".")[0]
        sections[sec] = sections.get(sec, 0) + ln.amount_million_vnd
    assert sections == {"I": 1600, "II": 9453, "III": 1300, "IV": 1050, "V": 5597}
    assert (b2021.year, b2021.total, b2021.security) == (2021, 19000, 1050)
    assert b2021.source.startswith("Phụ lục Kế hoạch số 195/KH-UBND ngày 31/12/2020 của UBND tỉnh Kiên Giang")
    assert b2026.source is None
    assert round(100 * b2021.share, 1) == 5.5 and not b2021.ok
    assert b2026.ok
    assert not a.ok


def test_levels_decide_the_controls(ctx) -> None:
    a = assess(ctx.inventory, ctx)
    level1 = {f.control for f in a.for_system("du-lich")}
    level3 = {f.control for f in a.for_system("qlvb")}
    assert level1 == {"firewall-default-deny", "layer1-self-protection"}
    assert {"dr-coverage", "layer3-assessment", "layer4-national", "incident-response-drill"} <= level3


def test_missing_evidence_is_never_a_pass(ctx) -> None:
    a = assess(ctx.inventory, ctx)  # empty evidence folders
    artefacts = [f for f in a.findings
                 if f.control in ("backup-restore-drill", "dr-coverage", "firewall-default-deny", "monitoring",
                                  "dr-failover-drill")]
    levels = [s.security_level for s in ctx.inventory.systems]
    # every system has a firewall control, level ≥ 2 a restore drill and monitoring, level 3 DR coverage and a
    # DR failover drill
    assert len(artefacts) == len(levels) + 2 * (levels.count(2) + levels.count(3)) + 2 * levels.count(3)
    assert {f.evidence.status for f in artefacts} == {"missing"}
    assert a.ok is False and not [f for f in a.findings if f.evidence.status == "pass"]
    # nothing passes on the owner's declaration alone
    declared = [f for f in a.findings if f.evidence.source == "inventory/organisation.yaml"]
    assert len(declared) == len(a.findings) - len(artefacts)
    assert {f.evidence.status for f in declared} <= {"missing", "fail"} and len(declared) > 0


def test_english_report_keeps_english_numbers(tmp_path) -> None:
    from dcops.compliance.report import number
    assert (number(19000, "vi"), number(5.5, "vi", 1), number(1050, "en"), number(5.5, "en", 1)) == (
        "19.000", "5,5", "1,050", "5.5")


def test_cli_json_html_both_languages(tmp_path: Path) -> None:
    runner = CliRunner()
    html = tmp_path / "report.html"
    res = runner.invoke(app, ["compliance", "--json", "--as-of", "2026-11-23", "--html", str(html),
                              "--drills", str(tmp_path / "none"), "--dr-plan", str(tmp_path / "none.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["lang"] == "vi" and doc["directive14"][0]["ok"] is False
    qlvb = next(s for s in doc["systems"] if s["name"] == "qlvb")
    restore = next(c for c in qlvb["controls"] if c["id"] == "backup-restore-drill")
    assert restore["status"] == "missing" and restore["message"].startswith("Chưa có biên bản")
    page = html.read_text(encoding="utf-8")
    assert "Báo cáo tuân thủ" in page and "Chỉ thị 14/CT-TTg" in page
    assert "5,5 %" in page and "19.000" in page and "1.050" in page and "5.5 %" not in page
    # which lines count as security, traceable to the appendix of plan KH 195 (section IV)
    lines = doc["directive14"][0]["security_lines"]
    assert [(l["item"][:4], l["million_vnd"]) for l in lines] == [("IV.1", 50), ("IV.2", 1000)]
    assert "Đội ứng cứu sự cố" in page and "Thuê kiểm tra, đánh giá độc lập" in page
    assert "2021 (Phụ lục Kế hoạch số 195/KH-UBND ngày 31/12/2020 của UBND tỉnh Kiên Giang" in page
    assert doc["directive14_projects"]["status"] == "missing" and "từng dự án" in page
    res = runner.invoke(app, ["compliance", "--lang", "en", "--html", str(html), "--as-of", "2026-11-23"])
    assert res.exit_code == 0 and "Information-security compliance report" in html.read_text(encoding="utf-8")
    assert runner.invoke(app, ["compliance", "--lang", "fr"]).exit_code == 2
    # --strict turns findings into exit 3 (the assessment is not ok: `ok is False`, not merely falsy) …
    strict = runner.invoke(app, ["compliance", "--strict", "--json", "--as-of", "2026-11-23"])
    assert strict.exit_code == 3 and json.loads(strict.stdout)["ok"] is False
    # … and without it the same findings exit 0
    assert runner.invoke(app, ["compliance", "--json", "--as-of", "2026-11-23"]).exit_code == 0
