"""`dcops compliance catalogue`: the TCVN 11930:2017 / Decree 85/2016 controls per system, with evidence."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dcops.console import Console

from .. import DEFAULT_INVENTORY, paths
from .assess import messages
from .catalogue import CatalogueContext, CatalogueError, CatalogueView, evaluate, load
from .cli import checked_inputs
from .report import COLOURS, number


def print_catalogue(view: CatalogueView, lang: str, console: Console) -> None:
    own, words = view.doc["messages"][lang], messages()[lang]
    doc = view.as_dict(lang)
    console.print(f"[bold]{own['title'].format(site=view.site)}[/]  ·  {words['as_of'].format(date=doc['as_of'])}")
    for s in doc["systems"]:
        c = s["counts"]
        share = number(100 * c["pass"] / s["applicable"], lang, 1) if s["applicable"] else number(0, lang, 1)
        console.print(own["system_line"].format(name=s["name"], display_name=s["display_name"],
                                                level=s["security_level"], applicable=number(s["applicable"], lang),
                                                passed=number(c["pass"], lang), share=share,
                                                failed=number(c["fail"], lang), missing=number(c["missing"], lang)),
                      markup=False, highlight=False)
        t = Table(show_lines=False)
        for col in (own["clause"], words["control"], words["status"], words["evidence"], own["needed"]):
            t.add_column(col, overflow="fold")
        for ctl in s["controls"]:
            clause = ctl["clause"] + ("" if ctl["clause_confirmed"] else f" {own['clause_unconfirmed']}")
            t.add_row(clause, ctl["title"], f"[{COLOURS[ctl['status']]}]{ctl['status_text']}[/]", ctl["message"],
                      ctl["evidence_needed"])
        console.print(t)
    sm = doc["summary"]
    console.print(own["summary"].format(systems=number(sm["systems"], lang), total=number(sm["checks"], lang),
                                        passed=number(sm["pass"], lang), failed=number(sm["fail"], lang),
                                        missing=number(sm["missing"], lang)), markup=False, highlight=False)


def catalogue_cmd(
    inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i", show_default="inventory/"),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="Only this information system."),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON."),
    lang: str = typer.Option("vi", "--lang", help="vi (default) or en."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (YYYY-MM-DD); default today."),
    drills: Path = typer.Option(Path("reports/drills"), "--drills", help="Drill records from `dcops drill run`."),
    dr_plan: Path = typer.Option(Path("reports/plan-dr.json"), "--dr-plan", help="`dcops plan --stack dr --json` output."),
    policy: Path = typer.Option(paths.POLICY, "--policy",
                                show_default="network_configs/policy"),
    monitors: Path = typer.Option(paths.MONITORS, "--monitors", show_default="monitors/"),
    backups: Path = typer.Option(Path("backups"), "--backups",
                                 help="Running-config backups from `dcops net backup` (BACKUPS/<device>/...)."),
    golden: Path = typer.Option(paths.GOLDEN, "--intended",
                                show_default="network_configs/golden", help="Intended (rendered) device configs."),
    allowed_signers: Optional[Path] = typer.Option(None, "--allowed-signers", envvar="DCOPS_ALLOWED_SIGNERS",
                                                   help="ssh-keygen allowed-signers file for drill records."),
) -> None:
    """TCVN 11930:2017 clauses and Decree 85/2016 articles applicable at each system's level, each with its
    status and the evidence type an inspector needs. Declarations and uncollected evidence are never a pass."""
    err = Console(stderr=True, soft_wrap=True)
    day, result = checked_inputs(inventory, lang, as_of)
    if system is not None and system not in {s.name for s in result.inventory.systems}:
        err.print(f"--system: no information system '{system}' in the inventory", markup=False)
        raise typer.Exit(2)
    try:
        doc = load()
    except CatalogueError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(1)
    ctx = CatalogueContext(result.inventory, day, drills, dr_plan, policy, monitors, allowed_signers,
                           backups_dir=backups, golden_dir=golden)
    view = evaluate(result.inventory, ctx, doc, system)
    if as_json:
        print(json.dumps(view.as_dict(lang), ensure_ascii=False, indent=2))
    else:
        print_catalogue(view, lang, Console())
