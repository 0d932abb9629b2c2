"""Running a drill: targets, refusal of what the inventory does not mark drill-enabled, the
playbook runs, measurements, verdict and the record."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dcops.model import Inventory

from . import record as rec
from .inventory import dynamic, static_yaml
from .runner import PlaybookRun, Progress, run_playbook

DEFAULT_REPORT_DIR = Path("reports/drills")


class DrillRefused(Exception):
    """The drill may not run against these targets (not drill-enabled, not in the inventory, ...)."""


@dataclass
class DrillContext:
    inv: Inventory
    execute: bool
    options: dict
    record: rec.DrillRecord
    run_id: str
    overlay: dict = field(default_factory=dict)
    control_ns: str | None = None
    progress: Progress | None = None
    lab: object | None = None  # a DrillLab when the drill runs in a throwaway lab

    def inventory(self) -> dict:
        return static_yaml(dynamic(self.inv, self.overlay))

    def hostvars(self, name: str) -> dict:
        return dynamic(self.inv, self.overlay)["_meta"]["hostvars"][name]

    def playbook(self, path: str, extravars: dict | None = None, *, check: bool | None = None) -> PlaybookRun:
        """Run a playbook; its tasks become steps, its run a line in record.playbooks."""
        check = (not self.execute) if check is None else check
        ev = {"drill_run_id": self.run_id, **(extravars or {})}
        if self.progress:
            self.progress("playbook", {"playbook": path, "check": check})
        self.record.event(f"playbook {path} started" + (" (check mode)" if check else ""))
        run = run_playbook(path, inventory=self.inventory(), extravars=ev, check=check,
                           control_ns=self.control_ns, progress=self.progress,
                           timeout=int(self.options.get("timeout", 1800)))
        for s in run.steps:
            status = "changed" if s.status == "ok" and s.changed else s.status
            self.record.steps.append(rec.StepRecord(s.task, status, s.host, s.started, s.ended, s.duration_s,
                                                    s.message, "ansible", s.diff))
            if s.status in ("failed", "unreachable"):
                self.record.event(f"FAILED: {s.task}", host=s.host, at=s.ended or None, detail=s.message[:300])
        self.record.playbooks.append({"playbook": path, "check": check, "status": run.status, "rc": run.rc,
                                      "started": run.started, "ended": run.ended, "stats": run.stats})
        self.record.event(f"playbook {path} {run.status}", detail=f"rc={run.rc}")
        return run


@dataclass(frozen=True)
class Drill:
    name: str
    title: str
    summary: str
    playbook: str
    #: targets the drill acts on (inventory names); destructive drills refuse any not drill-enabled
    targets: Callable[[Inventory, dict], list[str]]
    run: Callable[[DrillContext], None]
    destructive: bool = True
    #: builds a throwaway namespace lab standing in for the targets: (DrillLab, Inventory, targets, options)
    lab: Callable | None = None


def drill_enabled(inv: Inventory, name: str) -> bool:
    for coll in (inv.vms, inv.hosts, inv.network_devices):
        for item in coll:
            if item.name == name:
                return bool(item.drill_enabled)
    raise DrillRefused(f"{name} is not in the inventory")


def describe_target(inv: Inventory, name: str) -> dict:
    for vm in inv.vms:
        if vm.name == name:
            s = inv.system(vm.system)
            return {"name": name, "kind": "vm", "system": vm.system, "security_level": s.security_level,
                    "drill_enabled": vm.drill_enabled}
    for h in inv.hosts:
        if h.name == name:
            return {"name": name, "kind": f"host/{h.role.value}", "system": None, "drill_enabled": h.drill_enabled}
    for d in inv.network_devices:
        if d.name == name:
            return {"name": name, "kind": d.kind.value, "system": None, "drill_enabled": d.drill_enabled}
    return {"name": name, "kind": "unknown", "system": None, "drill_enabled": False}


def inventory_digest(inv: Inventory) -> str:
    return hashlib.sha256(json.dumps(inv.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def new_run_id(drill: str, now: dt.datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{drill}-{secrets.token_hex(2)}"


def verdict(r: rec.DrillRecord) -> tuple[str, str]:
    bad_steps = [s for s in r.steps if s.status in ("failed", "unreachable", "fail")]
    if bad_steps:
        s = bad_steps[0]
        return "fail", f"{s.name}{' on ' + s.host if s.host else ''}: {s.message.splitlines()[0] if s.message else s.status}"
    missed = [m for m in r.measurements if m.met is False]
    if missed:
        m = missed[0]
        return "fail", f"{m.name} of {m.target} missed its target ({m.value} > {m.limit} {m.unit})"
    errors = [f for f in r.findings if f["severity"] == "error"]
    if errors:
        return "fail", errors[0]["message"]
    return "pass", ""


def run_drill(drill: Drill, inv: Inventory, *, execute: bool = False, options: dict | None = None,
              overlay: dict | None = None, control_ns: str | None = None, lab_prefix: str | None = None,
              report_dir: Path | None = DEFAULT_REPORT_DIR, progress: Progress | None = None,
              lab_hook: Callable | None = None,
              lab_after: Callable | None = None, lab: object | None = None) -> tuple[rec.DrillRecord, dict]:
    """Run `drill` and write its record; returns (record, written paths).

    `lab_prefix` builds a throwaway namespace lab for the targets (torn down afterwards);
    `lab_hook(ctx)` runs after the lab is built (tests use it for fault injection),
    `lab_after(ctx)` after the drill, before the lab is torn down (tests inspect the hosts).
    `lab` runs against an existing DrillLab (built by an earlier drill's `drill.lab`); the caller
    owns it and tears it down.
    """
    options = dict(options or {})
    started = rec.utcnow()
    run_id = new_run_id(drill.name, started)
    mode = "execute" if execute else "check"
    r = rec.DrillRecord(drill.name, drill.title, mode, id=run_id, started_at=rec.iso(started), site=inv.site.code,
                        inventory_digest=inventory_digest(inv),
                        options={k: v for k, v in options.items() if k != "timeout"})
    ctx = DrillContext(inv, execute, options, r, run_id, dict(overlay or {}), control_ns, progress)
    dl = None
    try:
        targets = drill.targets(inv, options)
        r.targets = [describe_target(inv, t) for t in targets]
        if drill.destructive:
            refused = [t for t in targets if not drill_enabled(inv, t)]
            if refused:
                raise DrillRefused(f"refused: {', '.join(refused)} not marked drill_enabled in the inventory")
        r.event("drill started", detail=f"{mode} mode; targets: {', '.join(targets) or '—'}")
        if lab is not None:
            ctx.lab = lab
            ctx.overlay, ctx.control_ns = lab.overlay(), lab.control_ns
            r.lab = {"prefix": lab.prefix, "control_ns": lab.control_ns,
                     "targets": {n: t.ns for n, t in lab.targets.items()}}
            if lab_hook:
                lab_hook(ctx)
                ctx.overlay = lab.overlay()
        elif lab_prefix:
            if drill.lab is None:
                raise DrillRefused(f"drill {drill.name} has no lab")
            from .lab import DrillLab
            dl = DrillLab(lab_prefix)
            ctx.lab = dl
            drill.lab(dl, inv, targets, options)
            ctx.overlay, ctx.control_ns = dl.overlay(), dl.control_ns
            r.lab = {"prefix": lab_prefix, "control_ns": dl.control_ns,
                     "targets": {n: t.ns for n, t in dl.targets.items()}}
            r.event("lab built", detail=", ".join(f"{n}→{t.ns}" for n, t in dl.targets.items()))
            if lab_hook:
                lab_hook(ctx)
                ctx.overlay = dl.overlay()  # the hook may have added hosts
        drill.run(ctx)
        r.verdict, r.reason = verdict(r)
    except DrillRefused as e:
        r.verdict, r.reason = "fail", str(e)
        r.finding("error", str(e))
    except Exception as e:  # noqa: BLE001 — a drill that crashes still leaves a record
        r.verdict, r.reason = "fail", f"{type(e).__name__}: {e}"
        r.finding("error", f"drill aborted: {type(e).__name__}: {e}")
    finally:
        if lab_after and ctx.lab is not None:
            try:
                lab_after(ctx)
            except Exception as e:  # noqa: BLE001
                r.finding("error", f"lab inspection failed: {e}")
        if dl is not None:
            removed = dl.down()
            r.event("lab torn down", detail=f"{len(removed)} objects removed")
        ended = rec.utcnow()
        r.finished_at = rec.iso(ended)
        r.duration_s = round((ended - started).total_seconds(), 3)
        r.event(f"drill finished: {r.verdict}", detail=r.reason)
    paths = rec.save(r, Path(report_dir)) if report_dir else {}
    return r, paths
