"""`dcops compliance`: Decree 85/2016 controls per system and Directive 14/CT-TTg, with evidence."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

import typer
from dcops.console import Console

from .. import DEFAULT_INVENTORY, paths
from ..model import validate
from .assess import assess
from .evidence import Context
from .report import print_table, render_html, write_atomic


def checked_inputs(inventory: Path, lang: str, as_of: str | None):
    """The language, the assessment date and the validated inventory every compliance view starts from;
    bad input exits 2 (options) or 1 (an invalid inventory, its errors listed) before anything is assessed."""
    err = Console(stderr=True, soft_wrap=True)
    if lang not in ("vi", "en"):
        err.print(f"unknown language '{lang}' (vi or en)")
        raise typer.Exit(2)
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        err.print(f"--as-of: '{as_of}' is not a date (YYYY-MM-DD)")
        raise typer.Exit(2)
    result = validate(inventory)
    if refused := result.refusals():
        for e in refused:
            err.print(str(e), markup=False, highlight=False)
        err.print(f"inventory invalid: {len(refused)} error(s)")
        raise typer.Exit(1)
    return day, result


def _compliance(
    typer_ctx: typer.Context,
    inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i", show_default="inventory/"),
    as_json: bool = typer.Option(False, "--json", help="Print the assessment as JSON."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report."),
    lang: str = typer.Option("vi", "--lang", help="vi (default) or en."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Assess as of this date (YYYY-MM-DD); default today."),
    drills: Path = typer.Option(Path("reports/drills"), "--drills", help="Drill records (JSON) from `dcops drill run`."),
    dr_plan: Path = typer.Option(Path("reports/plan-dr.json"), "--dr-plan",
                                 help="DR stack plan from `dcops plan --stack dr --json`."),
    policy: Path = typer.Option(paths.POLICY, "--policy", show_default="network_configs/policy"),
    monitors: Path = typer.Option(paths.MONITORS, "--monitors", show_default="monitors/"),
    strict: bool = typer.Option(False, "--strict", help="Exit 3 when there are findings (for CI gates)."),
    allowed_signers: Optional[Path] = typer.Option(None, "--allowed-signers", envvar="DCOPS_ALLOWED_SIGNERS",
                                                   help="ssh-keygen allowed-signers file: who may sign drill "
                                                        "records (without it no record is evidence)."),
) -> None:
    """Per information system, the controls its security level requires, each with its evidence;
    Directive 14: security spend ≥ 10 % of the IT budget. Missing evidence is a finding, never a pass.
    `dcops compliance catalogue`: the same systems against TCVN 11930:2017 clause by clause."""
    if typer_ctx.invoked_subcommand is not None:
        return
    day, result = checked_inputs(inventory, lang, as_of)
    ctx = Context(result.inventory, day, drills, dr_plan, policy, monitors, allowed_signers, sources=result.sources)
    a = assess(result.inventory, ctx)
    if html is not None:
        write_atomic(html, render_html(a, lang))
    if as_json:
        print(json.dumps(a.as_dict(lang), ensure_ascii=False, indent=2))
    else:
        print_table(a, lang, Console())
        if html is not None:
            Console().print(f"HTML: {html}")
    if strict and not a.ok:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    from .catalogue_cli import catalogue_cmd
    group = typer.Typer(invoke_without_command=True)
    group.callback()(_compliance)
    group.command("catalogue")(catalogue_cmd)
    app.add_typer(group, name="compliance")
