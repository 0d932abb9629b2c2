"""Verbs on the source of truth itself: validate, capacity, inventory."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from dcops.console import Console
from rich.table import Table

from .. import DEFAULT_INVENTORY
from . import ansible_inventory, capacity, power, validate
from .schema import Inventory

InventoryOpt = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i", help="Inventory folder.",
                            show_default="inventory/")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")

out = Console()
err = Console(stderr=True, soft_wrap=True)

#: (measured(inv, catalogue, window_days) -> report, describe(library row) -> str), set by the backup consumer
#: when it registers (dcops.backup.cli): the model never imports a consumer
TAPE_MEASURED: tuple | None = None


def load_or_exit(path: Path, *, dr_ok: bool = False) -> Inventory:
    """For every verb that needs the model: print all errors as file:line and exit 1. A DR site's inventory
    (its monitored devices only) is refused unless `dr_ok`."""
    result = validate(path)
    for w in result.warnings:
        err.print(str(w), style="yellow", markup=False, highlight=False)
    errors = result.refusals(dr_ok=dr_ok)
    if errors:
        for e in errors:
            err.print(str(e), markup=False, highlight=False)
        err.print(f"inventory invalid: {len(errors)} error(s)", style="bold red")
        raise typer.Exit(1)
    return result.inventory


def summary(inv: Inventory) -> dict:
    if inv.site.role == "dr":  # the DR site's monitored devices; its cloud is the production inventory's DR stack
        return {"site": inv.site.name, "code": inv.site.code, "role": "dr", "primary": inv.site.primary,
                "zones": len(inv.zones), **_devices(inv)}
    flavors = {f.name: f for f in inv.flavors}
    return {
        "site": inv.site.name,
        "hosts": len(inv.hosts),
        "hosts_by_role": dict(sorted(Counter(h.role.value for h in inv.hosts).items())),
        "vms": len(inv.vms),
        "vcpus": sum(flavors[v.flavor].vcpus for v in inv.vms),
        "ram_gb": sum(flavors[v.flavor].ram_gb for v in inv.vms),
        "tenants": len(inv.tenants),
        "systems": len(inv.systems),
        "systems_by_level": {str(k): v for k, v in sorted(Counter(s.security_level for s in inv.systems).items())},
        "zones": len(inv.zones),
        "san_usable_tb": inv.storage.san.usable_tb,
        "tape_tb": inv.storage.tape.capacity_tb,
        "backup_policies": len(inv.storage.backup_policies),
        **_devices(inv),
        "ups_shutdown": _ups_summary(power.shipped_plan(inv)),
    }


def _devices(inv: Inventory) -> dict:
    return {"network_devices": dict(sorted(Counter(d.kind.value for d in inv.network_devices).items())),
            "facility": dict(sorted(Counter(f.kind.value for f in inv.facility).items())),
            "leased_lines": [f"{l.provider} {l.bandwidth_mbps} Mbps" for l in inv.leased_lines]}


def _ups_summary(p: "power.PowerPlan | None") -> dict | None:
    if p is None:
        return None
    return {"ups": p.ups, "plan_s": p.end_s, "budget_s": p.budget_s, "fits": p.fits, "waves": len(p.shutdown),
            "late_waves": p.late_waves()}


def _validate(inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Load and check the inventory: schema, references, addressing, capacity. All errors in one run."""
    result = validate(inventory)
    if as_json:
        doc = {"ok": result.ok, "errors": [p.as_dict() for p in result.errors],
               "warnings": [p.as_dict() for p in result.warnings]}
        if result.ok:
            doc["summary"] = summary(result.inventory)
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        raise typer.Exit(0 if result.ok else 1)
    inv = load_or_exit(inventory, dr_ok=True)
    s = summary(inv)
    t = Table(title=f"{s['site']} — inventory OK", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    if s.get("role") == "dr":
        t.add_row("DR site of", f"{s['primary']} (cloud, storage and systems: its DR stack, Pulumi.dr.yaml)")
        t.add_row("Network devices", ", ".join(f"{k} {v}" for k, v in s["network_devices"].items()) or "-")
        t.add_row("Leased lines", ", ".join(s["leased_lines"]) or "-")
        t.add_row("Facility", ", ".join(f"{k} {v}" for k, v in s["facility"].items()) or "-")
        out.print(t)
        return
    t.add_row("Physical hosts", f"{s['hosts']}  (" + ", ".join(f"{k} {v}" for k, v in s["hosts_by_role"].items()) + ")")
    t.add_row("VMs", f"{s['vms']}  ({s['vcpus']} vCPU, {s['ram_gb']:,} GB RAM)")
    t.add_row("Tenants / systems", f"{s['tenants']} / {s['systems']}")
    t.add_row("Systems by security level",
              ", ".join(f"level {k}: {v}" for k, v in s["systems_by_level"].items()))
    t.add_row("Storage", f"SAN {s['san_usable_tb']:g} TB usable, tape {s['tape_tb']:g} TB, "
                         f"{s['backup_policies']} backup policies")
    t.add_row("Network devices", ", ".join(f"{k} {v}" for k, v in s["network_devices"].items()))
    t.add_row("Leased lines", ", ".join(s["leased_lines"]) or "-")
    t.add_row("Facility", ", ".join(f"{k} {v}" for k, v in s["facility"].items()))
    if s["ups_shutdown"]:
        u = s["ups_shutdown"]
        t.add_row("UPS shutdown plan", f"{u['ups']}: plan {u['plan_s']:.0f} s of {u['budget_s']:.0f} s battery budget "
                                       f"({u['waves']} waves, `dcops drill run ups-power-loss` executes it)")
    out.print(t)


def _capacity(inventory: Path = InventoryOpt, as_json: bool = JsonOpt,
              chart: Optional[Path] = typer.Option(None, "--chart", help="Write a chart (.png or .svg)."),
              catalogue: Optional[Path] = typer.Option(
                  None, "--catalogue", help="The Bacula director's SQLite catalogue: tape usage as measured beside "
                                            "planned, and a warning (exit 1) when the measured growth fills a "
                                            "library before retention recycles its cartridges."),
              window_days: float = typer.Option(7.0, "--window-days", help="Tape growth measured over this many "
                                                                         "days (with --catalogue).")) -> None:
    """Demand against the compute hosts (with N+1), the SAN, the tape library and the UPS battery (shutdown plan);
    with --catalogue, the tape library as the backup catalogue measures it too."""
    result = validate(inventory)
    view = result.capacity_view
    inv = view if view is not None and view.site.role != "dr" else load_or_exit(inventory)
    report = capacity.compute(inv)
    tape = _tape_measured(inv, catalogue, window_days)
    exhausts = bool(tape and any(r["exhausts_before_recycling"] for r in tape["libraries"]))
    if chart is not None:
        write_chart(report, chart)
    if as_json:
        print(json.dumps({**report.as_dict(), **({"tape_measured": tape} if tape else {})}, ensure_ascii=False,
                         indent=2))
        raise typer.Exit(0 if result.ok and not exhausts else 1)
    t = Table(title=f"Capacity — {report.compute_hosts} compute hosts, N+1 drops {report.largest_host}",
              title_justify="left")
    for col, just in (("Resource", "left"), ("Demand", "right"), ("Supply", "right"), ("Used", "right"),
                      ("Supply N+1", "right"), ("Fits", "center")):
        t.add_column(col, justify=just)
    for r in report.rows:
        n1 = "-" if r.supply_n1 is None else f"{r.supply_n1:,.0f}"
        ok = "[green]yes[/]" if r.fits and r.fits_n1 is not False else (
            "[yellow]not N+1[/]" if r.fits else "[red]NO[/]")
        t.add_row(r.name, f"{r.demand:,.1f} {r.unit}", f"{r.supply:,.1f} {r.unit}", f"{r.used_pct:.0f} %", n1, ok)
    out.print(t)
    if tape:
        out.print(f"Tape as measured by the backup catalogue (growth over {window_days:g} days):", highlight=False)
        for r in tape["libraries"]:
            out.print(f"  {TAPE_MEASURED[1](r)}", style="bold red" if r["exhausts_before_recycling"] else None,
                      highlight=False)
    if chart is not None:
        out.print(f"chart written to {chart}")
    for e in result.errors:
        err.print(str(e), markup=False, highlight=False)
    if exhausts:
        err.print("a tape library fills at the measured growth before retention recycles its cartridges",
                  style="bold red")
    if not result.ok or exhausts:
        raise typer.Exit(1)


def _tape_measured(inv, catalogue: Optional[Path], window_days: float) -> dict | None:
    if catalogue is None:
        return None
    if window_days <= 0:
        err.print("--window-days must be positive")
        raise typer.Exit(2)
    if TAPE_MEASURED is None:
        err.print("--catalogue needs the backup verbs (dcops.backup), which are not installed")
        raise typer.Exit(2)
    try:
        return TAPE_MEASURED[0](inv, catalogue, window_days)
    except FileNotFoundError as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(1) from None


def write_chart(report: capacity.Report, path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg"):
        err.print(f"{path}: chart must end in .png or .svg")
        raise typer.Exit(2)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.rows
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.2))
    names = [r.name for r in rows][::-1]
    used = [min(r.used_pct, 150) for r in rows][::-1]
    colours = ["#2e7d32" if u < 80 else "#f9a825" if u <= 100 else "#c62828" for u in used]
    ax.barh(names, used, color=colours)
    ax.axvline(100, color="black", linewidth=1)
    ax.set_xlabel("% of capacity")
    ax.set_title("Kiên Giang DC — capacity")
    for y, r in enumerate(rows[::-1]):
        ax.text(min(r.used_pct, 150) + 1, y, f"{r.demand:,.0f}/{r.supply:,.0f} {r.unit}", va="center", fontsize=8)
    ax.set_xlim(0, 160)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, format=path.suffix[1:].lower(), metadata={"Date": None} if path.suffix.lower() == ".svg" else None)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


inventory_app = typer.Typer(help="Views of the inventory for other tools.", no_args_is_help=True)


@inventory_app.command("ansible")
def _ansible(inventory: Path = InventoryOpt,
             fmt: str = typer.Option("json", "--format", help="json (dynamic inventory --list) or yaml"),
             list_: bool = typer.Option(False, "--list", help="Ansible dynamic-inventory protocol: JSON on stdout."),
             host: Optional[str] = typer.Option(None, "--host", help="Ansible dynamic-inventory protocol: one host's vars."),
             output: Optional[Path] = typer.Option(None, "--out", help="Write to a file instead of stdout.")) -> None:
    """Emit the Ansible inventory (groups by role, zone, tenant, system, security level)."""
    inv = load_or_exit(inventory)
    dynamic = ansible_inventory.build(inv)
    if host is not None:
        text = json.dumps(dynamic["_meta"]["hostvars"].get(host, {}), ensure_ascii=False, indent=2)
    elif fmt == "yaml" and not list_:
        from io import StringIO

        from ruamel.yaml import YAML
        buf = StringIO()
        y = YAML()
        y.default_flow_style = False
        y.dump(ansible_inventory.to_yaml_inventory(dynamic), buf)
        text = buf.getvalue()
    elif fmt in ("json", "yaml"):
        text = json.dumps(dynamic, ensure_ascii=False, indent=2)
    else:
        err.print(f"unknown format '{fmt}' (json or yaml)")
        raise typer.Exit(2)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        fd, tmp = tempfile.mkstemp(dir=output.parent or ".", prefix=".dcops-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, output)


def register(app: typer.Typer) -> None:
    app.command("validate")(_validate)
    app.command("capacity")(_capacity)
    app.add_typer(inventory_app, name="inventory")
