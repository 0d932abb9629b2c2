"""Running a drill: targets, refusal of what the inventory does not mark drill-enabled, the
playbook runs, measurements, verdict and the record."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
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
    report_dir: Path | None = None  # where the record and its artefacts go
    inventory_path: Path | None = None  # the model's folder, for the playbooks' own guard

    @property
    def production(self) -> bool:
        return self.record.is_production

    def artefact(self, name: str, src: Path, what: str) -> None:
        """Keep `src` with the record as <run-id>.<name> (hash in the record, so the chain covers it)."""
        data = Path(src).read_bytes()
        entry = {"name": what, "path": f"{self.run_id}.{name}", "sha256": hashlib.sha256(data).hexdigest(),
                 "bytes": len(data)}
        if self.report_dir:
            folder = Path(self.report_dir)
            folder.mkdir(parents=True, exist_ok=True)
            dst = folder / entry["path"]
            dst.write_bytes(data)
            entry["path"] = str(dst)
        self.record.artefacts.append(entry)

    def inventory(self) -> dict:
        return static_yaml(dynamic(self.inv, self.overlay, lab=self.lab is not None))

    def hostvars(self, name: str) -> dict:
        return dynamic(self.inv, self.overlay, lab=self.lab is not None)["_meta"]["hostvars"][name]

    def playbook(self, path: str, extravars: dict | None = None, *, check: bool | None = None) -> PlaybookRun:
        """Run a playbook; its tasks become steps, its run a line in record.playbooks."""
        check = (not self.execute) if check is None else check
        ev = {"drill_run_id": self.run_id, **(extravars or {})}
        if self.progress:
            self.progress("playbook", {"playbook": path, "check": check})
        run = self._execute(path, ev, check)
        return self.record_run(path, check, run)

    def record_run(self, path: str, check: bool, run: PlaybookRun) -> PlaybookRun:
        """A playbook run on the record: its tasks as steps, a line in record.playbooks, the timeline."""
        self.record.event(f"playbook {path} started" + (" (check mode)" if check else ""), at=run.started or None)
        for s in run.steps:
            status = "changed" if s.status == "ok" and s.changed else s.status
            self.record.steps.append(rec.StepRecord(s.task, status, s.host, s.started, s.ended, s.duration_s,
                                                    s.message, "ansible", s.diff))
            if s.status in ("failed", "unreachable"):
                self.record.event(f"FAILED: {s.task}", host=s.host, at=s.ended or None, detail=s.message[:300])
        self.record.playbooks.append({"playbook": path, "check": check, "status": run.status, "rc": run.rc,
                                      "started": run.started, "ended": run.ended, "stats": run.stats})
        self.record.event(f"playbook {path} {run.status}", at=run.ended or None, detail=f"rc={run.rc}")
        return run

    def _execute(self, path: str, extravars: dict, check: bool) -> PlaybookRun:
        """Run the playbook through ansible-runner (a replayed record returns the run it saw: replay.py)."""
        return run_playbook(path, inventory=self.inventory(), extravars=extravars, check=check,
                            control_ns=self.control_ns, progress=self.progress,
                            timeout=int(self.options.get("timeout", 1800)), inventory_path=self.inventory_path)


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
    #: without --execute the drill only computes a plan and contacts nobody (no lab either)
    plan_only_without_execute: bool = False

    def needs_lab(self, execute: bool) -> bool:
        return execute or not self.plan_only_without_execute


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


def environment(*, lab: object | None, lab_prefix: str | None, overlay: dict | None,
                control_ns: str | None, plan: bool = False) -> dict:
    """Where the drill runs. Production only when the targets are reached at their inventory
    addresses with nothing overlaid; a lab or an overlaid (staging) run is a rehearsal."""
    if plan:
        return {"kind": "plan", "reason": "plan only: no device contacted, no lab built", "scale": ""}
    if lab is not None or lab_prefix:
        prefix = getattr(lab, "prefix", None) or lab_prefix
        return {"kind": "lab", "reason": f"throwaway namespace lab {prefix} standing in for the targets",
                "scale": "lab"}
    if overlay or control_ns:
        return {"kind": "staging", "reason": "connection settings overlaid (--targets-file): the targets were "
                "not reached at their inventory addresses", "scale": "unknown"}
    return {"kind": "production", "reason": "targets reached at their inventory addresses", "scale": "1:1"}


def lab_overrides(overlay: dict) -> dict:
    """What a lab overlay changes beyond connections (its stand-ins for the real platforms), per host."""
    from .inventory import LAB_KEYS, LAB_IDENTITY_KEYS
    out = {h: {k: v for k, v in vs.items() if k in LAB_KEYS and k not in LAB_IDENTITY_KEYS}
           for h, vs in overlay.items()}
    return {h: v for h, v in out.items() if v}


def label_measurements(r: rec.DrillRecord) -> None:
    """Say where every figure was measured; compare with a production limit only in production."""
    kind = r.environment["kind"]
    for m in r.measurements:
        m.measured_in = m.measured_in or kind
        if m.measured_in in ("production", "model") or m.limit is None or m.value is None:
            continue
        side = "within" if m.value <= m.limit else "beyond"
        m.comparison = (f"{m.measured_in} figure{' at ' + m.scale if m.scale else ''}: {side} the production "
                        "limit, which it cannot evidence; not compared")
        m.met = None


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
              lab_after: Callable | None = None, lab: object | None = None,
              operator: str | None = None, approver: str | None = None, approval_ref: str | None = None,
              sign_key: Path | None = None, inventory_path: Path | None = None,
              via: str = "dcops drill run") -> tuple[rec.DrillRecord, dict]:
    """Run `drill` and write its record; returns (record, written paths).

    `lab_prefix` builds a throwaway namespace lab for the targets (torn down afterwards);
    `lab_hook(ctx)` runs after the lab is built (tests use it for fault injection),
    `lab_after(ctx)` after the drill, before the lab is torn down (tests inspect the hosts).
    `lab` runs against an existing DrillLab (built by an earlier drill's `drill.lab`); the caller
    owns it and tears it down.
    `operator`/`approver` name the people (else $DCOPS_OPERATOR / $DCOPS_APPROVER); `sign_key` (else
    $DCOPS_SIGN_KEY) is the operator's SSH key that signs the record.
    """
    options = dict(options or {})
    started = rec.utcnow()
    r, sign_key = new_record(drill, inv, execute=execute, options=options, started=started,
                             env=environment(lab=lab, lab_prefix=lab_prefix, overlay=overlay, control_ns=control_ns,
                                             plan=not drill.needs_lab(execute)),
                             operator=operator, approver=approver, approval_ref=approval_ref, sign_key=sign_key,
                             via=via)
    run_id = r.id
    ctx = DrillContext(inv, execute, options, r, run_id, dict(overlay or {}), control_ns, progress,
                       report_dir=Path(report_dir) if report_dir else None, inventory_path=inventory_path)
    dl = None

    def body() -> None:
        nonlocal dl
        targets = select_targets(drill, inv, options, r)
        if lab is not None:
            ctx.lab = lab
            ctx.overlay, ctx.control_ns = lab.overlay(), lab.control_ns
            r.lab = {"prefix": lab.prefix, "control_ns": lab.control_ns,
                     "targets": {n: t.ns for n, t in lab.targets.items()}}
            if lab_hook:
                lab_hook(ctx)
                ctx.overlay = lab.overlay()
        elif lab_prefix and drill.needs_lab(execute):
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
        if ctx.lab is not None:  # what the lab changed beyond connections: its stand-ins, on the record
            r.environment["lab_overrides"] = lab_overrides(ctx.overlay)
        drill.run(ctx)

    try:
        conclude(r, body)
    finally:
        if lab_after and ctx.lab is not None:
            try:
                lab_after(ctx)
            except Exception as e:  # noqa: BLE001
                r.finding("error", f"lab inspection failed: {e}")
        if dl is not None:
            removed = dl.down()
            r.event("lab torn down", detail=f"{len(removed)} objects removed")
        finish(r, started)
    paths = rec.save(r, Path(report_dir), sign_key) if report_dir else {}
    return r, paths


def new_record(drill: Drill, inv: Inventory, *, execute: bool, options: dict, started: dt.datetime, env: dict,
               operator: str | None, approver: str | None, approval_ref: str | None, sign_key: Path | None,
               via: str, run_id: str | None = None) -> tuple[rec.DrillRecord, Path | None]:
    """The record of a drill about to run (also for a run AWX or ansible-playbook started: replay.py),
    with the evidence warnings of a production run; returns it and the signing key to use."""
    r = rec.DrillRecord(drill.name, drill.title, "execute" if execute else "check",
                        id=run_id or new_run_id(drill.name, started), started_at=rec.iso(started),
                        site=inv.site.code, inventory_digest=inventory_digest(inv),
                        options={k: v for k, v in options.items() if k != "timeout"},
                        operator=rec.operator(operator, via), approver=rec.approver(approver, approval_ref),
                        environment=env)
    sign_key = sign_key or (Path(os.environ["DCOPS_SIGN_KEY"]) if os.environ.get("DCOPS_SIGN_KEY") else None)
    if r.is_production and execute:
        if not r.operator["name"]:
            r.finding("warning", "no operator named (--operator or DCOPS_OPERATOR): the record is no evidence")
        if not r.approver:
            r.finding("warning", "no approver named (--approver or DCOPS_APPROVER): the record is no evidence")
        if not sign_key:
            r.finding("warning", "record not signed (--sign-key or DCOPS_SIGN_KEY): the record is no evidence")
    return r, sign_key


def select_targets(drill: Drill, inv: Inventory, options: dict, r: rec.DrillRecord,
                   at: dt.datetime | None = None) -> list[str]:
    """The drill's targets, on the record; refuses any a destructive drill may not touch."""
    targets = drill.targets(inv, options)
    r.targets = [describe_target(inv, t) for t in targets]
    if drill.destructive:
        refused = [t for t in targets if not drill_enabled(inv, t)]
        if refused:
            raise DrillRefused(f"refused: {', '.join(refused)} not marked drill_enabled in the inventory")
    r.event("drill started", at=at, detail=f"{r.mode} mode; targets: {', '.join(targets) or '—'}")
    return targets


def conclude(r: rec.DrillRecord, body: Callable[[], None]) -> None:
    """Run the drill (`body`: targets, lab, the drill's own logic) and decide the verdict; a refusal
    or a crash still leaves a verdict and every figure taken so far, labelled."""
    try:
        body()
        label_measurements(r)
        r.verdict, r.reason = verdict(r)
    except DrillRefused as e:
        r.verdict, r.reason = "fail", str(e)
        r.finding("error", str(e))
    except Exception as e:  # noqa: BLE001 — a drill that crashes still leaves a record
        r.verdict, r.reason = "fail", f"{type(e).__name__}: {e}"
        r.finding("error", f"drill aborted: {type(e).__name__}: {e}")
    finally:
        label_measurements(r)  # also after a crash: every figure kept says where it was measured


def finish(r: rec.DrillRecord, started: dt.datetime) -> None:
    ended = rec.utcnow()
    r.finished_at = rec.iso(ended)
    r.duration_s = round((ended - started).total_seconds(), 3)
    r.event(f"drill finished: {r.verdict}", detail=r.reason)
