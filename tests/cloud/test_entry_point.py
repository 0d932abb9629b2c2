"""infra/__main__.py and Pulumi.yaml as the Pulumi CLI uses them: the entry point runs the same program."""
from __future__ import annotations

import runpy

from ruamel.yaml import YAML

from dcops import PROJECT_ROOT
from dcops.cloud.offline import load_stack_config, run_offline


def test_pulumi_yaml_runs_infra_in_the_project_virtualenv():
    doc = YAML(typ="safe").load((PROJECT_ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert doc["main"] == "infra/" and doc["runtime"]["name"] == "python"
    assert doc["runtime"]["options"]["virtualenv"] == ".venv"
    assert (PROJECT_ROOT / "infra" / "__main__.py").is_file()


def test_infra_main_registers_the_same_resources_as_dcops_plan(prod):
    """What `pulumi preview` executes (the file, by path, as __main__), under the mock monitor."""
    config, secrets = load_stack_config("prod")
    recorded, _ = run_offline(lambda: runpy.run_path(str(PROJECT_ROOT / "infra" / "__main__.py"), run_name="__main__"),
                              stack="prod", config=config, secret_keys=secrets)
    assert sorted((r.type, r.name) for r in recorded) == sorted((r.type, r.name) for r in prod.recorded)


def test_the_entry_point_runs_in_the_virtualenv_pulumi_yaml_names_with_nothing_from_the_checkout(prod):
    """The CLI starts Pulumi.yaml's `virtualenv` interpreter on infra/__main__.py: in a process of its own,
    isolated (-I: no PYTHONPATH, no user site, no current folder on sys.path), the program must import and
    declare the same resources from what that virtualenv has installed (dcops and the locked packages)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    doc = YAML(typ="safe").load((PROJECT_ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    python = PROJECT_ROOT / doc["runtime"]["options"]["virtualenv"] / "bin" / "python"
    python = python if python.exists() else Path(sys.executable)   # a checkout tested from another venv
    code = ("import json, runpy, sys\n"
            "from dcops.cloud.offline import load_stack_config, run_offline\n"
            "config, secrets = load_stack_config('prod')\n"
            "rec, _ = run_offline(lambda: runpy.run_path(sys.argv[1], run_name='__main__'), stack='prod',\n"
            "                     config=config, secret_keys=secrets)\n"
            "print(json.dumps(sorted([r.type, r.name] for r in rec)))\n")
    out = subprocess.run([str(python), "-I", "-c", code, str(PROJECT_ROOT / "infra" / "__main__.py")],
                         cwd=PROJECT_ROOT / "infra", capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == sorted([r.type, r.name] for r in prod.recorded)
