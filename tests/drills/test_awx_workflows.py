"""AWX workflows for the drills that run two playbooks (awx/workflows/*.yml): each file is the arguments of the
awx.awx collection's workflow_job_template module, checked against that module's documented options as the
collection installed from the PyPI `ansible` bundle states them (ansible 12.3.0: awx.awx 24.6.1), not a copy."""
import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from dcops import PROJECT_ROOT

WORKFLOWS = sorted((PROJECT_ROOT / "awx" / "workflows").glob("*.yml"))
TYPES = {"str": str, "bool": bool, "int": int, "dict": dict, "list": list}


def module_options(name: str) -> dict:
    """The documented options of awx.awx's module `name` (its DOCUMENTATION block)."""
    spec = importlib.util.find_spec("ansible_collections.awx.awx")
    assert spec is not None, "the awx.awx collection is not installed (pip install ansible: the PyPI bundle)"
    path = Path(next(iter(spec.submodule_search_locations))) / "plugins" / "modules" / f"{name}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
               and getattr(n.targets[0], "id", "") == "DOCUMENTATION")
    return yaml.safe_load(doc)["options"]


def problems(value: dict, options: dict, where: str = "") -> list[str]:
    """What in `value` the documented `options` do not allow: unknown keys, missing required ones, wrong types,
    values outside `choices`, recursively through suboptions."""
    out = []
    aliases = {a: k for k, o in options.items() for a in o.get("aliases") or []}
    for key in value:
        if key not in options and key not in aliases:
            out.append(f"{where}{key}: not an option of the module")
    for key, opt in options.items():
        names = [key, *(opt.get("aliases") or [])]
        present = [n for n in names if n in value]
        if not present:
            if opt.get("required"):
                out.append(f"{where}{key}: required")
            continue
        v = value[present[0]]
        t = opt.get("type", "str")
        if t in TYPES and not isinstance(v, TYPES[t]):
            out.append(f"{where}{key}: {type(v).__name__}, the module takes {t}")
            continue
        if "choices" in opt and v not in opt["choices"]:
            out.append(f"{where}{key}: {v!r} not one of {opt['choices']}")
        sub = opt.get("suboptions")
        if sub and t == "dict":
            out += problems(v, sub, f"{where}{key}.")
        elif sub and t == "list":
            for i, item in enumerate(v):
                if not isinstance(item, dict):
                    out.append(f"{where}{key}[{i}]: {type(item).__name__}, the module takes dict")
                else:
                    out += problems(item, sub, f"{where}{key}[{i}].")
    return out


def test_there_is_a_workflow_for_the_two_playbook_firewall_restore():
    assert [p.name for p in WORKFLOWS] == ["firewall-restore.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_is_valid_for_the_workflow_job_template_module(path):
    wf = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert problems(wf, module_options("workflow_job_template")) == []
    # the graph: every link names a node of the workflow, and the record is built once, by the last node
    ids = [n["identifier"] for n in wf["workflow_nodes"]]
    kinds = ("success_nodes", "failure_nodes", "always_nodes")
    links = {x["identifier"] for n in wf["workflow_nodes"] for kind in kinds for x in n["related"][kind]}
    assert links <= set(ids) and len(ids) == len(set(ids))
    record = [n for n in wf["workflow_nodes"] if n["unified_job_template"]["name"] == "dcops drill record"]
    assert [n["identifier"] for n in record] == [ids[-1]] and not any(record[0]["related"][k] for k in (
        "success_nodes", "failure_nodes", "always_nodes"))
    assert wf["extra_vars"]["dcops_drill_workflow"] == path.stem


@pytest.mark.parametrize("change, want", [
    # `schema` is the documented alias of workflow_nodes
    ({"schema": [{"unified_job_template": {"name": "x"}}]}, ["workflow_nodes[0].identifier: required"]),
    ({"state": "enabled"}, ["state: 'enabled' not one of ['present', 'absent', 'exists']"]),
    ({"playbook": "drills/firewall-restore.yml"}, ["playbook: not an option of the module"]),
    ({"extra_vars": "dcops_drill_workflow=firewall-restore"}, ["extra_vars: str, the module takes dict"]),
    ({"workflow_nodes": [{"identifier": "a", "job_type": "execute"}]},
     ["workflow_nodes[0].job_type: 'execute' not one of ['run', 'check']"]),
])
def test_the_check_refuses_what_the_module_would(change, want):
    assert problems({"name": "w", **change}, module_options("workflow_job_template")) == want
