"""Directive 14/CT-TTg per project: every IT project spends ≥ 10 % of its cost on information security, unless
the owner already has the technical system or rents a dedicated security service (the directive's exception,
seed 003 § 5). budget.yaml `it_projects` states the projects; `dcops compliance` judges each one."""
import json
import shutil

import pytest
from typer.testing import CliRunner

import dcops
from dcops.cli import app
from dcops.model import load_inventory
from dcops.model.errors import InventoryInvalid

PROJECTS = """
it_projects:
  - name: "Nâng cấp Cổng dịch vụ công [giai đoạn 2]"
    owner: Sở TT&TT
    year: 2021
    decision: "QĐ 1234/QĐ-UBND ngày 10/5/2021"
    total_million_vnd: 5000
    security_million_vnd: 600
  - name: Hệ thống báo cáo tỉnh
    owner: Văn phòng UBND tỉnh
    year: 2021
    total_million_vnd: 4000
    security_million_vnd: 200
  - name: CSDL hộ kinh doanh
    owner: Sở KH&ĐT
    year: 2021
    total_million_vnd: 2000
    security_million_vnd: 60
    exemption:
      basis: security_service
      evidence: "Hợp đồng 12/2021/HĐ thuê dịch vụ giám sát an toàn thông tin"
"""


def _inventory(tmp_path, extra: str):
    inv = tmp_path / "inventory"
    shutil.copytree(dcops.DEFAULT_INVENTORY, inv)
    with open(inv / "budget.yaml", "a", encoding="utf-8") as f:
        f.write(extra)
    return inv


def _report(inv, *args):
    return CliRunner().invoke(app, ["compliance", "-i", str(inv), "--as-of", "2026-11-23", *args])


def test_each_project_is_judged_on_its_own_share_or_its_documented_exception(tmp_path):
    res = _report(_inventory(tmp_path, PROJECTS), "--json")
    doc = json.loads(res.stdout)
    d14 = doc["directive14_projects"]
    assert d14["status"] == "fail"
    assert d14["message"] == "1/3 dự án CNTT không đạt tỷ lệ tối thiểu và không có căn cứ loại trừ"
    assert [(p["name"], p["share"], p["status"], p["exemption"]) for p in d14["projects"]] == [
        ("CSDL hộ kinh doanh", 0.03, "exempt", "security_service"),
        ("Hệ thống báo cáo tỉnh", 0.05, "fail", None),
        ("Nâng cấp Cổng dịch vụ công [giai đoạn 2]", 0.12, "pass", None)]
    assert doc["ok"] is False  # a project below 10 % without the exception fails the whole assessment


def test_vietnamese_report_prints_each_project_with_vietnamese_numbers(tmp_path):
    res = _report(_inventory(tmp_path, PROJECTS))
    out = res.stdout
    assert "Không đạt: 5,0 % < 10 %" in out and "Đạt (≥ 10 %)" in out
    assert "Loại trừ (thuê dịch vụ bảo đảm an toàn thông tin chuyên biệt)" in out
    assert "Nâng cấp Cổng dịch vụ công [giai đoạn 2]" in out  # a bracket in a name is text, not markup
    assert "5.000" in out and "600" in out
    en = _report(_inventory(tmp_path / "en", PROJECTS), "--lang", "en").stdout
    assert "Fail: 5.0 % < 10 %" in en and "Exception (a dedicated security service is rented)" in en


def test_all_projects_in_order_pass(tmp_path):
    ok = PROJECTS.replace("security_million_vnd: 200", "security_million_vnd: 400")
    doc = json.loads(_report(_inventory(tmp_path, ok), "--json").stdout)
    assert (doc["directive14_projects"]["status"], doc["directive14_projects"]["message"]) == (
        "pass", "Cả 3 dự án CNTT đạt tỷ lệ tối thiểu hoặc thuộc trường hợp loại trừ có căn cứ")


def test_without_a_project_list_the_rule_is_unproven_not_passed():
    doc = json.loads(_report(dcops.DEFAULT_INVENTORY, "--json").stdout)
    assert doc["directive14_projects"]["status"] == "missing" and doc["directive14_projects"]["projects"] == []


def test_security_spend_above_the_total_is_an_error_at_its_line(tmp_path):
    bad = PROJECTS.replace("security_million_vnd: 600", "security_million_vnd: 6000")
    inv = _inventory(tmp_path, bad)
    with pytest.raises(InventoryInvalid) as e:
        load_inventory(inv)
    text = str(e.value)
    line = (inv / "budget.yaml").read_text(encoding="utf-8").splitlines().index("  - name: \"Nâng cấp Cổng dịch vụ công [giai đoạn 2]\"") + 1
    assert "budget.yaml" in text and "security_million_vnd 6000 is more than the project's total 5000" in text
    assert f":{line}" in text, text


def test_an_exception_without_its_document_is_refused(tmp_path):
    bad = PROJECTS.replace('      evidence: "Hợp đồng 12/2021/HĐ thuê dịch vụ giám sát an toàn thông tin"\n', "")
    with pytest.raises(InventoryInvalid, match="evidence"):
        load_inventory(_inventory(tmp_path, bad))
