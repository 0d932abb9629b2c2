"""`dcops demo` (run the simulated data centre), `dcops demo inject|scenarios|down`."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import List, Optional

import typer
from dcops.console import Console
from rich.table import Table

from dcops import DEFAULT_INVENTORY

out = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)

LabNameOpt = typer.Option("dcops-demo", "--lab-name", help="Lab state name; namespaces are called <name>-<host>.")

app = typer.Typer(help="The whole simulated data centre in one command (foreground; Ctrl-C tears it all down).",
                  invoke_without_command=True)


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {msg}")
    raise typer.Exit(code)


def _scenarios(names: list[str]):
    from .scenario import ScenarioError, load
    out_ = []
    for n in (x.strip() for item in names for x in item.split(",")):
        if not n:
            continue
        try:
            out_.append(load(n))
        except ScenarioError as e:
            _fail(str(e), 2)
    return out_


@app.callback()
def demo(ctx: typer.Context,
         inventory: Path = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i", help="Inventory folder.",
                                        show_default="inventory/"),
         scenario: Optional[List[str]] = typer.Option(None, "--scenario", "-s", help="Incident scenario to play "
                                                      "(repeatable or comma-separated; see `dcops demo scenarios`)."),
         scenario_delay: float = typer.Option(10.0, "--scenario-delay", min=0,
                                              help="Seconds after start-up before scenarios begin."),
         speed: float = typer.Option(1.0, "--speed", min=0.1, help="Play scenarios this many times faster."),
         duration: Optional[float] = typer.Option(None, "--duration", min=1,
                                                  help="Run this many seconds after start-up, then tear down (headless use)."),
         host: str = typer.Option("127.0.0.1", "--host", help="Dashboard listen address."),
         port: int = typer.Option(8080, "--port", help="Dashboard port (0: any free port)."),
         interval: float = typer.Option(5.0, "--interval", min=0.5, help="SNMP poll interval, seconds."),
         no_lab: bool = typer.Option(False, "--no-lab", help="No network namespaces, even as root."),
         stack: str = typer.Option("embedded", "--stack", help="embedded: the monitor's own alert engine; "
                                   "prometheus: Debian's Prometheus (generated rules) and Alertmanager on 127.0.0.1, "
                                   "the NOC page reading Alertmanager."),
         lab_name: str = LabNameOpt) -> None:
    """Validate, plan, build the lab, simulate SNMP agents, push configs, start monitor and dashboard.

    Runs in the foreground until Ctrl-C (or --duration); then removes every namespace and
    process it started. Demo login: user `admin`, a random password printed at start-up
    (or $DCOPS_DEMO_PASSWORD).
    """
    if ctx.invoked_subcommand is not None:
        return
    from .orchestrator import Demo, Options
    if stack not in ("embedded", "prometheus"):
        _fail(f"--stack wants embedded or prometheus, got {stack!r}", 2)
    scs = _scenarios(scenario or [])
    if not Path(inventory).is_dir():
        _fail(f"inventory folder {inventory} does not exist", 2)
    opts = Options(inventory=Path(inventory), lab_name=lab_name, host=host, port=port, interval=interval,
                   use_lab=not no_lab, scenarios=scs, scenario_delay=scenario_delay, speed=speed, duration=duration,
                   password=os.environ.get("DCOPS_DEMO_PASSWORD") or None, stack=stack)
    raise typer.Exit(Demo(opts, out).run())


@app.command("scenarios")
def scenarios_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The incident scenarios (dcops/demo/scenarios/*.yaml)."""
    import json

    from .scenario import available, load
    rows = [load(n) for n in available()]
    if as_json:
        print(json.dumps([{"name": s.name, "title": s.title, "summary": s.summary, "duration_s": s.duration,
                           "needs_lab": s.needs_lab(), "steps": len(s.steps)} for s in rows], ensure_ascii=False,
                         indent=1))
        return
    t = Table(title="dcops demo scenarios")
    for c in ("name", "title", "lasts", "what happens"):
        t.add_column(c, overflow="fold")
    for s in rows:
        t.add_row(s.name, s.title, f"{s.duration:.0f} s", s.summary)
    out.print(t)


@app.command("inject")
def inject_cmd(names: List[str] = typer.Argument(..., help="Scenario name(s)."),
               speed: float = typer.Option(1.0, "--speed", min=0.1, help="Play this many times faster."),
               lab_name: str = LabNameOpt) -> None:
    """Play scenarios against a running `dcops demo` (from another terminal); returns when they end."""
    from .actions import ActionUnavailable, Actions, Site
    from .scenario import Runner, check_against
    scs = _scenarios(names)
    try:
        site = Site.from_state(lab_name)
    except ActionUnavailable as e:
        _fail(str(e))
    actions = Actions(site)
    problems = [p for sc in scs for p in check_against(sc, actions.devices(), {ln.name for ln in actions.inv.leased_lines})]
    if problems:
        _fail("; ".join(problems), 2)
    from rich.markup import escape
    runner = Runner(actions, lambda n, m: out.print(f"[magenta]{time.strftime('%H:%M:%S')} {escape('[' + n + ']')}[/] "
                                                     f"{escape(m)}", highlight=False), speed=speed)
    for sc in scs:
        runner.start(sc)
    stop = {"sig": None}

    def on_signal(signum, frame):
        stop["sig"] = signum
        runner.stop_event.set()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, on_signal)
    runner.wait()
    runner.stop()
    if runner.errors:
        _fail("; ".join(runner.errors))


@app.command("down")
def down_cmd(lab_name: str = LabNameOpt) -> None:
    """Remove whatever a crashed demo left (same as `dcops lab down --name <lab name>`; works without root)."""
    from dcops.lab.builder import teardown

    from . import labstate  # noqa: F401 - picks the state folder (also without root)
    removed = teardown(lab_name)
    out.print(f"{lab_name}: removed {len(removed)} item(s)" if removed else f"{lab_name}: nothing to remove")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="demo")
