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
