"""`dcops net render|lint|diff|backup|push|rollback|unlock`."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import List, Optional

import typer
from dcops.console import Console
from rich.table import Table

from dcops import DEFAULT_INVENTORY
from dcops.model.cli import load_or_exit

from . import backup as backup_mod
from . import fleet, lint as lint_mod, offline, platforms, render
from .connect import SecretUnavailable, make_driver
from .drivers.registry import DriverUnavailable
from .paths import GOLDEN_DIR
from .platforms import PlatformError
from .policy import PolicyError
from .push import Pusher, PushRefused

out = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)

InventoryOpt = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i", help="Inventory folder.", show_default="inventory/")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")
LabOpt = typer.Option(None, "--lab", help="Act on the namespace lab of this name (e.g. dcops) instead of production.")
BackupsOpt = typer.Option(Path("backups"), "--backups", help="Backups folder.")
DeviceOpt = typer.Option(None, "--device", "-d", help="Device name (repeat for several); default every device.")
NoLintOpt = typer.Option(False, "--no-lint", help="Emergencies only: proceed although the policy has lint errors "
                         "(recorded in the push report).")
ConnectTimeoutOpt = typer.Option(5.0, "--connect-timeout", min=1, help="Seconds to open an SSH session.")
CommandTimeoutOpt = typer.Option(8.0, "--command-timeout", min=1, help="Seconds for one command on the device.")

app = typer.Typer(help="Network configuration pipeline: render → lint → diff → push (commit-confirm) → backup/rollback.",
                  no_args_is_help=True)

EXPECTED = (PolicyError, PlatformError, render.RenderError, fleet.FleetError, SecretUnavailable, DriverUnavailable,
            FileNotFoundError)


def fail(msg: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {msg}")
    raise typer.Exit(code)


def _lint_gate(inv, no_lint: bool, what: str) -> str:
    """Refuse `what` when the policy has lint errors, unless --no-lint; returns the lint status to report."""
    errors = [f for f in lint_mod.lint(inv) if f.severity == "error"]
    if not errors:
        return "passed"
    listing = "\n".join(f"  {f}" for f in errors)
    if no_lint:
        err.print(f"[bold yellow]--no-lint: {what} proceeds despite {len(errors)} lint error(s):[/]\n{listing}",
                  markup=True)
        return f"skipped (--no-lint) with {len(errors)} error(s)"
    err.print(listing, markup=False)
    fail(f"{what} refused: the policy has {len(errors)} lint error(s) (see above; `dcops net lint`); "
         "fix them, or --no-lint in an emergency")
    return "failed"


def _members(inventory: Path, lab: str | None, devices: list[str] | None, need_endpoint: bool = True):
    inv = load_or_exit(inventory)
    try:
        return inv, fleet.members(inv, lab=lab, names=devices or None, need_endpoint=need_endpoint)
    except EXPECTED as e:
        fail(str(e))


@app.command("render")
def render_cmd(out_dir: Path = typer.Option(Path("out/network"), "--out", help="Output folder."),
               device: Optional[List[str]] = DeviceOpt, lab: Optional[str] = LabOpt,
               check: bool = typer.Option(False, "--check", help=f"Compare with the golden files ({GOLDEN_DIR.name}/) "
                                          "instead of writing; exit 1 if they differ."),
               no_lint: bool = NoLintOpt, inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Render every configured device: Jinja2 base config + aerleon policy per platform (deterministic)."""
    inv = load_or_exit(inventory)
    _lint_gate(inv, no_lint, "render")
    try:
        if lab:
            fw, topo = fleet.stand_in(inv)
            rendered = [render.render_device(render.RenderContext.build(inv, topology=topo), fw)]
        else:
            rendered = render.render_all(render.RenderContext.build(inv), device or None)
            if not device:  # the lab's stand-in firewall is a reviewed artefact too (linux firewall template)
                fw, topo = fleet.stand_in(inv)
                rendered.append(render.render_device(render.RenderContext.build(inv, topology=topo), fw))
    except EXPECTED as e:
        fail(str(e))
    if check:
        stale = []
        for r in rendered:
            for name, text in r.files.items():
                g = GOLDEN_DIR / name
                if not g.is_file() or g.read_text(encoding="utf-8") != text:
                    stale.append(name)
        # a device moved to another platform (or removed) leaves files no render writes: the compliance
        # report and reviewers would still read them as the intent
        rendered_names = {name for r in rendered for name in r.files}
        orphans = [] if device or lab or not GOLDEN_DIR.is_dir() else sorted(
            g.name for g in GOLDEN_DIR.iterdir() if g.is_file() and not g.name.startswith(".")
            and g.name not in rendered_names)
        if as_json:
            print(json.dumps({"stale": stale, "orphans": orphans}, ensure_ascii=False))
        if stale:
            fail(f"rendered configs differ from golden files: {', '.join(stale)} "
                 f"(review, then `dcops net render --out {GOLDEN_DIR}`)")
        if orphans:
            fail(f"golden files no device renders any more: {', '.join(orphans)} (a device moved to another "
                 f"platform or was removed: delete them from {GOLDEN_DIR})")
        if not as_json:
            out.print(f"{sum(len(r.files) for r in rendered)} files match the golden files")
        return
    try:
        render.write_all(rendered, out_dir)
    except OSError as e:
        fail(f"cannot write to {out_dir}: {e}")
    if as_json:
        print(json.dumps([{"device": r.device, "platform": r.platform, "files": [str(out_dir / f) for f in r.files],
                           "seconds": round(r.seconds, 4)} for r in rendered], ensure_ascii=False, indent=1))
        return
    t = Table(title=f"Rendered into {out_dir}")
    for c in ("device", "platform", "files", "ms"):
        t.add_column(c)
    for r in rendered:
        t.add_row(r.device, r.platform, " ".join(r.files), f"{r.seconds * 1000:.0f}")
    out.print(t)


@app.command("lint")
def lint_cmd(inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Check the policy: shadowed/redundant rules, any-any permits, unknown and unused objects."""
    inv = load_or_exit(inventory)
    findings = lint_mod.lint(inv)
    errors = [f for f in findings if f.severity == "error"]
    if as_json:
        print(json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=1))
    else:
        for f in findings:
            (err if f.severity == "error" else out).print(str(f), markup=False)
        out.print(f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)")
    if errors:
        raise typer.Exit(1)


def _printer(lock=threading.Lock()):
    def hook(device: str, step: str, phase: str) -> None:
        if phase == "start":
            with lock:
                err.print(f"  {device:<14} {step} …")
    return hook


@app.command("diff")
def diff_cmd(device: str = typer.Argument(..., help="Device name."), lab: Optional[str] = LabOpt,
             against_backup: Optional[str] = typer.Option(None, "--backup", help="Diff against this backup "
                                                          "('latest', a timestamp prefix or a path), not the device."),
             backups: Path = BackupsOpt, inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Unified diff: rendered candidate vs the device's running config (or a backup)."""
    _, ms = _members(inventory, lab, [device], need_endpoint=False)
    m = ms[0]

    def emit(text: str, source: str) -> None:
        if as_json:
            print(json.dumps({"device": device, "against": source, "changed": bool(text.strip()), "diff": text},
                             ensure_ascii=False, indent=2))
        else:
            sys.stdout.write(text)

    def against(ref: str) -> None:
        try:
            d, _ = offline.diff_against_backup(device, m.device.platform, m.rendered.config, backups, ref)
        except FileNotFoundError as e:
            fail(str(e))
        emit(d, f"backup:{ref}")

    if against_backup is not None:
        against(against_backup)
        return
    try:
        if m.endpoint is None and not lab:  # production: the key is needed only now
            m = fleet.Member(m.device, m.rendered, fleet.production_endpoint(m.device))
        t = fleet.target(m)
        d = make_driver(t.platform, t.endpoint)
        d.open()
    except SecretUnavailable as e:  # cannot log in from here: the last backup still shows the change
        if not backup_mod.history(backups, device):
            fail(f"{device}: cannot reach the device ({e}) and there is no backup under {backups}")
        err.print(f"[yellow]{device}: cannot reach the device ({e}); diff against its last backup[/]")
        against("latest")
        return
    except EXPECTED as e:
        fail(str(e))
    except Exception as e:
        if not backup_mod.history(backups, device):
            fail(f"{device}: cannot reach the device ({e}) and there is no backup under {backups}")
        err.print(f"[yellow]{device}: cannot reach the device ({e}); diff against its last backup[/]")
        against("latest")
        return
    try:
        d.load_replace_candidate(config=t.candidate)  # takes the device lock: "device busy" while a push runs
        try:
            diff = t.redact(d.compare_config())  # never print resolved secrets
            emit(diff + "\n" if diff else "", "device")
        finally:
            d.discard_config()  # releases the lock
    except Exception as e:
        fail(f"{device}: {e}")
    finally:
        d.close()


@app.command("backup")
def backup_cmd(device: Optional[List[str]] = DeviceOpt, lab: Optional[str] = LabOpt, backups: Path = BackupsOpt,
               inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Fetch the running config of every device into BACKUPS/<device>/<UTC timestamp>.<ext>."""
    import concurrent.futures as cf
    _, ms = _members(inventory, lab, device, need_endpoint=False)
    results = []

    def one(m):
        why = None if lab else platforms.load(m.device.platform).unsupported
        if why:  # never contacted: say so instead of pretending
            return {"device": m.device.name, "ok": False, "refused": True,
                    "error": f"refused: {why}; back it up on the unit and file it under {backups / m.device.name}/"}
        try:
            if m.endpoint is None:  # production: the credential is needed only now, per device
                m = fleet.Member(m.device, m.rendered, fleet.production_endpoint(m.device))
            t = fleet.target(m)
            d = make_driver(t.platform, t.endpoint)
            d.open()
            try:
                text = d.get_config(retrieve="running")["running"]
            finally:
                d.close()
            return {"device": m.device.name, "ok": True, "file": str(backup_mod.save(backups, m.device.name, text,
                                                                                      t.extension))}
        except Exception as e:
            return {"device": m.device.name, "ok": False, "error": str(e).splitlines()[0] if str(e) else type(e).__name__}

    with cf.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, ms))
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        for r in results:
            out.print(f"{r['device']:<14} " + (f"[green]saved[/] {r['file']}" if r["ok"] else f"[red]failed[/] {r['error']}"))
    # a device named with --device that dcops cannot back up fails the command; in a fleet backup
    # it is left out (listed above) and the others decide the exit code
    if not all(r["ok"] or (r.get("refused") and not device) for r in results):
        raise typer.Exit(1)


def _report(report, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"ok": report.ok, "mode": "commit" if report.commit else "dry-run",
                          "committed": report.committed, "lint": report.lint, "seconds": round(report.seconds, 3),
                          "devices": [o.as_dict() for o in report.outcomes]}, ensure_ascii=False, indent=1))
    else:
        t = Table(title="dcops net push" + ("" if report.commit else " (dry run: nothing changed)")
                  + ("" if report.lint in ("passed", "not run") else f" — lint {report.lint}"))
        for c in ("device", "result", "failed step", "changed lines", "backup", "note"):
            t.add_column(c)
        for o in report.outcomes:
            d = o.as_dict()
            style = {"confirmed": "green", "would-change": "yellow", "unchanged": "dim"}.get(o.state, "red")
            t.add_row(o.device, f"[{style}]{o.state}[/]", o.failed_step or "", str(d["changed_lines"]),
                      Path(d["backup"]).name if d["backup"] else "", o.error or "")
        out.print(t)
        if not report.commit:
            for o in report.outcomes:
                if o.diff:
                    out.print(f"[bold]--- {o.device}[/]")
                    out.print(o.diff, markup=False, highlight=False)
    if not report.ok:
        err.print(f"[bold red]push failed:[/] {report.summary()}")
        raise typer.Exit(1)


@app.command("push")
def push_cmd(device: Optional[List[str]] = DeviceOpt, commit: bool = typer.Option(False, "--commit",
             help="Apply (default: dry run showing the diff)."),
             confirm_timeout: int = typer.Option(60, "--confirm-timeout", min=5,
                                                 help="Seconds before an unconfirmed change reverts by itself."),
             connect_timeout: float = ConnectTimeoutOpt, command_timeout: float = CommandTimeoutOpt,
             no_lint: bool = NoLintOpt, lab: Optional[str] = LabOpt, backups: Path = BackupsOpt,
             inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Push rendered configs as one transaction: backup, lock, commit-confirm, verify, confirm — or roll everyone back."""
    inv = load_or_exit(inventory)
    try:  # an unmeetable confirm timeout is refused before anything is rendered or contacted
        Pusher(backups, commit=commit, confirm_timeout=confirm_timeout, connect_timeout=connect_timeout,
               command_timeout=command_timeout)
    except PushRefused as e:
        fail(str(e))
    lint_status = _lint_gate(inv, no_lint, "push")
    names = device or None
    if not lab:
        names = _leave_out_unsupported(inv, device, backups, as_json, lint_status)
    if commit and not lab:
        chosen = [d for d in render.configured_devices(inv) if (not names or d.name in names)]
        try:
            no_revert = [d for d in chosen if not platforms.load(d.platform).commit_confirm]
        except EXPECTED as e:
            fail(str(e))
        listed = ", ".join(f"{d.name} ({d.platform})" for d in no_revert)
        if no_revert and device:
            fail(f"cannot push {listed}: the platform has no commit-confirm, so the device could not "
                 "revert a bad change by itself; dcops renders, diffs and backs these up only "
                 "(dry run: `dcops net push` without --commit)")
        if no_revert:  # the whole fleet: commit what can be reverted, say what is left out
            err.print(f"[yellow]left out of this commit (no commit-confirm on their platform): {listed}[/]")
            names = [d.name for d in chosen if d not in no_revert]
            if not names:
                fail("nothing to commit: no device with commit-confirm in the inventory")
    try:
        ms = fleet.members(inv, lab=lab, names=names, need_endpoint=False)
    except EXPECTED as e:
        fail(str(e))
    if not lab:
        resolved, missing = [], []
        for m in ms:  # every missing credential is named at once, not only the first
            try:
                resolved.append(fleet.Member(m.device, m.rendered, fleet.production_endpoint(m.device)))
            except SecretUnavailable as e:
                missing.append(str(e))
        if missing:
            why = "; ".join(dict.fromkeys(missing))
            _offline_dry_run(ms, backups, f"cannot reach the devices from here: {why}", as_json, lint_status)
            fail(why)
        ms = resolved
    try:
        targets = [fleet.target(m) for m in ms]
    except EXPECTED as e:
        fail(str(e))
    report = Pusher(backups, commit=commit, confirm_timeout=confirm_timeout, connect_timeout=connect_timeout,
                    command_timeout=command_timeout, lint=lint_status,
                    hook=None if as_json else _printer()).run(targets)
    if not as_json:
        _no_commit_note([m.device for m in ms])
    _report(report, as_json)


def _leave_out_unsupported(inv, device, backups: Path, as_json: bool, lint_status: str):
    """Devices whose platform dcops has no API driver for are never contacted by a push: named with
    --device, the push is refused (after their diff against the last backup); in a fleet push they are
    left out and listed. Returns the device names to push (None = every device)."""
    chosen = [d for d in render.configured_devices(inv) if not device or d.name in device]
    try:
        refused = [d for d in chosen if platforms.load(d.platform).unsupported]
    except EXPECTED as e:
        fail(str(e))
    if not refused:
        return device or None
    listed = ", ".join(f"{d.name} ({d.platform})" for d in refused)
    if device:
        try:
            ms = fleet.members(inv, names=[d.name for d in refused], need_endpoint=False)
        except EXPECTED as e:
            fail(str(e))
        _offline_dry_run(ms, backups, f"not contacted: {listed}: {platforms.load(refused[0].platform).unsupported}",
                         as_json, lint_status)
        plat = platforms.load(refused[0].platform)
        nolock = f"; no device lock either: {plat.lock_missing}" if plat.lock_missing else ""
        fail(f"push refused for {listed}: {plat.unsupported}; dcops neither backs "
             "up nor pushes it (the diff shown is against its last backup, filed under "
             f"{backups}/<device>/){nolock}")
    err.print(f"[yellow]left out (no API driver in dcops; never contacted): {listed}[/]")
    rest = [d.name for d in chosen if d not in refused]
    if not rest:
        fail("nothing to push")
    return rest


def _no_commit_note(devices) -> None:
    names = [f"{d.name} ({d.platform})" for d in devices if not platforms.load(d.platform).commit_confirm]
    if names:
        err.print(f"[yellow]dry run only for {', '.join(names)}: no commit-confirm on that platform, so "
                  "`--commit` is refused (the device could not revert a bad change by itself)[/]")


def _offline_dry_run(ms, backups: Path, why: str, as_json: bool, lint_status: str = "passed") -> None:
    """What a push would change, against each device's last backup, when no device can be contacted."""
    rows = []
    for m in ms:
        try:
            d, b = offline.diff_against_backup(m.device.name, m.device.platform, m.rendered.config, backups)
            rows.append({"device": m.device.name, "platform": m.device.platform, "backup": str(b), "diff": d})
        except FileNotFoundError:
            rows.append({"device": m.device.name, "platform": m.device.platform, "backup": None, "diff": None})
    if as_json:
        print(json.dumps({"ok": False, "mode": "dry-run", "committed": [], "lint": lint_status, "offline": True,
                          "reason": why,
                          "devices": [
            {**r, "changed_lines": None if r["diff"] is None else
             sum(1 for ln in r["diff"].splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---"))}
            for r in rows]}, ensure_ascii=False, indent=1))
        return
    err.print(f"[yellow]{why}[/]")
    _no_commit_note([m.device for m in ms])
    err.print("[yellow]dry run against the last backup of each device instead (nothing contacted, nothing changed):[/]")
    for r in rows:
        if r["diff"] is None:
            out.print(f"[bold]--- {r['device']}[/] ({r['platform']}): no backup under {backups}; "
                      f"a push would replace its whole running config with the rendered one")
        else:
            changed = sum(1 for ln in r["diff"].splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---"))
            out.print(f"[bold]--- {r['device']}[/] ({r['platform']}): {changed} changed line(s) vs {r['backup']}")
            out.print(r["diff"], markup=False, highlight=False)


@app.command("rollback")
def rollback_cmd(device: str = typer.Argument(..., help="Device name."),
                 to: Optional[str] = typer.Option(None, "--to", help="Backup to restore ('latest', timestamp prefix "
                                                  "or path); default: the config before the device's last commit."),
                 confirm_timeout: int = typer.Option(60, "--confirm-timeout", min=5), lab: Optional[str] = LabOpt,
                 connect_timeout: float = ConnectTimeoutOpt, command_timeout: float = CommandTimeoutOpt,
                 backups: Path = BackupsOpt, inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Restore a device: to a backup (pushed with commit-confirm), or to its config before the last commit."""
    _, ms = _members(inventory, lab, [device])
    try:
        t = fleet.target(ms[0])
    except EXPECTED as e:
        fail(str(e))
    if to is None:
        d = make_driver(t.platform, t.endpoint, connect_timeout, command_timeout=command_timeout)
        try:
            d.open()
            running = d.get_config(retrieve="running")["running"]
            saved = backup_mod.save(backups, device, running, t.extension)
            d.rollback()
        except Exception as e:
            fail(f"{device}: rollback failed: {e}")
        finally:
            d.close()
        if as_json:
            print(json.dumps({"device": device, "ok": True, "backup": str(saved)}))
        else:
            out.print(f"{device}: rolled back to the config before its last commit (previous running saved as {saved})")
        return
    try:
        b = backup_mod.find(backups, device, to)
    except FileNotFoundError as e:
        fail(str(e))
    t.candidate = b.read_text(encoding="utf-8")
    try:
        pusher = Pusher(backups, commit=True, confirm_timeout=confirm_timeout, connect_timeout=connect_timeout,
                        command_timeout=command_timeout, lint=f"not applicable (restoring {b.name})",
                        hook=None if as_json else _printer())
    except PushRefused as e:
        fail(str(e))
    _report(pusher.run([t]), as_json)


@app.command("unlock")
def unlock_cmd(device: str = typer.Argument(..., help="Device name."), lab: Optional[str] = LabOpt,
               inventory: Path = InventoryOpt, as_json: bool = JsonOpt) -> None:
    """Operators: remove a device's lock left by a push that is gone (refused while a commit-confirm is pending)."""
    _, ms = _members(inventory, lab, [device])
    try:
        t = fleet.target(ms[0])
        d = make_driver(t.platform, t.endpoint)
    except EXPECTED as e:
        fail(str(e))
    if getattr(d, "device_lock", None) is None:
        fail(f"{device}: platform {t.platform} keeps no device lock in dcops (nothing to unlock)")
    try:
        d.open()
        was = d.device_lock.unlock()
    except Exception as e:
        fail(f"{device}: unlock failed: {e}")
    finally:
        d.close()
    if as_json:
        print(json.dumps({"device": device, "ok": True, "was_locked_by": was}, ensure_ascii=False))
    elif was:
        out.print(f"{device}: unlocked (was locked by {was.get('owner')} since {was.get('since')}, "
                  f"pid {was.get('pid')}); its candidate was discarded")
    else:
        out.print(f"{device}: was not locked")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="net")
