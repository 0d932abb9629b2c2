"""The newer evidence rules pinned (issue 20): incident-response drill records (which record decides, and
what it says), and the TCVN catalogue's own evidence (running firewall configuration, validation, the
clause a system is held to)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from .test_rules import AS_OF, ctx, drill_record, inv, run, signer, with_protection  # noqa: F401 — fixtures

SYSTEM = "qlvb"


def _ir(ctx, when: str, passed: bool = True, **kw):
    return drill_record(ctx, "incident-response", [SYSTEM], when, passed, vms=["qlvb-app-01"], **kw)


@pytest.mark.parametrize("older,newer,status,message", [(True, False, "fail", "incident_drill_failed"),
                                                          (False, True, "pass", "incident_drill_ok")])
def test_incident_drill_newest_valid_record_decides(ctx, older, newer, status, message):
    _ir(ctx, "2026-03-01", older)
    newest = _ir(ctx, "2026-09-01", newer)
    ev = run(ctx, "incident-response-drill", SYSTEM)
    assert (ev.status, ev.message, ev.args, ev.source) == (status, message, {"date": "2026-09-01"}, str(newest))


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


# ---------------------------------------------------------------- TCVN catalogue: the running firewall configuration
from dcops import PROJECT_ROOT  # noqa: E402
from dcops.compliance.catalogue import CatalogueContext, firewall_running  # noqa: E402

GOLDEN = PROJECT_ROOT / "network_configs" / "golden"
FIREWALLS = ("kg-fw-01", "kg-fw-02", "kg-fw-03", "kg-fw-04")
FW_CONTROL = {"id": "fw", "max_age_days": 30}


def _cctx(inv, tmp_path, golden=GOLDEN) -> CatalogueContext:  # noqa: F811
    return CatalogueContext(inv, AS_OF, tmp_path / "drills", tmp_path / "plan-dr.json",
                            PROJECT_ROOT / "network_configs" / "policy", PROJECT_ROOT / "monitors", None,
                            backups_dir=tmp_path / "backups", golden_dir=golden)


def _intended(device: str):
    return next(iter(sorted(GOLDEN.glob(f"{device}.*"))))


def _backup(c, device: str, when: str, text: str | None = None, ext: str | None = None):
    p = _intended(device)
    folder = c.backups_dir / device
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{when}T020000.000000Z.{ext or p.suffix[1:]}"
    path.write_text(p.read_text(encoding="utf-8") if text is None else text, encoding="utf-8")
    return path


def _all(c, when: str) -> None:
    for d in FIREWALLS:
        _backup(c, d, when)


def _fw(c):
    return firewall_running(c, c.inventory.system(SYSTEM), FW_CONTROL)


def test_firewall_running_passes_with_the_count_and_the_newest_date(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261101")
    _backup(c, "kg-fw-02", "20261120")
    _backup(c, "kg-fw-03", "20261110", _intended("kg-fw-03").read_text(encoding="utf-8").replace("\n", "  \n\n"))
    ev = _fw(c)
    assert (ev.status, ev.message, ev.args, ev.source) == ("pass", "firewall_match", {"count": 4, "date": "2026-11-20"},
                                                           str(c.backups_dir))


def test_firewall_running_a_backup_exactly_max_age_old_counts_and_one_day_older_does_not(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261024")       # 30 days before 2026-11-23
    assert _fw(c).status == "pass"
    c2 = _cctx(inv, tmp_path / "b")
    for device, when in zip(FIREWALLS, ("20261024", "20261023", "20261020", "20261023")):
        _backup(c2, device, when)
    ev = _fw(c2)
    assert (ev.status, ev.message, ev.args) == ("missing", "firewall_old",
                                                {"devices": "kg-fw-02, kg-fw-03, kg-fw-04", "date": "2026-10-23"})
    assert ev.source == str(c2.backups_dir / "kg-fw-02" / "20261023T020000.000000Z.conf")


def test_firewall_running_drift_names_every_drifted_device_and_the_first_backup(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261120")
    first = _backup(c, "kg-fw-02", "20261121", "hostname other\n")
    _backup(c, "kg-fw-04", "20261121", "<config/>\n")
    (c.backups_dir / "kg-fw-01").rename(c.backups_dir / "gone")           # a missing backup does not hide drift
    ev = _fw(c)
    assert (ev.status, ev.message, ev.args, ev.source) == (
        "fail", "firewall_drift", {"devices": "kg-fw-02, kg-fw-04", "backup": str(first)}, str(first))


def test_firewall_running_without_backups_names_the_devices_and_the_folder(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _backup(c, "kg-fw-03", "20261120")
    ev = _fw(c)
    assert (ev.status, ev.message, ev.args, ev.source) == (
        "missing", "firewall_no_backup", {"devices": "kg-fw-01, kg-fw-02, kg-fw-04", "dir": str(c.backups_dir)},
        str(c.backups_dir))


def test_firewall_running_ignores_hidden_undated_and_future_files(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261120")
    folder = c.backups_dir / "kg-fw-01"
    (folder / ".20261121T020000.000000Z.conf").write_text("partial", encoding="utf-8")   # a write in progress
    (folder / "latest.conf").write_text("no date in the name", encoding="utf-8")
    (folder / "20261124T020000.000000Z.conf").write_text("after the assessment date", encoding="utf-8")
    (folder / "sub").mkdir()
    assert (_fw(c).status, _fw(c).args) == ("pass", {"count": 4, "date": "2026-11-20"})


def test_firewall_running_without_intended_configurations_says_where_it_looked(inv, tmp_path):
    golden = tmp_path / "golden"
    golden.mkdir()
    c = _cctx(inv, tmp_path, golden)
    _all(c, "20261120")
    ev = _fw(c)
    assert (ev.status, ev.message, ev.args, ev.source) == (
        "missing", "firewall_no_intent", {"devices": ", ".join(FIREWALLS), "dir": str(golden)}, str(golden))
    c2 = _cctx(inv, tmp_path / "b", tmp_path / "no-such-dir")
    _all(c2, "20261120")
    assert _fw(c2).message == "firewall_no_intent"


def test_firewall_running_a_backup_in_another_format_is_foreign(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261120")
    nft = _backup(c, "kg-fw-03", "20261121", "table inet filter {}\n", "nft")
    ev = _fw(c)
    assert (ev.status, ev.message, ev.args, ev.source) == (
        "missing", "firewall_foreign", {"devices": "kg-fw-03", "backup": str(nft)}, str(nft))


def test_firewall_running_reasons_are_reported_in_order_no_backup_then_intent_then_foreign_then_old(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _backup(c, "kg-fw-01", "20261001")                                     # old
    _backup(c, "kg-fw-02", "20261120", "x", "nft")                         # foreign
    assert _fw(c).message == "firewall_no_backup"                          # fw-03, fw-04 have none
    _backup(c, "kg-fw-03", "20261120")
    _backup(c, "kg-fw-04", "20261120")
    assert _fw(c).message == "firewall_foreign"
    (c.backups_dir / "kg-fw-02" / "20261120T020000.000000Z.nft").unlink()
    _backup(c, "kg-fw-02", "20261120")
    assert _fw(c).message == "firewall_old"


def test_firewall_running_a_backup_taken_on_the_assessment_date_counts(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261123")
    assert (_fw(c).status, _fw(c).args) == ("pass", {"count": 4, "date": "2026-11-23"})


def test_firewall_running_a_backup_that_is_not_utf8_is_drift_not_a_crash(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261120")
    path = c.backups_dir / "kg-fw-01" / "20261121T020000.000000Z.conf"
    path.write_bytes(_intended("kg-fw-01").read_bytes() + b"set comment \xff\xfe\n")
    ev = _fw(c)
    assert (ev.status, ev.message, ev.args) == ("fail", "firewall_drift", {"devices": "kg-fw-01", "backup": str(path)})


def test_firewall_running_without_a_policy_is_the_policy_s_missing_evidence(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    c.policy_dir = tmp_path / "no-policy"
    _all(c, "20261120")
    ev = _fw(c)
    assert (ev.status, ev.message, ev.args, ev.source) == ("missing", "no_policy", {"dir": str(c.policy_dir)},
                                                           str(c.policy_dir))


def test_firewall_running_on_a_plain_context_reads_backups_here_and_the_shipped_intent(inv, tmp_path, monkeypatch):
    from dcops.compliance.evidence import Context
    monkeypatch.chdir(tmp_path)
    c = Context(inv, AS_OF, tmp_path / "drills", tmp_path / "plan-dr.json", PROJECT_ROOT / "network_configs" / "policy",
                PROJECT_ROOT / "monitors")
    ev = _fw(c)
    assert (ev.message, ev.args["dir"], ev.source) == ("firewall_no_backup", "backups", "backups")
    c.backups_dir = tmp_path / "backups"           # where _backup writes; Context itself has no such field
    _all(c, "20261120")
    del c.backups_dir
    assert (_fw(c).status, _fw(c).args) == ("pass", {"count": 4, "date": "2026-11-20"})


def test_the_tcvn_catalogue_is_read_as_utf8_whatever_the_locale():
    import subprocess
    import sys
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONPATH": str(PROJECT_ROOT),
           "PYTHONIOENCODING": "utf-8", **_mutant_under_test()}  # stdout only: files still open in the locale's encoding
    code = "from dcops.compliance.catalogue import load; print(load()['standard']['title']['vi'])"
    out = subprocess.run([sys.executable, "-X", "utf8=0", "-c", code], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-500:]
    assert out.stdout.decode("utf-8").strip() == ("Công nghệ thông tin — Các kỹ thuật an toàn — Yêu cầu cơ bản về "
                                                  "an toàn hệ thống thông tin theo cấp độ")


def test_firewall_running_without_managed_firewalls_is_missing(inv, tmp_path):
    stripped = inv.model_copy(update={"network_devices": tuple(d for d in inv.network_devices
                                                               if d.kind.value != "firewall")})
    c = _cctx(stripped, tmp_path)
    assert (_fw(c).status, _fw(c).message, _fw(c).args) == ("missing", "no_firewalls", {})


# ---------------------------------------------------------------- TCVN catalogue: validation names the entry
import copy  # noqa: E402

import yaml  # noqa: E402

from dcops.compliance.catalogue import CATALOGUE, CatalogueError, clause_at, load, validate  # noqa: E402

_RAW = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


_AT = next(i for i, c in enumerate(_RAW["controls"]) if c["id"] == "tcvn-policy")
_DROP = object()


def _changed(change: dict) -> dict:
    raw = copy.deepcopy(_RAW)
    raw["controls"][_AT].update(change)
    for k in [k for k, v in change.items() if v is _DROP]:
        del raw["controls"][_AT][k]
    return raw


def test_the_shipped_catalogue_has_no_error():
    assert validate(copy.deepcopy(_RAW)) == []


@pytest.mark.parametrize("change,error", [
    ({"id": _DROP}, "controls[0] ?: missing or duplicate id"),
    ({"id": ""}, "controls[0] : missing or duplicate id"),
    ({"id": "nd85-level-dossier"}, "controls[0] nd85-level-dossier: missing or duplicate id"),
    ({"min_level": 0}, "controls[0] tcvn-policy: min_level must be 1..5"),
    ({"min_level": 6}, "controls[0] tcvn-policy: min_level must be 1..5"),
    ({"min_level": "1"}, "controls[0] tcvn-policy: min_level must be 1..5"),
    ({"min_level": False}, "controls[0] tcvn-policy: min_level must be 1..5"),
    ({"group": None}, "controls[0] tcvn-policy: group must be one of decree85, management, technical"),
    ({"clause": None}, "controls[0] tcvn-policy: needs a clause or a ref"),
    ({"clause_confirmed": None}, "controls[0] tcvn-policy: clause_confirmed must be true or false"),
    ({"evidence_type": None}, "controls[0] tcvn-policy: unknown evidence_type None"),
    ({"collector": "nessus"}, "controls[0] tcvn-policy: unknown collector 'nessus'"),
    ({"collector": "layer"}, "controls[0] tcvn-policy: the layer collector needs `layer`"),
    ({"title": {"vi": "x"}}, "controls[0] tcvn-policy: title needs exactly vi and en texts (quote values with commas)"),
    ({"title": {"vi": "x", "en": ""}}, "controls[0] tcvn-policy: title needs exactly vi and en texts (quote values "
                                       "with commas)"),
    ({"title": None}, "controls[0] tcvn-policy: title needs exactly vi and en texts (quote values with commas)"),
    ({"topic": {"vi": "x", "en": 1}}, "controls[0] tcvn-policy: topic needs exactly vi and en texts (quote values "
                                      "with commas)"),
])
def test_each_catalogue_error_names_the_entry_and_the_rule(change, error):
    assert validate(_changed(change)) == [error.replace("controls[0]", f"controls[{_AT}]")]


@pytest.mark.parametrize("change", [{"min_level": 1}, {"min_level": 5}, {"topic": _DROP}, {"collector": None},
                                    {"clause": None, "ref": "Nghị định 85/2016/NĐ-CP, Điều 15"},
                                    {"collector": "layer", "layer": "soc_monitoring"}, {"clause_confirmed": False}])
def test_what_the_catalogue_allows(change):
    assert validate(_changed(change)) == []


@pytest.mark.parametrize("doc", [None, [], {"controls": {}}, {"no": "controls"}])
def test_a_catalogue_without_a_controls_list_is_one_error(doc):
    assert validate(doc) == ["no controls list"]


def test_an_unknown_evidence_type_when_the_catalogue_has_none():
    raw = copy.deepcopy(_RAW)
    raw["controls"] = raw["controls"][_AT:_AT + 1]
    del raw["evidence_types"]
    assert validate(raw) == ["controls[0] tcvn-policy: unknown evidence_type 'decision'"]


def test_loading_a_broken_catalogue_names_the_file_and_every_error(tmp_path):
    raw = copy.deepcopy(_RAW)
    raw["controls"][_AT]["min_level"] = 9
    raw["controls"][_AT + 1]["group"] = "x"
    path = tmp_path / "tcvn.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError) as e:
        load(path)
    assert str(e.value) == (f"{path}: controls[{_AT}] tcvn-policy: min_level must be 1..5; controls[{_AT + 1}] "
                            f"{_RAW['controls'][_AT + 1]['id']}: group must be one of decree85, management, technical")
    assert load()["controls"][_AT]["id"] == "tcvn-policy"


@pytest.mark.parametrize("control,level,offset,expected", [
    ({"clause": "5.1.1"}, 1, 4, "TCVN 11930:2017 5.1.1"),
    ({"clause": "5.2.10"}, 3, 4, "TCVN 11930:2017 7.2.10"),
    ({"clause": "5.1.1"}, 5, 4, "TCVN 11930:2017 9.1.1"),
    ({"clause": "5.1.1"}, 2, 3, "TCVN 11930:2017 5.1.1"),
    ({"clause": None, "ref": "Nghị định 85/2016/NĐ-CP, Điều 15"}, 3, 4, "Nghị định 85/2016/NĐ-CP, Điều 15"),
])
def test_the_clause_is_read_in_the_chapter_of_the_system_level(control, level, offset, expected):
    assert clause_at(control, level, offset) == expected
    if offset == 4:
        assert clause_at(control, level) == expected


# ---------------------------------------------------------------- TCVN catalogue: the view and its JSON
from dcops.compliance.catalogue import STATUSES, CatalogueView, SystemView, evaluate, evaluate_control  # noqa: E402
from dcops.compliance.assess import messages  # noqa: E402
from dcops.compliance.evidence import Evidence  # noqa: E402


def test_system_counts_are_exact_per_status(inv):
    qlvb = inv.system(SYSTEM)
    results = tuple(({"id": str(i)}, Evidence(s, "x")) for i, s in enumerate(["pass", "fail", "fail", "missing",
                                                                                "missing", "missing"]))
    assert SystemView(qlvb, results).counts() == {"pass": 1, "fail": 2, "missing": 3}
    assert SystemView(qlvb, ()).counts() == {s: 0 for s in STATUSES}


def test_a_control_without_collector_or_self_declared_says_which_evidence_is_needed(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    doc = load()
    policy = next(x for x in doc["controls"] if x["id"] == "tcvn-policy")
    ev = evaluate_control(c, inv.system(SYSTEM), policy)
    assert (ev.status, ev.message, ev.args, ev.source) == ("missing", "no_collector", {"evidence_type": "decision"}, None)
    view = CatalogueView("site", AS_OF, doc)
    assert view.message(ev, "en") == ("No dcops collector for this evidence; needed: Number and date of the decision "
                                      "or issued document")
    declared = dict(next(x for x in doc["controls"] if x.get("self_declared")), collector="dr_plan")
    c.dr_plan.write_text('{"stack": "dr", "resources": [{"type": "openstack:compute/instance:Instance", '
                         '"inputs": {"metadata": {"system": "qlvb"}}}]}', encoding="utf-8")
    ev = evaluate_control(c, inv.system(SYSTEM), declared)
    assert (ev.status, ev.message, ev.args, ev.source) == (
        "missing", "self_declared", {"evidence_type": declared["evidence_type"]}, str(c.dr_plan))
    assert view.message(ev, "vi") == ("Chủ quản tự khai báo, không phải bằng chứng; cần: "
                                      + doc["evidence_types"][declared["evidence_type"]]["vi"])


def test_messages_named_title_or_summary_are_the_assessment_s_not_the_catalogue_s():
    """The catalogue's own `title` and `summary` are page headings, not evidence messages."""
    view = CatalogueView("site", AS_OF, load())
    assert view.message(Evidence("missing", "title", {"site": "S"}), "en") == \
        "Information-security compliance report — S"
    assert view.message(Evidence("missing", "summary", {"passed": 1, "total": 2, "findings": 3}), "en") == \
        "1/2 controls pass; 3 findings to act on"
    assert view.words("en") is view.words("en")


def test_the_catalogue_json_has_exactly_these_fields(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    doc = load()
    d = evaluate(inv, c, doc, SYSTEM).as_dict("en")
    assert set(d) == {"standard", "site", "as_of", "lang", "controls_in_catalogue", "summary", "systems"}
    assert (d["standard"], d["site"], d["as_of"], d["lang"], d["controls_in_catalogue"]) == (
        "TCVN 11930:2017", inv.site.name, "2026-11-23", "en", 33)
    (s,) = d["systems"]
    assert set(s) == {"name", "display_name", "security_level", "applicable", "counts", "controls"}
    qlvb = inv.system(SYSTEM)
    assert (s["name"], s["display_name"], s["security_level"], s["applicable"]) == (
        "qlvb", qlvb.display_name, 3, 31)
    assert d["summary"] == {"systems": 1, "checks": 31, **s["counts"]} and sum(s["counts"].values()) == 31
    policy = next(x for x in s["controls"] if x["id"] == "tcvn-policy")
    assert policy == {
        "id": "tcvn-policy", "group": "management", "min_level": 1, "clause": "TCVN 11930:2017 7.1.1",
        "clause_confirmed": False, "title": "Information-security policy issued", "status": "missing",
        "status_text": messages()["en"]["missing"], "evidence_type": "decision",
        "evidence_needed": "Number and date of the decision or issued document", "collector": None,
        "self_declared": False, "message": ("No dcops collector for this evidence; needed: Number and date of the "
                                            "decision or issued document"), "source": None}
    declared = [x for x in s["controls"] if x["self_declared"]]
    assert len(declared) == 4 and all(x["self_declared"] is True for x in declared)
    assert {x["collector"] for x in s["controls"]} >= {None, "firewall_running"}


def test_a_confirmed_clause_is_confirmed_only_in_the_level_1_chapter_it_was_read_in(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    doc = load()
    d = evaluate(inv, c, doc).as_dict("en")
    by_level = {s["security_level"]: {x["id"]: x for x in s["controls"]} for s in d["systems"]}
    assert by_level[1]["tcvn-policy"]["clause_confirmed"] is True
    assert by_level[1]["tcvn-policy"]["clause"] == "TCVN 11930:2017 5.1.1"
    assert by_level[2]["tcvn-policy"]["clause_confirmed"] is False
    doc = copy.deepcopy(doc)
    ref = next(x for x in doc["controls"] if not x.get("clause"))     # a decree article: no chapter to move
    ref["clause_confirmed"] = True
    s3 = next(s for s in evaluate(inv, c, doc).as_dict("en")["systems"] if s["security_level"] == 3)
    shown = next(x for x in s3["controls"] if x["id"] == ref["id"])
    assert (shown["clause_confirmed"], shown["clause"]) == (True, ref["ref"])


def test_a_catalogue_without_a_chapter_offset_reads_level_plus_4(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    doc = copy.deepcopy(load())
    del doc["standard"]["chapter_offset"]
    s = evaluate(inv, c, doc, SYSTEM).as_dict("en")["systems"][0]
    assert next(x for x in s["controls"] if x["id"] == "tcvn-policy")["clause"] == "TCVN 11930:2017 7.1.1"


def test_systems_are_evaluated_highest_level_first_then_by_name(inv, tmp_path):
    view = evaluate(inv, _cctx(inv, tmp_path))
    order = [(sv.system.security_level, sv.system.name) for sv in view.systems]
    assert order == sorted(order, key=lambda t: (-t[0], t[1])) and len(order) == len(inv.systems)
    assert [sv.system.name for sv in evaluate(inv, _cctx(inv, tmp_path), only="gis").systems] == ["gis"]


def test_evaluate_uses_the_catalogue_it_is_given(inv, tmp_path):
    doc = copy.deepcopy(load())
    doc["controls"] = [x for x in doc["controls"] if x["id"] == "tcvn-policy"]
    (sv,) = evaluate(inv, _cctx(inv, tmp_path), doc, SYSTEM).systems
    assert [c["id"] for c, _ in sv.results] == ["tcvn-policy"]


def test_the_catalogue_s_chapter_offset_moves_every_clause(inv, tmp_path):
    doc = copy.deepcopy(load())
    doc["standard"]["chapter_offset"] = 3
    s = evaluate(inv, _cctx(inv, tmp_path), doc, SYSTEM).as_dict("en")["systems"][0]
    assert next(x for x in s["controls"] if x["id"] == "tcvn-policy")["clause"] == "TCVN 11930:2017 6.1.1"


# ---------------------------------------------------------------- where each finding points (the random-sample survivors)

def test_restore_drill_partial_lists_up_to_six_missing_vms_and_counts_the_rest(ctx):
    sso = sorted(v.name for v in ctx.inventory.vms_of_system("sso") if v.backup_policy)
    path = drill_record(ctx, "backup-restore", ["sso"], "2026-06-02", True, vms=sso[:1])
    ev = run(ctx, "backup-restore-drill", "sso")
    assert (ev.status, ev.message, ev.source) == ("missing", "restore_drill_partial", str(path))
    assert ev.args == {"covered": 1, "total": len(sso), "vms": ", ".join(sso[1:])}  # four: no "(+n)"
    qlvb = sorted(v.name for v in ctx.inventory.vms_of_system("qlvb") if v.backup_policy)
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-03", True, vms=qlvb[:8])
    ev = run(dataclasses.replace(ctx), "backup-restore-drill", "qlvb")
    assert ev.args["vms"] == ", ".join(qlvb[8:14]) + " (+1)"


def test_restore_drill_pass_cites_the_newest_record(ctx):
    drill_record(ctx, "backup-restore", ["qlvb"], "2026-05-02", True)
    one_vm = sorted(v.name for v in ctx.inventory.vms_of_system("qlvb") if v.backup_policy)[:1]
    newest = drill_record(ctx, "backup-restore", ["qlvb"], "2026-06-02", True, vms=one_vm)  # the rest: the older one
    ev = run(ctx, "backup-restore-drill", "qlvb")
    assert (ev.status, ev.args, ev.source) == ("pass", {"date": "2026-06-02"}, str(newest))


def test_dr_plan_missing_names_the_plan_file(ctx):
    ev = run(ctx, "dr-coverage", SYSTEM)
    assert (ev.status, ev.message, ev.args, ev.source) == ("missing", "no_dr_plan", {"path": str(ctx.dr_plan)},
                                                           str(ctx.dr_plan))


def test_dr_failover_findings_name_their_source(ctx):
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.args, ev.source) == ({"dir": str(ctx.drills_dir)}, str(ctx.drills_dir))
    ctx.dr_plan.write_text('{"stack": "dr", "resources": []}')
    ev = run(dataclasses.replace(ctx), "dr-failover-drill", SYSTEM)
    assert (ev.message, ev.args, ev.source) == ("dr_failover_not_in_dr", {}, str(ctx.dr_plan))


def test_dr_failover_failed_and_rehearsal_cite_the_record_and_its_date(ctx):
    lab = drill_record(ctx, "dr-failover", [SYSTEM], "2026-05-04", True, kind="lab", vms=["qlvb-db-01"])
    ev = run(ctx, "dr-failover-drill", SYSTEM)
    assert (ev.args, ev.source) == ({"date": "2026-05-04", "reasons": ("env_lab",)}, str(lab))
    failed = drill_record(ctx, "dr-failover", [SYSTEM], "2026-06-04", False, vms=["qlvb-db-01"])
    ev = run(dataclasses.replace(ctx), "dr-failover-drill", SYSTEM)
    assert (ev.message, ev.args, ev.source) == ("dr_failover_failed", {"date": "2026-06-04"}, str(failed))


def test_a_protection_layer_is_cited_at_the_line_of_its_own_flag(ctx):
    from dcops import DEFAULT_INVENTORY
    from dcops.model.loader import load_raw
    sources = load_raw(DEFAULT_INVENTORY).sources
    ev = run(dataclasses.replace(ctx, sources=sources), "layer1-self-protection", SYSTEM)
    assert ev.source == str(sources.at("systems", SYSTEM, "protection", "owner_self_protection"))
    assert ev.source != str(sources.at("systems", SYSTEM))


def test_firewall_running_takes_the_age_limit_from_the_control(inv, tmp_path):
    c = _cctx(inv, tmp_path)
    _all(c, "20261113")       # 10 days before 2026-11-23: inside the default 30, outside this control's 7
    ev = firewall_running(c, c.inventory.system(SYSTEM), dict(FW_CONTROL, max_age_days=7))
    assert (ev.status, ev.message) == ("missing", "firewall_old")
    assert ev.args == {"devices": ", ".join(FIREWALLS), "date": "2026-11-13"}


def test_firewall_running_reads_backups_as_utf8_whatever_the_locale(tmp_path):
    """The intended configurations carry Vietnamese text; a backup equal to them must match on a host whose
    locale is C (a NOC server with no LANG), not read as drift."""
    import subprocess
    import sys
    code = f"""
from pathlib import Path
from tests.compliance import test_evidence_pinned as t
from tests.compliance.test_rules import load_inventory
c = t._cctx(load_inventory(), Path({str(tmp_path)!r}))
t._all(c, "20261120")
ev = t._fw(c)
print(ev.status, ev.message)
"""
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONPATH": str(PROJECT_ROOT),
           **_mutant_under_test()}
    out = subprocess.run([sys.executable, "-X", "utf8=0", "-c", code], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-800:]
    assert out.stdout.decode().split() == ["pass", "firewall_match"]


def _mutant_under_test() -> dict:
    """The mutation bench (mutmut) names the active mutant in MUTANT_UNDER_TEST; a test that runs the product in
    a child process with a scrubbed environment passes it on, or the child runs the unmutated code."""
    import os
    return {k: v for k, v in os.environ.items() if k == "MUTANT_UNDER_TEST"}
