"""`dcops plan` as a user runs it (exit codes, one-line reasons, no partial files) and the scale generator."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from dcops.cli import app
from dcops.cloud.plan import dumps
from dcops.cloud.scale import generate
from dcops.model import validate

runner = CliRunner()


def test_plan_diff_markdown_from_saved_plans(prod, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(dumps(prod.plan), encoding="utf-8")
    plan = json.loads(dumps(prod.plan))
    plan["resources"] = [r for r in plan["resources"] if r["name"] != "yte-db-01-data-attach"]
    new = tmp_path / "new.json"
    new.write_text(dumps(plan), encoding="utf-8")
    out = tmp_path / "comment.md"
    r = runner.invoke(app, ["plan", "--diff", str(old), "--new", str(new), "--markdown", "-o", str(out)])
    assert r.exit_code == 0, r.output
    md = out.read_text(encoding="utf-8")
    assert "**0 to add, 0 to change, 1 to delete**" in md and "`yte-db-01-data-attach`" in md


def test_bad_inputs_fail_with_one_line_and_write_nothing(tmp_path):
    target = tmp_path / "plan.json"
    r = runner.invoke(app, ["plan", "--stack", "staging", "--json", str(target)])
    assert r.exit_code == 2 and "unknown stack 'staging'" in r.output
    bad = tmp_path / "old.json"
    bad.write_text("{not json", encoding="utf-8")
    r = runner.invoke(app, ["plan", "--diff", str(bad), "--json", str(target)])
    assert r.exit_code == 1 and "not JSON" in r.output
    bad.write_text('{"format": "other"}', encoding="utf-8")
    r = runner.invoke(app, ["plan", "--diff", str(bad)])
    assert r.exit_code == 1 and "not a dcops-plan/1 plan" in r.output
    r = runner.invoke(app, ["plan", "--markdown"])
    assert r.exit_code == 2 and "go with --diff" in r.output
    r = runner.invoke(app, ["plan", "--inventory", str(tmp_path / "missing"), "--json", str(target)])
    assert r.exit_code == 1 and "inventory invalid" in r.output
    assert not target.exists() and list(tmp_path.iterdir()) == [bad]


def test_policy_errors_exit_non_zero_but_still_write_the_plan(tmp_path):
    policy = tmp_path / "policy.yaml"
    from dcops.cloud.policy import DEFAULT_POLICY

    policy.write_text(DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        '- {from: [app], protocol: tcp, ports: "5432", service: postgresql}',
        '- {from: [internet], protocol: tcp, ports: "5432", service: postgresql}'), encoding="utf-8")
    target = tmp_path / "plan.json"
    r = runner.invoke(app, ["plan", "--policy", str(policy), "--json", str(target)])
    assert r.exit_code == 1
    assert "no-internet-admin-or-db" in r.output and "policy error(s) in the prod plan" in r.output
    plan = json.loads(target.read_text(encoding="utf-8"))
    assert [f["message"] for f in plan["findings"]] == ["sg-db: opens postgresql (5432/tcp) to 0.0.0.0/0"]


def test_scaled_inventory_is_valid_and_scaled(tmp_path, inv):
    inv_dir, policy = generate(tmp_path, 3)
    result = validate(inv_dir)
    assert result.ok, result.errors[:3]
    big = result.inventory
    assert len(big.vms) == 3 * len(inv.vms) and len(big.hosts) == 3 * len(inv.hosts)
    assert big.storage.san.usable_tb == 3 * inv.storage.san.usable_tb
    ups = [(f.name, f.battery_runtime_min) for f in inv.facility if f.kind.value == "ups"]
    assert [(f.name, f.battery_runtime_min) for f in big.facility if f.kind.value == "ups"] == \
        [(n, 3 * m) for n, m in ups]  # the UPS grows with the site: its shutdown plan still fits
    assert big.vm("portal-db-01-r2").ha_group == "portal-db-r2"
    assert "10.66.0.254" in policy.read_text(encoding="utf-8")  # the router's DMZ address moved with its zone


def test_first_plan_against_an_empty_base_fits_a_pull_request_comment(prod):
    from dcops.cloud import diff as plandiff

    empty = {"format": "dcops-plan/1", "stack": "prod", "resources": [], "findings": []}
    md = plandiff.render_markdown(plandiff.diff(empty, prod.plan))
    assert f"**{prod.plan['summary']['resources']} to add, 0 to change, 0 to delete**" in md
    assert len(md) < 65536 and "more added (see the plan artifacts)" in md


def test_secrets_are_redacted_and_plain_text_secrets_refused(tmp_path, inv):
    from dcops.cloud.offline import StackConfigInvalid
    from dcops.cloud.runner import make_plan

    stack = (tmp_path / "Pulumi.prod.yaml")
    stack.write_text("config:\n  dcops:scope: site\n  openstack:userName: dcops-deployer\n"
                     "  openstack:password:\n    secure: v1:c2VjcmV0LWNpcGhlcnRleHQ=\n", encoding="utf-8")
    plan = make_plan("prod", inv=inv, root=tmp_path).plan
    admin = next(r for r in plan["resources"] if r["name"] == "admin")
    assert admin["inputs"] == {"password": "[secret]", "userName": "dcops-deployer"}
    tenant = next(r for r in plan["resources"] if r["name"] == "tenant-so-yt")
    assert tenant["inputs"]["password"] == "[secret]" and tenant["inputs"]["tenantName"] == "so-yt"
    assert "c2VjcmV0" not in dumps(plan)
    stack.write_text("config:\n  openstack:password: hunter2\n", encoding="utf-8")
    import pytest

    with pytest.raises(StackConfigInvalid, match="openstack:password is in plain text"):
        make_plan("prod", inv=inv, root=tmp_path)


def test_offline_run_leaves_the_callers_event_loop_and_pulumi_state_alone():
    import asyncio
    import threading

    import pulumi

    from dcops.cloud.offline import run_offline

    seen = {}

    def caller():  # a thread of its own, so this test does not touch pytest's event-loop state either
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        def program():
            pulumi.ComponentResource("dcops:test:Thing", "thing", {"tenant": "t"})
            return pulumi.Config("dcops").get("scope")

        try:
            recorded, value = run_offline(program, stack="t", config={"dcops:scope": "dr"})
            seen.update(value=value, names=[r.name for r in recorded], same_loop=asyncio.get_event_loop() is loop,
                        leaked=pulumi.Config("dcops").get("scope"))
        finally:
            loop.close()

    t = threading.Thread(target=caller)
    t.start()
    t.join()
    assert seen == {"value": "dr", "names": ["thing"], "same_loop": True, "leaked": None}
