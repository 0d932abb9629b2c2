"""`dcops backup render|status`: Bacula's configuration from the inventory; the catalogue's view of RPO."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Optional

import typer

from dcops.console import Console

from ..model import DEFAULT_INVENTORY, InventoryInvalid, load_inventory
from .config import PASSWORDS, Deployment, PolicyNotExpressible, clients_of, render

app = typer.Typer(help="Tape backup with Bacula: configuration from the inventory, RPO from the catalogue.",
                  no_args_is_help=True)
out = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _fail(msg: str, code: int = 1):
    err.print(f"[red]error:[/] {msg}")
    raise typer.Exit(code)


def _inventory(path: Path):
    try:
        return load_inventory(path)
    except InventoryInvalid as e:
        for p in e.problems:
            err.print(str(p), markup=False)
        _fail(f"inventory invalid: {len(e.problems)} error(s)")


@app.command("render")
def render_cmd(out_dir: Path = typer.Option(..., "--out", help="Folder for bacula-dir/sd/fd.conf and bconsole.conf."),
               workdir: Path = typer.Option(Path("/var/lib/bacula"), help="Bacula's working folder on the server."),
               director_address: str = typer.Option(..., "--address", help="The backup server's address."),
               inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
               as_json: bool = typer.Option(False, "--json", help="Print the files written as JSON.")) -> None:
    """Production configuration. Passwords come from DCOPS_BACULA_<DIRECTOR|CONSOLE|SD|FD>_PASSWORD, never git."""
    env = {k: os.environ.get(f"DCOPS_BACULA_{k.upper()}_PASSWORD") for k in PASSWORDS}
    missing = [f"DCOPS_BACULA_{k.upper()}_PASSWORD" for k, v in env.items() if not v]
    if missing:
        _fail(f"set {', '.join(missing)} (the daemons' passwords are never generated into git)", 2)
    inv = _inventory(inventory)
    d = Deployment(workdir, address=director_address, sd_address=director_address, fd_address="0.0.0.0",
                   passwords=env)
    try:
        files = render(inv, d, clients_of(inv))
    except (PolicyNotExpressible, ValueError) as e:
        _fail(str(e))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        tmp = out_dir / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(out_dir / name)
        written.append(str(out_dir / name))
    if as_json:
        print(json.dumps({"files": written}, indent=2))
    else:
        for w in written:
            out.print(w, highlight=False)


@app.command("status")
def status_cmd(catalogue: Path = typer.Option(..., "--catalogue", help="The director's SQLite catalogue "
                                                                        "(WorkingDirectory/bacula.db)."),
               inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The last good backup of every job and whether it is within its policy's RPO (exit 1 if any is not)."""
    from .catalogue import last_backups, volumes
    inv = _inventory(inventory)
    rpo = {c.name: c.policy.rpo_hours * 3600 for c in clients_of(inv)}
    if not catalogue.exists():
        _fail(f"no catalogue at {catalogue}")
    with sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        jobs, vols = last_backups(con, rpo), volumes(con)
    never = sorted(set(rpo) - {j.job for j in jobs})
    bad = [j for j in jobs if j.met is False]
    if as_json:
        print(json.dumps({"jobs": [j.as_dict() for j in jobs], "never_backed_up": never, "volumes": vols},
                         ensure_ascii=False, indent=2))
    else:
        for j in jobs:
            mark = "ok " if j.met else ("LATE" if j.met is False else "   ")
            out.print(f"{mark} {j.job:<24} {j.level:<12} {j.ended}  {j.age_s / 3600:6.1f} h  {j.bytes:,} B",
                      highlight=False)
        if never:
            out.print(f"never backed up: {', '.join(never)}", highlight=False)
    if bad or never:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="backup")
