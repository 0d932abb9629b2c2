"""`dcops plan`: the cloud plan offline, and its diff for pull-request review."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from dcops.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True, soft_wrap=True)


def _fail(msg: str, code: int = 1, verb: str = "plan"):
    err.print(f"dcops {verb}: {msg}", markup=False, highlight=False)
    raise typer.Exit(code)


def _print_plan(plan: dict) -> None:
    s = plan["summary"]
    out.print(f"[bold]Cloud plan[/] — stack [cyan]{plan['stack']}[/] (scope {plan['scope']}), site {plan['site']}: "
              f"[bold]{s['resources']}[/] resources in {s['components']} components, "
              f"{len(plan['systems'])} systems")
    t = Table(title="By resource type", show_edge=False)
    t.add_column("type")
    t.add_column("count", justify="right")
    for k, v in s["by_type"].items():
        t.add_row(k, str(v))
    out.print(t)
    t = Table(title="By tenant", show_edge=False)
    t.add_column("tenant")
    t.add_column("resources", justify="right")
    for k, v in s["by_tenant"].items():
        t.add_row(k, str(v))
    out.print(t)
    _print_notes(plan)


def _print_notes(plan: dict) -> None:
    style = {"error": "bold red", "warning": "yellow", "info": "dim"}
    for n in plan["notes"]:
        out.print(f"[{style[n['severity']]}]{n['severity']}[/] {n['code']} {n['subject']}: {n['message']}",
                  highlight=False)
    for f in plan["findings"]:
        out.print(f"[{style.get(f['severity'], 'red')}]{f['severity']}[/] {f['check']} {f['subject']}: "
                  f"{f['message']}", highlight=False)
    if not plan["findings"]:
        out.print("[green]policy checks passed[/]")


def _errors(plan: dict) -> int:
    return sum(1 for x in plan["findings"] + plan["notes"] if x["severity"] == "error")


def plan_cmd(
    stack: str = typer.Option("prod", "--stack", "-s", help="Stack: prod or dr (reads Pulumi.<stack>.yaml)."),
    json_file: Optional[Path] = typer.Option(None, "--json", help="Write the plan JSON to FILE ('-' = stdout)."),
    inventory: Optional[Path] = typer.Option(None, "--inventory", "-i", help="Inventory folder (default: stack's)."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Cloud policy YAML (default: stack's)."),
    diff_old: Optional[Path] = typer.Option(None, "--diff", help="Diff against OLD.json (a plan of the target branch)."),
    new: Optional[Path] = typer.Option(None, "--new", help="With --diff: compare with this saved plan instead of "
                                                            "planning now."),
    markdown: bool = typer.Option(False, "--markdown", help="With --diff: Markdown for a pull-request comment."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="With --diff: write the diff to FILE."),
) -> None:
    """Run the Pulumi program offline (mocks: no cloud, no CLI, no network) and print its plan.

    Exit 1 when a policy check or a program note reports an error; the plan is still printed/written.
    """
    from ..model import InventoryInvalid
    from . import diff as plandiff
    from .offline import StackConfigInvalid
    from .plan import PlanInvalid, dumps, load_plan, write_atomic
    from .policy import PolicyInvalid
    from .runner import STACKS, make_plan
    from .settings import SettingsInvalid

    if stack not in STACKS:
        _fail(f"unknown stack {stack!r} (choose {', '.join(STACKS)})", 2)
    if (markdown or output or new) and diff_old is None:
        _fail("--markdown, --output and --new go with --diff OLD.json", 2)
    try:
        old = load_plan(diff_old) if diff_old else None
        if new is not None:
            plan = load_plan(new)
        else:
            plan = make_plan(stack, inventory=inventory, policy=policy).plan
    except InventoryInvalid as e:
        for p in e.problems:
            err.print(str(p), markup=False, highlight=False)
        _fail(f"inventory invalid: {len(e.problems)} error(s)")
    except (PolicyInvalid, SettingsInvalid, StackConfigInvalid, PlanInvalid) as e:
        _fail(str(e))
    text = dumps(plan)
    if json_file is not None:
        if str(json_file) == "-":
            sys.stdout.write(text)
        else:
            try:
                write_atomic(json_file, text)
            except OSError as e:
                _fail(f"cannot write {json_file}: {e.strerror}")
    if old is not None:
        d = plandiff.diff(old, plan)
        rendered = plandiff.render_markdown(d) if markdown else plandiff.render_text(d)
        if output is not None:
            try:
                write_atomic(output, rendered)
            except OSError as e:
                _fail(f"cannot write {output}: {e.strerror}")
        elif str(json_file) != "-":
            sys.stdout.write(rendered)
    elif str(json_file) != "-":
        _print_plan(plan)
    n = _errors(plan)
    if n:
        _fail(f"{n} policy error(s) in the {plan['stack']} plan")
    if old is not None and plandiff.blast_errors(d):
        _fail(f"{plandiff.blast_errors(d)} change(s) that pulumi up cannot or must not apply (see the diff)")


cloud = typer.Typer(help="The running cloud: adopt it into Pulumi, detect drift (from `openstack … -f json`).",
                    no_args_is_help=True)


def _plan_and_listings(stack: str, listing_dir: Path):
    from .adopt import ListingInvalid, load_listings
    from .offline import StackConfigInvalid
    from .runner import STACKS, make_plan

    if stack not in STACKS:
        _fail(f"unknown stack {stack!r} (choose {', '.join(STACKS)})", 2, verb="cloud")
    try:
        listings = load_listings(listing_dir)
    except ListingInvalid as e:
        _fail(str(e), verb="cloud")
    try:
        run = make_plan(stack)
        return run.plan, listings, run.inventory
    except StackConfigInvalid as e:
        _fail(str(e), verb="cloud")


@cloud.command("import")
def import_cmd(
    listing_dir: Path = typer.Option(..., "--from", help="Folder of `openstack … list --long -f json` files."),
    stack: str = typer.Option("prod", "--stack", "-s"),
    output: Path = typer.Option(Path("import.json"), "--output", "-o", help="`pulumi import --file` document."),
    report_file: Optional[Path] = typer.Option(None, "--report", help="Also write the matching report (JSON)."),
    as_json: bool = typer.Option(False, "--json", help="Print the matching report as JSON instead of text."),
) -> None:
    """Match the running cloud to the program's resources and write a `pulumi import --file` document.

    Exit 1 when the cloud holds objects the inventory does not declare, or the inventory declares
    VMs, ports or volumes the cloud does not have (both listed): adoption is a reviewed step.
    """
    import json as _json

    from .adopt import import_file, match, report
    from .exposure import undeclared_floating_ips
    from .offline import PROJECT
    from .plan import write_atomic

    plan, listings, inv = _plan_and_listings(stack, listing_dir)
    adoption = match(plan, listings)
    doc = import_file(plan, adoption, project=PROJECT)
    rep = report(adoption)
    rep["undeclared_floating_ips"] = undeclared_floating_ips(plan, listings, adoption, inv)
    try:
        write_atomic(output, _json.dumps(doc, indent=1, sort_keys=True) + "\n")
        if report_file:
            write_atomic(report_file, _json.dumps(rep, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    except OSError as e:
        _fail(f"cannot write: {e}", verb="cloud")
    core = [r for r in rep["inventory_only"] if r["type"].rsplit(":", 1)[-1] in ("Instance", "Port", "Volume")]
    if as_json:
        print(_json.dumps({**rep, "import_file": str(output)}, indent=1, sort_keys=True, ensure_ascii=False))
        if rep["cloud_only"] or core:
            raise typer.Exit(1)
        return
    out.print(f"{rep['matched']} resources matched ({', '.join(f'{n} by {k}' for k, n in rep['matched_by'].items())})"
              f" -> {output}", highlight=False)
    for n in rep["notes"]:
        out.print(f"note: {n}", highlight=False, markup=False)
    for f in rep["undeclared_floating_ips"]:
        out.print(f"undeclared floating IP {f['address']} ({f['id']}) on {f['on']} {f['fixed_ip']}: {f['why']}; "
                  "release it, do not import it", highlight=False, markup=False)
    for r in rep["cloud_only"]:
        out.print(f"in the cloud, not in the inventory: {r['listing']} {r['name']} {r['id']}", highlight=False,
                  markup=False)
    for r in core:
        out.print(f"in the inventory, not in the cloud: {r['type'].rsplit(':', 1)[-1]} {r['name']}", highlight=False,
                  markup=False)
    if rep["cloud_only"] or core:
        _fail(f"{len(rep['cloud_only'])} cloud object(s) outside the inventory, {len(core)} declared VM/port/volume "
              "resource(s) not running: review before `pulumi import`", verb="cloud")


@cloud.command("drift")
def drift_cmd(
    listing_dir: Path = typer.Option(..., "--from", help="Folder of `openstack … list --long -f json` files."),
    stack: str = typer.Option("prod", "--stack", "-s"),
    json_file: Optional[Path] = typer.Option(None, "--json", help="Write the drift as JSON ('-' = stdout)."),
) -> None:
    """Compare the running cloud with the offline plan (flavor, AZ, addresses, security groups, volume size
    and type, and floating IPs the plan does not declare on its VMs' ports and VIPs). Exit 1 on any drift."""
    import json as _json

    from .adopt import drift, match
    from .exposure import as_drift, undeclared_floating_ips

    plan, listings, inv = _plan_and_listings(stack, listing_dir)
    adoption = match(plan, listings)
    rows = drift(plan, listings, adoption) + as_drift(undeclared_floating_ips(plan, listings, adoption, inv))
    doc = {"stack": stack, "drift": rows, "missing": [{"type": t, "name": n} for t, n in adoption.inventory_only
                                                      if t.rsplit(":", 1)[-1] in ("Instance", "Port", "Volume")]}
    text = _json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if json_file is not None and str(json_file) == "-":
        sys.stdout.write(text)
    else:
        if json_file is not None:
            from .plan import write_atomic

            write_atomic(json_file, text)
        t = Table(title=f"Drift — stack {stack}", show_edge=False)
        for col in ("resource", "field", "declared", "running"):
            t.add_column(col)
        for d in rows:
            t.add_row(d["resource"], d["field"], str(d["declared"]), str(d["running"]))
        for m in doc["missing"]:
            t.add_row(m["name"], "(exists)", "declared", "missing")
        out.print(t)
    if rows or doc["missing"]:
        _fail(f"drift: {len(rows)} difference(s), {len(doc['missing'])} missing", verb="cloud")


@cloud.command("bacula-files")
def bacula_files_cmd(
    out_dir: Path = typer.Option(..., "--out", help="Folder for the fragments (one file each, mode 600)."),
    stack: str = typer.Option("prod", "--stack", "-s"),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON (no password in it)."),
) -> None:
    """The Bacula director's conf.d fragments exactly as the stack declares them: the files a running director
    moves its definitions into before the first `DCOPS_BACULA_ADOPT=1 pulumi up` adopts them (docs/backup.md).
    Passwords from DCOPS_BACULA_FD_PASSWORD and DCOPS_BACULA_SD_PASSWORD (the stack's secrets' values)."""
    import os

    from ..model.bacula import render_fragment
    from .backup import declared_fragments
    from .offline import StackConfigInvalid
    from .runner import STACKS, make_plan

    if stack not in STACKS:
        _fail(f"unknown stack {stack!r} (choose {', '.join(STACKS)})", 2, verb="cloud")
    env = {k: os.environ.get(f"DCOPS_BACULA_{k}_PASSWORD") for k in ("FD", "SD")}
    missing = [f"DCOPS_BACULA_{k}_PASSWORD" for k, v in env.items() if not v]
    if missing:
        _fail(f"set {', '.join(missing)} to the stack's dcops:baculaFdPassword / dcops:baculaSdPassword "
              "(never in git)", 2, verb="cloud")
    try:
        run = make_plan(stack)
    except StackConfigInvalid as e:
        _fail(str(e), verb="cloud")
    if run.settings.bacula is None:
        _fail(f"stack {stack} declares no Bacula director (dcops:bacula)", verb="cloud")
    frags = declared_fragments(run.inventory, run.settings.bacula, env["FD"], env["SD"])
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in frags:
        tmp = out_dir / f".{f.file}.tmp"
        tmp.write_text(render_fragment(f.kind, f.name, f.directives, f.comment), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(out_dir / f.file)
    if as_json:
        import json
        print(json.dumps({"stack": stack, "out": str(out_dir), "conf_d": str(run.settings.bacula.conf_d),
                          "fragments": [{"file": f.file, "kind": f.kind, "name": f.name} for f in frags]},
                         ensure_ascii=False, indent=2))
        return
    out.print(f"{len(frags)} fragments -> {out_dir} (for {run.settings.bacula.conf_d})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
    app.add_typer(cloud, name="cloud")
