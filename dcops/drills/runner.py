"""Run one playbook through ansible-runner's Python API and keep what the drill needs from its events.

A fresh private_data_dir per run (ansible-runner writes cmdline/extravars into
env/ and a later run would silently reuse them). Check mode is `--check --diff`.
For a lab run, ansible-playbook executes inside the lab's control namespace
through a small wrapper passed as runner's `binary`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ansible_runner

from dcops import PROJECT_ROOT, paths

PLAYBOOKS = paths.PLAYBOOKS

#: runner event → step status
_STATUS = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped",
           "runner_on_unreachable": "unreachable", "runner_item_on_failed": "failed"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Step:
    play: str
    task: str
    host: str
    status: str
    started: str
    ended: str
    duration_s: float
    changed: bool = False
    message: str = ""
    action: str = ""
    diff: str = ""


@dataclass
class PlaybookRun:
    playbook: str
    check: bool
    status: str = "unstarted"
    rc: int | None = None
    started: str = ""
    ended: str = ""
    steps: list[Step] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    custom: dict = field(default_factory=dict)  # set_stats data (drill marks, measurements)
    private_dir: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0

    @property
    def failed_steps(self) -> list[Step]:
        return [s for s in self.steps if s.status in ("failed", "unreachable")]


def _diff(res: dict) -> str:
    """`--diff` output of a task as a unified diff (what check mode would change)."""
    import difflib
    out = []
    diffs = res.get("diff") or []
    for d in diffs if isinstance(diffs, list) else [diffs]:
        if not isinstance(d, dict):
            continue
        if "prepared" in d:
            out.append(str(d["prepared"]))
        elif "before" in d or "after" in d:
            before, after = str(d.get("before", "")), str(d.get("after", ""))
            out.extend(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                            str(d.get("before_header", "before")),
                                            str(d.get("after_header", "after")), lineterm=""))
    return "\n".join(out)[:20000]


def _message(res: dict) -> str:
    for key in ("msg", "stderr", "reason"):
        v = res.get(key)
        if v:
            return str(v).strip()[:600]
    if res.get("results"):
        for item in res["results"]:
            if isinstance(item, dict) and item.get("failed"):
                return _message(item)
    return ""


Progress = Callable[[str, dict], None]

#: set for ansible-playbook when dcops itself runs the drill: the playbooks' own record callback
#: (playbooks/callback_plugins/dcops_drill_record.py) and verdict play then stay silent
RUNNER_ENV = "DCOPS_DRILL_RUNNER"


def step_from_event(kind: str, data: dict) -> Step:
    """One task result (an ansible-runner event, or the same fields from the record callback)."""
    res = data.get("res", {}) or {}
    st, en = data.get("start"), data.get("end")
    step = Step(play=data.get("play", ""), task=data.get("task", ""), host=data.get("host", ""),
                status=_STATUS[kind], started=st or "", ended=en or "",
                duration_s=round(float(data.get("duration") or 0.0), 3),
                changed=bool(res.get("changed")), action=data.get("task_action", ""),
                message=_message(res) if kind != "runner_on_ok" or res.get("msg") else "",
                diff=_diff(res))
    if data.get("ignore_errors") and step.status == "failed":
        step.status = "ignored"
    return step


def stats_of(data: dict) -> dict:
    return {k: data.get(k, {}) for k in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")}


def run_playbook(playbook: str, *, inventory: dict, extravars: dict | None = None, check: bool = True,
                 control_ns: str | None = None, progress: Progress | None = None,
                 timeout: int = 900, keep: bool = False, inventory_path: Path | None = None) -> PlaybookRun:
    """Run `playbooks/<playbook>`; returns steps (one per task and host), stats and set_stats data."""
    pdd = Path(tempfile.mkdtemp(prefix="dcops-drill-"))
    run = PlaybookRun(playbook, check, private_dir=str(pdd))
    inv_path = pdd / "inventory" / "hosts.json"
    inv_path.parent.mkdir()
    inv_path.write_text(json.dumps(inventory, ensure_ascii=False))
    envvars = {
        # per-run ControlPersist sockets: two labs may reuse the same lab addresses
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(pdd / "cp"),
        "ANSIBLE_LOCAL_TEMP": str(pdd / "tmp"),
        "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        RUNNER_ENV: "1",
        # the playbooks' guard plugin re-reads the model: this tree's dcops, this inventory
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
    }
    envvars.update(paths.as_env())  # the same data folders as this process (dcops/paths.py)
    if inventory_path:
        envvars["DCOPS_INVENTORY"] = str(inventory_path)
    binary = None
    if control_ns:
        binary = pdd / "ansible-playbook-in-lab"
        exe = shutil.which("ansible-playbook")
        binary.write_text(f'#!/bin/sh\nexec ip netns exec {control_ns} {exe} "$@" {PLAYBOOKS / playbook}\n')
        binary.chmod(0o700)
    starts: dict[str, float] = {}

    def on_event(ev: dict) -> bool:
        kind = ev.get("event", "")
        data = ev.get("event_data", {})
        if kind == "playbook_on_task_start":
            if progress:
                progress("task", {"task": data.get("task", ""), "play": data.get("play", "")})
        elif kind == "runner_on_start":
            starts[f"{data.get('task_uuid')}/{data.get('host')}"] = time.time()
            if progress:
                progress("host", {"task": data.get("task", ""), "host": data.get("host", "")})
        elif kind in _STATUS:
            step = step_from_event(kind, data)
            run.steps.append(step)
            if progress:
                progress("result", {"step": step})
        elif kind == "playbook_on_stats":
            run.stats = stats_of(data)
            run.custom = data.get("artifact_data", {}) or {}
        return True

    run.started = utcnow().isoformat()
    try:
        r = ansible_runner.run(
            private_data_dir=str(pdd), project_dir=str(PLAYBOOKS), playbook=playbook,
            inventory=str(inv_path), extravars=extravars or {}, envvars=envvars,
            cmdline="--check --diff" if check else None, binary=str(binary) if binary else None,
            event_handler=on_event, quiet=True, timeout=timeout,
        )
        run.status, run.rc = r.status, r.rc
    finally:
        run.ended = utcnow().isoformat()
        if not keep:
            shutil.rmtree(pdd, ignore_errors=True)
    return run
