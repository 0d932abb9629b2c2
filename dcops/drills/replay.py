"""The record of a drill whose playbook ran outside dcops: AWX/AAP or plain `ansible-playbook`.

The playbooks' callback (playbooks/callback_plugins/dcops_drill_record.py) hands over what it saw —
the task results, the statistics and set_stats data, the extra vars and the inventory the run used —
and this module builds the record with the same code as `dcops drill run` (core.new_record, the
drill's own `run`, core.conclude, record.save). The drill's logic runs as usual; its one playbook
call returns the run that already happened, after checking it is the playbook, mode and extra vars
the drill would have used. A drill that needs more than that one playbook (or a lab object built by
dcops) is reported as failed with the reason, never guessed.

Where the run happened comes from the inventory the playbook saw, compared with the model: lab hosts
carry their lab's identity (dcops_lab_*), changed connection settings make it staging, and extra vars
that set connection settings make it staging too (they override the inventory).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dcops import paths

from . import record as rec
from .core import (DEFAULT_REPORT_DIR, Drill, DrillContext, DrillRefused, conclude, environment, finish,
                   lab_overrides, new_record, select_targets)
from .inventory import OVERLAY_KEYS, dynamic
from .runner import PlaybookRun, Step

#: where a record written by the callback goes (AWX: a folder mounted into the execution environment)
REPORT_DIR_ENV = "DCOPS_DRILL_REPORT_DIR"
#: the extra var carrying the drill's options (what `dcops drill run -o KEY=VALUE -t NAME` sets)
OPTIONS_VAR = "dcops_drill_options"
#: the extra var carrying an AWX workflow's earlier parts (its nodes' set_stats artifacts): part_of's dicts
PARTS_VAR = "dcops_drill_parts"


def drill_for(playbook: str | Path) -> Drill | None:
    """The drill whose playbook this is (path relative to playbooks/, or absolute)."""
    from .registry import DRILLS
    p = Path(playbook)
    try:
        rel = p.resolve().relative_to(paths.playbooks().resolve()).as_posix() if p.is_absolute() else p.as_posix()
    except ValueError:
        rel = "/".join(p.parts[-2:])
    for d in DRILLS.values():
        if d.playbook and (rel == d.playbook or rel.endswith("/" + d.playbook)):
            return d
    return None


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@dataclass
class ReplayContext(DrillContext):
    """A drill context whose playbooks already ran: the drill's playbook calls return those runs, in order —
    the earlier parts of an AWX workflow (`parts`, handed on by its nodes), then this job's own run."""
    captured: PlaybookRun | None = None
    extravars: dict = field(default_factory=dict)
    #: (run, its extra vars) of the workflow's earlier nodes, in the order they ran
    parts: list[tuple[PlaybookRun, dict]] = field(default_factory=list)
    taken: int = 0

    @property
    def runs(self) -> list[tuple[PlaybookRun, dict]]:
        return [*self.parts, (self.captured, self.extravars)]

    @property
    def used(self) -> bool:
        """Every run was taken by the drill (a run it did not ask for is not this drill's)."""
        return self.taken == len(self.runs)

    def _execute(self, path: str, extravars: dict, check: bool) -> PlaybookRun:
        if self.taken == len(self.runs):
            raise DrillRefused(f"drill {self.record.drill} runs another playbook ({path}) here: run it with "
                               "`dcops drill run` or as its AWX workflow (awx/workflows/), the playbook alone is "
                               "not the whole drill")
        run, given = self.runs[self.taken]
        if path != run.playbook:
            raise DrillRefused(f"drill {self.record.drill} runs {path}, the run was {run.playbook}")
        if check != run.check:
            raise DrillRefused(f"the playbook ran {'in check mode' if run.check else 'for real'}; drill "
                               f"{self.record.drill} in this mode runs it {'in check mode' if check else 'for real'}")
        wrong = [f"{k}={given.get(k)!r} (the drill gives {v!r})" for k, v in extravars.items()
                 if k != "drill_run_id" and not _same(given.get(k), v)]
        if wrong:
            raise DrillRefused("the playbook ran with other extra vars than the drill gives it: " + "; ".join(wrong))
        self.taken += 1
        return run


def part_of(run: PlaybookRun, extravars: dict) -> dict:
    """One workflow node's run as JSON-able data, to hand on to the following nodes (a set_stats artifact)."""
    d = asdict(run)
    d["extravars"] = {k: v for k, v in extravars.items() if k != PARTS_VAR}
    return d


def parts_from(extravars: dict) -> list[tuple[PlaybookRun, dict]]:
    """The earlier parts of a workflow from the extra vars AWX gave this node (none outside a workflow)."""
    out = []
    for i, d in enumerate(extravars.get(PARTS_VAR) or []):
        try:
            d = dict(d)
            ev = dict(d.pop("extravars"))
            steps = [Step(**s) for s in d.pop("steps")]
            out.append((PlaybookRun(**d, steps=steps), ev))
        except (TypeError, KeyError, ValueError) as e:
            raise DrillRefused(f"{PARTS_VAR}[{i}] is not a workflow part ({type(e).__name__}: {e})") from None
    return out


def where(inv, hostvars: dict[str, dict], extravars: dict) -> tuple[dict, dict, dict | None]:
    """(environment, overlay, lab) of a run from the inventory it used, compared with the model."""
    model = dynamic(inv)["_meta"]["hostvars"]
    overlay: dict[str, dict] = {}
    unknown = sorted(h for h in hostvars if h not in model and h != "localhost")
    for h, hv in hostvars.items():
        if h in model:
            diff = {k: v for k, v in hv.items() if k in OVERLAY_KEYS and not _same(model[h].get(k), v)}
            if diff:
                overlay[h] = diff
    forced = sorted(k for k in extravars if k in OVERLAY_KEYS)
    prefixes = {v["dcops_lab_prefix"] for v in overlay.values() if "dcops_lab_prefix" in v}
    if len(prefixes) == 1 and not forced and not unknown:
        prefix = prefixes.pop()
        lab_hosts = {h: v for h, v in overlay.items() if v.get("dcops_lab_prefix") == prefix}
        control = next(iter({v.get("dcops_lab_control_ns") for v in lab_hosts.values()}))
        env = environment(lab=None, lab_prefix=prefix, overlay=overlay, control_ns=control)
        env["lab_overrides"] = lab_overrides(overlay)
        lab = {"prefix": prefix, "control_ns": control, "targets": {h: v["dcops_lab_ns"] for h, v in lab_hosts.items()
                                                                    if "dcops_lab_ns" in v}}
        return env, overlay, lab
    changed = overlay or ({"(extra vars or unknown hosts)": {}} if forced or unknown else None)
    env = environment(lab=None, lab_prefix=None, overlay=changed, control_ns=None)
    if forced:
        env["reason"] = (f"extra vars set connection settings ({', '.join(forced)}): they override the "
                         "inventory, so the targets were not reached at their inventory addresses")
    elif unknown:
        env["reason"] = f"the run's inventory has hosts the dcops model does not know: {', '.join(unknown[:8])}"
    return env, overlay, None


def via_of(extravars: dict) -> tuple[str, str | None]:
    """(how the drill was started, the AWX user if any) from the extra vars AWX/AAP always sets."""
    job = extravars.get("awx_job_id") or extravars.get("tower_job_id")
    if job:
        name = extravars.get("awx_job_template_name") or extravars.get("tower_job_template_name") or ""
        return f"AWX job {job}" + (f" ({name})" if name else ""), extravars.get("awx_user_name")
    return "ansible-playbook", None


def record_run(playbook: str, run: PlaybookRun, *, extravars: dict, hostvars: dict[str, dict],
               started: dt.datetime, run_id: str | None = None, report_dir: Path | None = None,
               inventory_path: Path | None = None,
               parts: list[tuple[PlaybookRun, dict]] | None = None) -> tuple[rec.DrillRecord, dict] | None:
    """Build, verdict and save the record of `run`, after the workflow's earlier `parts` (None when the
    playbook is no drill's)."""
    from dcops.model import load_inventory
    drill = drill_for(playbook)
    if drill is None:
        return None
    inv = load_inventory(inventory_path)
    options = dict(extravars.get(OPTIONS_VAR) or {})
    via, awx_user = via_of(extravars)
    env, overlay, lab = where(inv, hostvars, extravars)
    r, sign_key = new_record(drill, inv, execute=not run.check, options=options, started=started, env=env,
                             operator=None, approver=None, approval_ref=None, sign_key=None, via=via, run_id=run_id)
    if awx_user:
        r.operator["awx_user"] = awx_user
    folder = Path(report_dir or os.environ.get(REPORT_DIR_ENV) or DEFAULT_REPORT_DIR)
    ctx = ReplayContext(inv, not run.check, options, r, r.id, overlay, None, None, report_dir=folder,
                        inventory_path=inventory_path, captured=run, extravars=extravars,
                        parts=list(parts) if parts is not None else [])

    def body() -> None:
        if parts is None:
            ctx.parts = parts_from(extravars)
        select_targets(drill, inv, options, r, at=started)
        if lab:
            r.lab = lab
        drill.run(ctx)
        if not ctx.used:
            left = ctx.runs[ctx.taken][0].playbook
            raise DrillRefused(f"drill {drill.name} in {r.mode} mode does not run {left}; the run is not "
                               "this drill")

    try:
        conclude(r, body)
    finally:
        for left, _ in ctx.runs[ctx.taken:]:  # refused or failed before the drill took them: still on the record
            ctx.record_run(left.playbook, left.check, left)
        finish(r, started)
    return r, rec.save(r, folder, sign_key)
