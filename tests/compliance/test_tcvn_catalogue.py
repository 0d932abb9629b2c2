"""The TCVN 11930:2017 / Decree 85/2016 catalogue: it validates, applies by level, never passes on a declaration,
takes the backup clause only from a production drill and the firewall clause only from the running config."""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dcops import PROJECT_ROOT
from dcops.cli import app
from dcops.compliance.catalogue import (CATALOGUE, CATALOGUE_COLLECTORS, CatalogueContext, evaluate,
                                        evaluate_control, load, validate)
from dcops.model import load_inventory
from dcops.net import backup as net_backup
from tests.inventory_facts import count

from .test_rules import APPROVER, OPERATOR, drill_record, signer  # noqa: F401  (signer is a fixture)

AS_OF = dt.date(2026, 11, 23)
GOLDEN = PROJECT_ROOT / "network_configs" / "golden"
FIREWALLS = ("kg-fw-01", "kg-fw-02", "kg-fw-03", "kg-fw-04")


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


@pytest.fixture(scope="module")
def doc():
    return load()


@pytest.fixture
def ctx(inv, tmp_path: Path, signer) -> CatalogueContext:  # noqa: F811
    return CatalogueContext(inv, AS_OF, tmp_path / "drills", tmp_path / "plan-dr.json",
                            PROJECT_ROOT / "network_configs" / "policy", PROJECT_ROOT / "monitors", signer[1],
                            backups_dir=tmp_path / "backups", golden_dir=GOLDEN)


def control(doc, cid: str) -> dict:
    return next(c for c in doc["controls"] if c["id"] == cid)


# ---------------------------------------------------------------- the catalogue itself

def test_catalogue_validates(doc) -> None:
    raw = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    assert validate(raw) == []
    ids = [c["id"] for c in doc["controls"]]
    assert len(ids) == len(set(ids)) == 33
    assert {c["min_level"] for c in doc["controls"]} == {1, 2, 3, 4, 5}
    assert {c["evidence_type"] for c in doc["controls"]} <= set(doc["evidence_types"])
    assert {c["collector"] for c in doc["controls"] if c["collector"]} <= set(CATALOGUE_COLLECTORS)
    # every topic the issue names is mapped
    topics = {c["topic"]["vi"] for c in doc["controls"] if "topic" in c}
    for word in ("chính sách", "Tổ chức", "nguồn nhân lực", "thiết kế", "sự cố", "sao lưu", "nhật ký",
                 "thay đổi", "lỗ hổng", "an toàn mạng", "máy chủ", "ứng dụng", "dữ liệu"):
        assert any(word in t for t in topics), word
    assert {c["ref"] for c in doc["controls"] if c["group"] == "decree85"} == {
        "Nghị định 85/2016/NĐ-CP, Điều 15", "Nghị định 85/2016/NĐ-CP, Điều 16",
        "Nghị định 85/2016/NĐ-CP, Điều 12, 17"}
    # only the level-1 management headings were read in the standard's table of contents
    assert sorted(c["clause"] for c in doc["controls"] if c["clause_confirmed"]) == [
        "5.1.1", "5.1.2", "5.1.2", "5.1.3", "5.1.4"]


@pytest.mark.parametrize("change,error", [
    (lambda d: d["controls"].append(copy.deepcopy(d["controls"][0])), "missing or duplicate id"),
    (lambda d: d["controls"][0].update(min_level=6), "min_level must be 1..5"),
    (lambda d: d["controls"][0].update(min_level=True), "min_level must be 1..5"),
    (lambda d: d["controls"][0].update(evidence_type="photo"), "unknown evidence_type 'photo'"),
    (lambda d: d["controls"][0].update(collector="nessus"), "unknown collector 'nessus'"),
    (lambda d: d["controls"][0].update(clause_confirmed="yes"), "clause_confirmed must be true or false"),
    (lambda d: d["controls"][0].update(group="physical"), "group must be one of"),
    (lambda d: d["controls"][3].update(title=yaml.safe_load("{vi: Quy chế, chính sách, en: Policy}")),
     "title needs exactly vi and en"),
])
def test_a_broken_catalogue_is_refused(change, error) -> None:
    raw = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    change(raw)
    errors = validate(raw)
    assert len(errors) == 1 and error in errors[0], errors


# ---------------------------------------------------------------- levels

def test_a_level3_system_gets_exactly_the_clauses_up_to_level3(inv, ctx, doc) -> None:
    view = evaluate(inv, ctx, doc)
    by_name = {sv.system.name: sv for sv in view.systems}
    expected = {lvl: {c["id"] for c in doc["controls"] if c["min_level"] <= lvl} for lvl in (1, 2, 3)}
    assert (len(expected[1]), len(expected[2]), len(expected[3])) == (11, 22, 31)
    assert {c["id"] for c, _ in by_name["qlvb"].results} == expected[3]
    assert {c["id"] for c, _ in by_name["gis"].results} == expected[2]
    assert {c["id"] for c, _ in by_name["du-lich"].results} == expected[1]
    # the level-4 and level-5 controls apply to nobody here
    assert not any(c["min_level"] > 3 for sv in view.systems for c, _ in sv.results)
    shown = next(c for c in view.as_dict()["systems"] if c["name"] == "qlvb")["controls"]
    policy = next(c for c in shown if c["id"] == "tcvn-policy")
    assert (policy["clause"], policy["clause_confirmed"]) == ("TCVN 11930:2017 7.1.1", False)


# ---------------------------------------------------------------- honesty

def test_nothing_passes_without_evidence(inv, ctx, doc) -> None:
    view = evaluate(inv, ctx, doc)  # empty drills, no DR plan, no backups
    statuses = {ev.status for sv in view.systems for _, ev in sv.results}
    assert statuses == {"missing", "fail"}
    uncollected = [(c, ev) for sv in view.systems for c, ev in sv.results if c["collector"] is None]
    assert uncollected and all(ev.status == "missing" and ev.message == "no_collector" for _, ev in uncollected)


def test_a_self_declared_control_is_never_a_pass(inv, ctx, doc) -> None:
    # the owner declares everything in place and recent …
    systems = tuple(s.model_copy(update={"protection": s.protection.model_copy(update={
        "owner_self_protection": True, "soc_monitoring": True, "national_monitoring_connected": True,
        "last_independent_assessment": dt.date(2026, 10, 1), "last_incident_response_drill": dt.date(2026, 10, 2)})})
        if s.name == "qlvb" else s for s in inv.systems)
    ctx.inventory = inv.model_copy(update={"systems": systems})
    qlvb = ctx.inventory.system("qlvb")
    declared = [c for c in doc["controls"] if c.get("self_declared")]
    assert len(declared) == 4
    assert {evaluate_control(ctx, qlvb, c).status for c in declared} == {"missing"}
    # … and even a collector that would pass is capped when its control is a declaration
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True)
    as_declared = dict(control(doc, "tcvn-ops-backup-restore"), self_declared=True)
    assert evaluate_control(ctx, qlvb, control(doc, "tcvn-ops-backup-restore")).status == "pass"
    ev = evaluate_control(ctx, qlvb, as_declared)
    assert (ev.status, ev.message) == ("missing", "self_declared")
    # the incident-response drill is evidenced by drill records now, and a declared date alone stays missing
    assert evaluate_control(ctx, qlvb, control(doc, "tcvn-ops-incident-drill")).status == "missing"


@pytest.mark.parametrize("kind,status", [("production", "pass"), ("lab", "missing")])
def test_backup_clause_passes_on_a_production_restore_drill_only(inv, ctx, doc, kind, status) -> None:
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, kind=kind)
    view = evaluate(inv, ctx, doc, "qlvb")
    results = {c["id"]: ev for c, ev in view.systems[0].results}
    assert results["tcvn-ops-backup-restore"].status == status
    assert results["tcvn-data-backup"].status == status
    if kind == "lab":
        text = view.message(results["tcvn-ops-backup-restore"], "vi")
        assert "phòng thí nghiệm" in text


# ---------------------------------------------------------------- firewall: running config vs intent

def back_up(ctx, device: str, text: str, ext: str, when: str | None = None) -> Path:
    path = net_backup.save(ctx.backups_dir, device, text, ext)
    if when:  # a backup taken on another day keeps the writer's name format
        path = path.rename(path.with_name(f"{when}T020000.000000Z.{ext}"))
    return path


def intended(device: str) -> Path:
    return next(p for p in sorted(GOLDEN.glob(f"{device}.*")))


def back_up_all_as_intended(ctx, when: str) -> None:
    for fw in FIREWALLS:
        p = intended(fw)
        back_up(ctx, fw, p.read_text(encoding="utf-8") + "\n\n", p.suffix[1:], when)  # blank lines are no drift


def fw(ctx, doc):
    return evaluate_control(ctx, ctx.inventory.system("qlvb"), control(doc, "tcvn-net-segmentation"))


def test_firewall_without_backups_is_missing_not_intent(ctx, doc) -> None:
    ev = fw(ctx, doc)
    assert (ev.status, ev.message) == ("missing", "firewall_no_backup")
    assert ev.args["devices"] == ", ".join(FIREWALLS)


def test_firewall_running_config_matching_intent_passes(ctx, doc) -> None:
    back_up_all_as_intended(ctx, "20261120")
    ev = fw(ctx, doc)
    assert (ev.status, ev.args) == ("pass", {"count": 4, "date": "2026-11-20"})


def test_firewall_drift_fails(ctx, doc) -> None:
    back_up_all_as_intended(ctx, "20261120")
    p = intended("kg-fw-03")
    back_up(ctx, "kg-fw-03", p.read_text(encoding="utf-8").replace("deny", "allow", 1), p.suffix[1:], "20261121")
    ev = fw(ctx, doc)
    assert (ev.status, ev.message, ev.args["devices"]) == ("fail", "firewall_drift", "kg-fw-03")


def test_firewall_lab_stand_in_and_old_backups_are_missing(ctx, doc) -> None:
    back_up_all_as_intended(ctx, "20261120")
    back_up(ctx, "kg-fw-01", "table inet filter {}\n", "nft", "20261122")  # the lab's Linux stand-in
    ev = fw(ctx, doc)
    assert (ev.status, ev.message, ev.args["devices"]) == ("missing", "firewall_foreign", "kg-fw-01")
    shutil.rmtree(ctx.backups_dir)
    back_up_all_as_intended(ctx, "20261001")  # older than the control's 30 days
    ev = fw(ctx, doc)
    assert (ev.status, ev.message) == ("missing", "firewall_old")
    # a backup dated after the assessment date is not read
    shutil.rmtree(ctx.backups_dir)
    back_up_all_as_intended(ctx, "20261125")
    assert fw(ctx, doc).message == "firewall_no_backup"


def test_firewall_intent_without_default_deny_fails_before_any_backup(ctx, doc, tmp_path) -> None:
    ctx.policy_dir = tmp_path / "policy"
    ctx.policy_dir.mkdir()
    (ctx.policy_dir / "site.yaml").write_text(yaml.safe_dump({"filters": [
        {"header": {"zones": {"from": "app", "to": "db"}}, "terms": [{"name": "x", "action": "accept"}]}]}))
    back_up_all_as_intended(ctx, "20261120")
    assert (fw(ctx, doc).status, fw(ctx, doc).message) == ("fail", "policy_no_default_deny")


# ---------------------------------------------------------------- CLI

def cli(*args):
    return CliRunner().invoke(app, ["compliance", "catalogue", "--as-of", "2026-11-23", *args])


def test_cli_json_counts_are_exact(ctx) -> None:
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True)
    back_up_all_as_intended(ctx, "20261120")
    ctx.dr_plan.write_text(json.dumps({"stack": "dr", "resources": [
        {"type": "openstack:compute/instance:Instance", "name": "qlvb-db-01",
         "inputs": {"metadata": {"system": "qlvb"}}}]}))
    common = ["--drills", str(ctx.drills_dir), "--dr-plan", str(ctx.dr_plan), "--backups", str(ctx.backups_dir),
              "--allowed-signers", str(ctx.allowed_signers)]
    res = cli("--json", "--system", "qlvb", *common)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (qlvb,) = doc["systems"]
    assert (qlvb["name"], qlvb["security_level"], qlvb["applicable"]) == ("qlvb", 3, 31)
    passed = sorted(c["id"] for c in qlvb["controls"] if c["status"] == "pass")
    assert passed == ["tcvn-data-backup", "tcvn-net-segmentation", "tcvn-ops-backup-restore", "tcvn-ops-dr"]
    failed = sorted(c["id"] for c in qlvb["controls"] if c["status"] == "fail")
    assert qlvb["counts"] == {"pass": 4, "fail": len(failed), "missing": 31 - 4 - len(failed)}
    assert doc["summary"] == {"systems": 1, "checks": 31, **qlvb["counts"]}
    assert {c["status_text"] for c in qlvb["controls"]} <= {"Đạt", "Không đạt", "Thiếu bằng chứng"}
    # the whole site
    everything = json.loads(cli("--json", *common).stdout)
    assert everything["summary"]["systems"] == count("systems") and everything["summary"]["checks"] == sum(
        s["applicable"] for s in everything["systems"])


def test_cli_vietnamese_has_no_english_status_words(tmp_path) -> None:
    res = cli("--system", "qlvb", "--drills", str(tmp_path / "none"), "--backups", str(tmp_path / "none"))
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "Thiếu bằng chứng" in out and "cấp độ 3: 31 yêu cầu áp dụng; Đạt 0 (0,0 %)" in out
    assert not re.search(r"\b(pass|fail|missing|Pass|Fail|Evidence missing|PASS|FAIL)\b", out), out
    en = cli("--system", "qlvb", "--lang", "en", "--drills", str(tmp_path / "none"))
    assert en.exit_code == 0 and "level 3: 31 applicable controls; pass 0 (0.0 %)" in en.stdout
    assert "Evidence missing" in en.stdout and "Thiếu bằng chứng" not in en.stdout


def test_cli_refuses_bad_input() -> None:
    assert cli("--system", "nope").exit_code == 2
    assert cli("--lang", "fr").exit_code == 2
    assert CliRunner().invoke(app, ["compliance", "catalogue", "--as-of", "23/11/2026"]).exit_code == 2


def test_the_existing_report_still_runs_beside_the_catalogue(tmp_path) -> None:
    res = CliRunner().invoke(app, ["compliance", "--json", "--as-of", "2026-11-23", "--drills", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["summary"]["systems"] == count("systems")


def test_piped_catalogue_keeps_every_clause_and_title_whole(tmp_path) -> None:
    """`dcops compliance catalogue | grep …` sees each control on one line, as the report's table does."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TERM")}
    args = [sys.executable, "-m", "dcops.cli", "compliance", "catalogue", "--system", "gis", "--as-of", "2026-11-23",
            "--drills", str(tmp_path)]
    table = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    doc = json.loads(subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, timeout=120,
                                    stdin=subprocess.DEVNULL).stdout)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "…" not in table.stdout
    (gis,) = doc["systems"]
    assert len(gis["controls"]) == 22
    for c in gis["controls"]:
        assert any(c["clause"] in line and c["title"] in line and c["status_text"] in line for line in lines), c
