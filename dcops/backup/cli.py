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
from .config import PASSWORDS, Deployment, PolicyNotExpressible, TlsFiles, clients_of, render

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
               tls_dir: Optional[Path] = typer.Option(None, "--tls-dir", help="TLS between the daemons (Enable + "
                                                      "Require, peers verified): the server's folder with ca.crt, "
                                                      "server.crt and server.key (the file daemons: role bacula_fd)."),
               inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
               conf_d: Optional[Path] = typer.Option(
                   None, "--conf-d", help="The director's resources are declared in Pulumi (docs/backup.md): "
                                          "bacula-dir.conf is only the director's core and includes this folder."),
               as_json: bool = typer.Option(False, "--json", help="Print the files written as JSON.")) -> None:
    """Production configuration. Passwords come from DCOPS_BACULA_<DIRECTOR|CONSOLE|SD|FD>_PASSWORD, never git."""
    env = {k: os.environ.get(f"DCOPS_BACULA_{k.upper()}_PASSWORD") for k in PASSWORDS}
    missing = [f"DCOPS_BACULA_{k.upper()}_PASSWORD" for k, v in env.items() if not v]
    if missing:
        _fail(f"set {', '.join(missing)} (the daemons' passwords are never generated into git)", 2)
    inv = _inventory(inventory)
    tls = TlsFiles(tls_dir / "ca.crt", tls_dir / "server.crt", tls_dir / "server.key") if tls_dir else None
    d = Deployment(workdir, address=director_address, sd_address=director_address, fd_address="0.0.0.0",
                   passwords=env, conf_d=conf_d, tls=tls)
    if conf_d is not None and not conf_d.is_absolute():
        _fail(f"--conf-d {conf_d}: an absolute path on the backup server", 2)
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


@app.command("list")
def list_cmd(catalogue: Path = typer.Option(..., "--catalogue", help="The director's SQLite catalogue."),
             client: list[str] = typer.Option([], "--client", "-c", help="Only this VM's jobs (repeatable)."),
             last: int = typer.Option(20, "--last", help="The newest N jobs (0: all)."),
             inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The catalogue's backup and DR copy jobs, newest last: JobId, job, level, status, end, bytes, files, pool
    (Bacula's `list jobs`, read from the catalogue without a console)."""
    from .catalogue import jobs
    inv = _inventory(inventory)
    known = {c.name for c in clients_of(inv)}
    unknown = [c for c in client if c not in known]
    if unknown:
        _fail(f"not a VM on a tape backup policy: {', '.join(unknown)}", 2)
    if last < 0:
        _fail("--last must be 0 or more", 2)
    if not catalogue.exists():
        _fail(f"no catalogue at {catalogue}")
    with sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        rows = [j for j in jobs(con, types=("B", "C")) if not client or j.job in client
                or (j.client or "").removesuffix("-fd") in client]
    rows = rows[-last:] if last else rows
    if as_json:
        print(json.dumps([{"job_id": j.job_id, "job": j.job, "client": j.client, "type": j.type, "level": j.level,
                           "status": j.status, "good": j.good, "ended": j.ended.isoformat() if j.ended else None,
                           "bytes": j.bytes, "files": j.files, "pool": j.pool} for j in rows],
                         ensure_ascii=False, indent=2))
        return
    for j in rows:
        kind = "copy" if j.type == "C" else j.level
        out.print(f"{j.job_id:>6} {'ok  ' if j.good else 'FAIL'} {j.job:<26} {kind:<12} "
                  f"{j.ended.isoformat(' ', 'seconds') if j.ended else '—':<25} {j.bytes:>14,} B {j.files:>7} files  "
                  f"{j.pool or ''}", highlight=False)


@app.command("run")
def run_cmd(client: list[str] = typer.Option([], "--client", "-c", help="VM to back up (repeatable; default: every "
                                                                       "VM on a tape policy)."),
            level: Optional[str] = typer.Option(None, "--level", help="full, incremental or differential (default: "
                                                "the job's own)."),
            dr_copy: bool = typer.Option(False, "--dr-copy", help="Then run the DR copy jobs of the selected "
                                         "clients' policies."),
            execute: bool = typer.Option(False, "--execute", help="Really run the jobs (default: dry run)."),
            bconsole_conf: Optional[Path] = typer.Option(None, "--bconsole-conf", help="bconsole.conf of the "
                                                         "director (with --execute)."),
            catalogue: Optional[Path] = typer.Option(None, "--catalogue", help="The director's SQLite catalogue "
                                                     "(with --execute)."),
            timeout: float = typer.Option(1800, help="Seconds to wait for all jobs."),
            inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
            as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Back up the selected clients through bconsole, wait, report each job (status, bytes, files) from the
    catalogue. A failing client never stops the others; exit 1 if any job failed."""
    from .config import copy_jobs
    from .jobs import Director, run_jobs
    inv = _inventory(inventory)
    known = {c.name: c for c in clients_of(inv)}
    unknown = [c for c in client if c not in known]
    if unknown:
        _fail(f"not a VM on a tape backup policy: {', '.join(unknown)} (known: {', '.join(sorted(known))})", 2)
    lvl = None
    if level:
        lvl = {"full": "Full", "incremental": "Incremental", "differential": "Differential"}.get(level.lower())
        if not lvl:
            _fail(f"--level {level!r}: full, incremental or differential", 2)
    chosen = [known[n] for n in (client or sorted(known))]
    plan = [(c.name, f"{c.name}-fd") for c in chosen]
    copies = [(j, "") for j in copy_jobs(sorted({c.policy.name: c.policy for c in chosen}.values(),
                                                key=lambda p: p.name))] if dr_copy else []
    if not execute:
        rows = [{"job": j, "client": cl, "level": level or "as scheduled", "kind": "backup"} for j, cl in plan]
        rows += [{"job": j, "client": "", "level": "", "kind": "dr-copy"} for j, _ in copies]
        if as_json:
            print(json.dumps({"mode": "dry-run", "jobs": rows}, ensure_ascii=False, indent=2))
        else:
            out.print("dry run (use --execute to run):", highlight=False)
            for r in rows:
                out.print(f"  would run {r['kind']} job {r['job']} {r['level']}", highlight=False)
        return
    if not bconsole_conf or not catalogue:
        _fail("--execute needs --bconsole-conf and --catalogue", 2)
    for p in (bconsole_conf, catalogue):
        if not p.exists():
            _fail(f"no such file: {p}", 2)
    director = Director(bconsole_conf, catalogue)
    results = run_jobs(director, plan, lvl, timeout=timeout)
    if copies:  # after the backups, so tonight's jobs are copied tonight
        results += run_jobs(director, copies, None, timeout=timeout)
    if as_json:
        print(json.dumps({"mode": "execute", "jobs": [r.as_dict() for r in results]}, ensure_ascii=False, indent=2))
    else:
        for r in results:
            mark = "ok  " if r.ok else "FAIL"
            out.print(f"{mark} {r.job:<28} JobId {r.job_id or '—':<5} {r.status_text or '—':<16} {r.bytes:>14,} B "
                      f"{r.files:>7} files  {r.error}", highlight=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("metrics")
def metrics_cmd(catalogue: Path = typer.Option(..., "--catalogue", help="The director's SQLite catalogue."),
                textfile: Optional[Path] = typer.Option(None, "--textfile", help="Write the exposition here "
                                                        "atomically (node_exporter's textfile collector, *.prom)."),
                inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
                as_json: bool = typer.Option(False, "--json", help="Print the samples as JSON.")) -> None:
    """Backup metrics from the catalogue: last good backup and DR copy per job, failures, cartridge usage."""
    from .metrics import configured_jobs, exposition, samples
    inv = _inventory(inventory)
    if not catalogue.exists():
        _fail(f"no catalogue at {catalogue}")
    with sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        items = samples(con, configured_jobs(clients_of(inv)))
    text = exposition(items)
    if textfile:
        tmp = textfile.with_name(f".{textfile.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(textfile)  # the collector never reads half a file
    if as_json:
        print(json.dumps([{"metric": f"dcops_backup_{s.name}", "labels": s.labels, "value": s.value} for s in items],
                         ensure_ascii=False, indent=1))
    elif not textfile:
        print(text, end="")


@app.command("capacity")
def capacity_cmd(catalogue: Path = typer.Option(..., "--catalogue", help="The director's SQLite catalogue."),
                 window_days: float = typer.Option(7.0, "--window-days", help="Growth measured over this many days."),
                 inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Tape usage as planned (policies × retention) and as measured (catalogue); exit 1 when the measured growth
    fills a library before retention recycles its volumes."""
    from .capacity import describe, measured
    inv = _inventory(inventory)
    if window_days <= 0:
        _fail("--window-days must be positive", 2)
    try:
        rep = measured(inv, catalogue, window_days)
    except FileNotFoundError as e:
        _fail(str(e))
    if as_json:
        print(json.dumps(rep, ensure_ascii=False, indent=2))
    else:
        for r in rep["libraries"]:
            out.print(describe(r), highlight=False)
    if any(r["exhausts_before_recycling"] for r in rep["libraries"]):
        raise typer.Exit(1)


@app.command("prometheus-rules")
def rules_cmd(out_file: Optional[Path] = typer.Option(None, "--out", help="Write the rule file here."),
              as_json: bool = typer.Option(False, "--json", help="JSON instead of YAML (Prometheus reads both).")) -> None:
    """The backup alerting rules for Prometheus (job failed, RPO missed, never backed up, DR copy stale,
    library nearly full)."""
    import yaml

    from .metrics import rules
    doc = rules()
    text = json.dumps(doc, ensure_ascii=False, indent=1) if as_json else yaml.safe_dump(doc, allow_unicode=True,
                                                                                       sort_keys=False)
    if out_file:
        out_file.write_text(text, encoding="utf-8")
    else:
        print(text, end="" if text.endswith("\n") else "\n")


def register(root: typer.Typer) -> None:
    from dcops.model import cli as model_cli

    from .capacity import describe, measured
    root.add_typer(app, name="backup")
    model_cli.TAPE_MEASURED = (measured, describe)  # `dcops capacity --catalogue` reads the catalogue through it
