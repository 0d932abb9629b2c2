"""`dcops lab up|down|status`: the data centre in network namespaces."""
from __future__ import annotations

import json
import sys
from pathlib import Path


import typer
from dcops.console import Console
from rich.table import Table

from dcops import DEFAULT_INVENTORY

from . import LabError, can_run, state
from .builder import Lab, status, teardown

out = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)
app = typer.Typer(help="Namespace lab: firewall, zones, link balancer with two leased lines, ISPs, internet host.",
                  no_args_is_help=True)

NameOpt = typer.Option("dcops", "--name", help="Lab name; namespaces are called <name>-<host>.")


def _fail(msg: str) -> None:
    err.print(f"[bold red]error:[/] {msg}")
    raise typer.Exit(1)


@app.command("up")
def up(name: str = NameOpt, inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i"),
       lbcheck: bool = typer.Option(True, "--lbcheck/--no-lbcheck", help="Start the link-balancer health checker."),
       as_json: bool = typer.Option(False, "--json")) -> None:
    """Build the lab (cleaning up whatever a previous run of the same name left behind)."""
    if not can_run():
        _fail("the lab needs root (network namespaces) and OpenSSH server (/usr/sbin/sshd)")
    from dcops.model.cli import load_or_exit
    from .datacentre import build, spec_from_inventory
    inv = load_or_exit(inventory)
    leftovers = teardown(name)
    if leftovers:
        err.print(f"removed {len(leftovers)} leftovers of an earlier '{name}' lab")
    lab = Lab(f"{name}-", name=name)
    try:
        spec = spec_from_inventory(inv)
        meta = build(lab, spec)
        if lbcheck:
            meta["lbcheck"] = _start_lbcheck(lab, inv, spec.lb_name)
        with state.edit(name) as st:
            st["meta"].update(meta)
    except (LabError, OSError, ValueError, KeyError) as e:
        teardown(name)
        _fail(f"lab up failed, everything removed again: {e}")
    _show(name, as_json)


def _start_lbcheck(lab: Lab, inv, lb_name: str) -> dict:
    """The link balancer's health checker, configured from its rendered lbcheck.yaml."""
    from dcops.net import render  # composition at the CLI: the lab library itself knows nothing of rendering
    r = render.render_device(render.RenderContext.build(inv), inv.device(lb_name))
    cfg_name = next(n for n in r.files if n.endswith("lbcheck.yaml"))
    cfg = lab.workdir / cfg_name
    cfg.write_text(r.files[cfg_name], encoding="utf-8")
    st = lab.workdir / "lbcheck-state.json"
    pid = lab.spawn("lb", [sys.executable, "-m", "dcops.net.lbcheck", "--config", str(cfg), "--state", str(st)],
                    what="lbcheck")
    return {"pid": pid, "config": str(cfg), "state": str(st)}


@app.command("down")
def down(name: str = NameOpt, all_labs: bool = typer.Option(False, "--all", help="Every lab with a state file."),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Stop every process and delete every namespace the lab recorded (also after a crash)."""
    if not can_run():
        _fail("the lab needs root")
    names = state.labs() if all_labs else [name]
    removed = {n: teardown(n) for n in names}
    if as_json:
        print(json.dumps(removed, ensure_ascii=False, indent=1))
    else:
        for n, items in removed.items():
            out.print(f"{n}: removed {len(items)} item(s)" if items else f"{n}: nothing to remove")


@app.command("status")
def status_cmd(name: str = NameOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Namespaces, processes and device endpoints of the lab."""
    _show(name, as_json)


def _show(name: str, as_json: bool) -> None:
    st = status(name)
    lb = st["meta"].get("lbcheck")
    if lb and Path(lb["state"]).is_file():
        st["links"] = json.loads(Path(lb["state"]).read_text())
    if as_json:
        print(json.dumps(st, ensure_ascii=False, indent=1))
        return
    if not st["namespaces"]:
        out.print(f"lab '{name}' is not up")
        return
    t = Table(title=f"lab {name}")
    for c in ("namespace", "present", "processes"):
        t.add_column(c)
    for ns in st["namespaces"]:
        procs = [f"{p['what']}:{p['pid']}{'' if p['alive'] else ' (dead)'}" for p in st["processes"] if p["ns"] == ns["name"]]
        t.add_row(ns["name"], "yes" if ns["present"] else "[red]no[/]", " ".join(procs))
    out.print(t)
    for dev, ep in st["meta"].get("endpoints", {}).items():
        out.print(f"device {dev}: ssh {ep['username']}@{ep['host']} from {ep['netns']} (key {ep['key_file']})")
    if "links" in st:
        out.print("leased lines: " + ", ".join(f"{n} {'up' if v['up'] else 'DOWN'}" for n, v in st["links"]["lines"].items()))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="lab")
