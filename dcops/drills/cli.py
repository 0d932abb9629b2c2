"""`dcops drill list|run`: disaster-recovery drills through ansible-runner, with records."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import List, Optional

import typer
from dcops.console import Console
from rich.table import Table

from .core import DEFAULT_REPORT_DIR

app = typer.Typer(help="Disaster-recovery drills (playbooks via ansible-runner) with measured RTO/RPO and reports.",
                  no_args_is_help=True)
console = Console()


def _inventory(path: Optional[Path]):
    from dcops.model import InventoryInvalid, load_inventory
    try:
        return load_inventory(path)
    except InventoryInvalid as e:
        console.print(f"[red]inventory invalid:[/red] {e}")
        raise typer.Exit(2)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The drills, their playbooks and what they measure."""
    from .registry import DRILLS
    rows = [{"name": d.name, "title": d.title, "playbook": f"playbooks/{d.playbook}" if d.playbook else None, "destructive": d.destructive,
             "lab": d.lab is not None, "summary": d.summary} for d in DRILLS.values()]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    t = Table(title="dcops drills")
    for col in ("name", "title", "playbook", "summary"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["name"], r["title"], r["playbook"] or "—", r["summary"])
    console.print(t)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="Drill name (see `dcops drill list`)."),
    execute: bool = typer.Option(False, "--execute", help="Really run it. Without: check mode (UPS: only the plan)."),
    report: Path = typer.Option(DEFAULT_REPORT_DIR, "--report", help="Folder for the JSON/Markdown/HTML record."),
    target: List[str] = typer.Option([], "--target", "-t", help="Inventory name to drill (repeatable)."),
    lab: bool = typer.Option(False, "--lab", help="Build a throwaway namespace lab standing in for the targets (root)."),
    lab_name: Optional[str] = typer.Option(None, "--lab-name", help="Name of the lab (namespaces <name>-<host>); "
                                           "refused when it overlaps a running lab. Default: random dcdXXXX."),
    operator: Optional[str] = typer.Option(None, "--operator", envvar="DCOPS_OPERATOR",
                                           help="The person running the drill (their signing identity, e.g. e-mail)."),
    approver: Optional[str] = typer.Option(None, "--approver", envvar="DCOPS_APPROVER",
                                           help="The person who approved the drill."),
    approval_ref: Optional[str] = typer.Option(None, "--approval-ref", envvar="DCOPS_APPROVAL_REF",
                                               help="The approval's reference (decision or ticket number)."),
    sign_key: Optional[Path] = typer.Option(None, "--sign-key", envvar="DCOPS_SIGN_KEY",
                                            help="The operator's SSH private key; signs the record (ssh-keygen -Y)."),
    targets_file: Optional[Path] = typer.Option(None, "--targets-file",
                                                help="JSON {control_ns?, overlay: {name: {ansible_host,...}}} for the targets."),
    option: List[str] = typer.Option([], "--option", "-o", help="Drill option KEY=VALUE (repeatable; see docs/drills.md)."),
    inventory: Optional[Path] = typer.Option(None, "--inventory", help="Inventory folder (default: the shipped one)."),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress view."),
) -> None:
    """Run a drill; writes <report>/<run-id>.{json,md,html}; exit 1 when the drill fails."""
    from .core import run_drill
    from .progress import DrillProgress
    from .registry import get
    try:
        drill = get(name)
    except KeyError as e:
        console.print(f"[red]{e.args[0]}[/red]")
        raise typer.Exit(2)
    inv = _inventory(inventory)
    options: dict = {"targets": list(target)} if target else {}
    for kv in option:
        if "=" not in kv:
            console.print(f"[red]--option needs KEY=VALUE, got {kv!r}[/red]")
            raise typer.Exit(2)
        k, v = kv.split("=", 1)
        options[k.strip().replace("-", "_")] = v
    overlay, control_ns = None, None
    if targets_file:
        try:
            spec = json.loads(targets_file.read_text(encoding="utf-8"))
            overlay, control_ns = spec["overlay"], spec.get("control_ns")
        except (OSError, ValueError, KeyError) as e:
            console.print(f"[red]cannot read {targets_file}: {e}[/red]")
            raise typer.Exit(2)
    if lab and targets_file:
        console.print("[red]--lab and --targets-file exclude each other[/red]")
        raise typer.Exit(2)
    if lab and os.geteuid() != 0:
        console.print("[red]--lab needs root (network namespaces)[/red]")
        raise typer.Exit(2)
    if lab_name and not lab:
        console.print("[red]--lab-name needs --lab[/red]")
        raise typer.Exit(2)
    lab_prefix = _lab_prefix(lab_name) if lab and drill.needs_lab(execute) else None
    with DrillProgress(name, live=False if (quiet or as_json) else None) as progress:
        record, paths = run_drill(drill, inv, execute=execute, options=options, overlay=overlay,
                                  control_ns=control_ns, lab_prefix=lab_prefix, report_dir=report,
                                  progress=None if (quiet or as_json) else progress,
                                  operator=operator, approver=approver, approval_ref=approval_ref,
                                  sign_key=sign_key, inventory_path=inventory)
    if as_json:
        print(json.dumps(record.to_dict(), ensure_ascii=False, indent=1))
    else:
        _summary(record, paths)
    if record.verdict != "pass":
        if not as_json:
            console.print(f"[red]drill {name} failed: {record.reason}[/red]")
        raise typer.Exit(1)


def _lab_prefix(name: Optional[str]) -> str:
    import re

    from .lab import LabNameTaken, check_free
    if name is not None and not re.fullmatch(r"[a-z][a-z0-9]{1,9}", name):
        console.print(f"[red]--lab-name {name!r}: 2-10 lower-case letters and digits, starting with a letter[/red]")
        raise typer.Exit(2)
    for _ in range(5 if name is None else 1):
        prefix = f"{name or 'dcd' + secrets.token_hex(2)}-"
        try:
            check_free(prefix)
            return prefix
        except LabNameTaken as e:
            problem = str(e)
    console.print(f"[red]lab name refused: {problem}[/red]")
    raise typer.Exit(2)


def _summary(record, paths) -> None:
    colour = "green" if record.verdict == "pass" else "red"
    kind = record.environment["kind"]
    where = record.mode if kind == record.mode else f"{record.mode}, {kind}"
    console.print(f"[bold {colour}]{record.verdict.upper()}[/bold {colour}] {record.drill} ({where}) "
                  f"in {record.duration_s:.1f} s — {record.id}")
    if kind not in ("production", "plan"):
        console.print(f"[yellow]{record.environment['kind']} run: {record.environment['reason']} — a rehearsal, "
                      "not compliance evidence[/yellow]")
    if record.details.get("plan_text"):
        print(record.details["plan_text"])
    if record.measurements:
        t = Table(title="measurements")
        for col in ("measure", "target", "measured", "measured in", "policy target", "met"):
            t.add_column(col)
        from .record import _fmt_limit, _fmt_value
        for m in record.to_dict()["measurements"]:
            met = "—" if m["met"] is None else ("[green]yes[/green]" if m["met"] else "[red]NO[/red]")
            t.add_row(m["name"], m["target"], _fmt_value(m), m["measured_in"] + (f" ({m['scale']})" if m["scale"] else ""),
                      _fmt_limit(m), met)
    for e in record.end_state:
        console.print(f"[{'green' if e['ok'] else 'red'}]end state[/]: {e['what']} {e['host']}: {e['state']}")
        console.print(t)
    for f in record.findings:
        console.print(f"[{'red' if f['severity'] == 'error' else 'yellow'}]{f['severity']}[/]: {f['message']}")
    for ext, p in paths.items():
        console.print(f"{ext}: {p}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="drill")
