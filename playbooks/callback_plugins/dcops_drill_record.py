"""The drill record and verdict of a drill playbook run outside dcops (AWX/AAP, plain ansible-playbook).

Enabled in playbooks/ansible.cfg. Silent when dcops itself runs the playbook (DCOPS_DRILL_RUNNER=1:
`dcops drill run` builds the record from ansible-runner's events) and for playbooks that are no drill.
Otherwise it collects the task results like ansible-runner's event stream does and, when the drill's
final play ("drill record and verdict", playbooks/drills/verdict.yml) starts — or at the end, if the
drill play stopped the run — hands them to dcops.drills.replay, which builds, verdicts, signs
($DCOPS_SIGN_KEY) and chains the record exactly as `dcops drill run` would. The result goes to the
verdict play through the environment (DCOPS_DRILL_RESULT: workers are forked after this point), which
fails the job on a failed drill and publishes the verdict as set_stats (AWX job artifacts).

The run id: -e drill_run_id=… or a new one, exported as DCOPS_DRILL_RUN_ID before the first task (the
destructive roles name their quarantine and work folders after it).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys

from ansible.executor.stats import AggregateStats
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.callback import CallbackBase
from ansible.utils.vars import combine_vars

DOCUMENTATION = """
name: dcops_drill_record
type: aggregate
short_description: writes the dcops drill record and verdict of a drill playbook
description:
  - Builds the signed, hash-chained dcops drill record of a drill playbook run by AWX/AAP or
    ansible-playbook, with the same code as C(dcops drill run); silent under dcops itself.
requirements:
  - the dcops package importable (the execution environment installs it)
"""

RESULT_ENV = "DCOPS_DRILL_RESULT"
RUN_ID_ENV = "DCOPS_DRILL_RUN_ID"
VERDICT_PLAY_VAR = "dcops_drill_verdict_play"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _plain(value):
    """Extra vars and host vars as plain JSON data (ansible-core 2.19 tags its strings)."""
    return json.loads(json.dumps(value, default=str))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "dcops_drill_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._active = False
        self._done = False
        self._file = ""
        self._run = None
        self._play = ""
        self._starts: dict = {}
        self._extra: dict = {}
        self._inventory = None
        self._stats: AggregateStats | None = None
        self._run_id = None
        self._started = None

    # -- what the run is
    def v2_playbook_on_start(self, playbook):
        os.environ.pop(RESULT_ENV, None)
        if os.environ.get("DCOPS_DRILL_RUNNER") == "1":
            return
        try:
            from dcops.drills import replay
            from dcops.drills.runner import PlaybookRun
        except ImportError as e:
            os.environ[RESULT_ENV] = json.dumps({"error": f"dcops is not importable ({e}): no drill record"})
            self._display.warning(f"dcops_drill_record: dcops is not importable ({e}); no drill record")
            return
        drill = replay.drill_for(playbook._file_name)
        if drill is None:
            return
        from ansible import context
        self._active = True
        self._file = drill.playbook
        self._started = dt.datetime.now(dt.timezone.utc)
        self._run = PlaybookRun(drill.playbook, bool(context.CLIARGS.get("check")), started=_now())

    def v2_playbook_on_play_start(self, play):
        if not self._active or self._done:
            return
        if self._stats is None:
            self._stats = self._tqm_stats()
            vm = play.get_variable_manager()
            self._extra = _plain(dict(vm.extra_vars))
            self._inventory = vm._inventory
            from dcops.drills.core import new_run_id
            self._run_id = self._extra.get("drill_run_id") or new_run_id(self._run.playbook.split("/")[-1][:-4],
                                                                          self._started)
            os.environ[RUN_ID_ENV] = str(self._run_id)  # before any worker is forked
        if play.vars.get(VERDICT_PLAY_VAR):
            self._write()
            return
        hosts = play.hosts if isinstance(play.hosts, str) else ",".join(play.hosts or [])
        self._play = play.get_name().strip() or hosts

    @staticmethod
    def _tqm_stats() -> AggregateStats | None:
        """The run's own statistics (TaskQueueManager._stats): the callback is called from the task queue
        manager's send_callback, whose `self` is the manager. The same numbers ansible-runner reports."""
        frame = sys._getframe(1)
        for _ in range(8):
            if frame is None:
                break
            owner = frame.f_locals.get("self")
            if isinstance(getattr(owner, "_stats", None), AggregateStats):
                return owner._stats
            frame = frame.f_back
        return None

    # -- task results, as ansible-runner's event stream has them
    def v2_runner_on_start(self, host, task):
        if self._active and not self._done:
            self._starts[(host.get_name(), task._uuid)] = dt.datetime.now(dt.timezone.utc)

    def _step(self, kind: str, result, res: dict | None, ignore_errors: bool = False) -> None:
        if not self._active or self._done:
            return
        from dcops.drills.runner import step_from_event
        host, task = result._host.get_name(), result._task
        start = self._starts.get((host, task._uuid))
        end = dt.datetime.now(dt.timezone.utc)
        data = {"play": self._play, "task": task.name or task.action, "host": host, "task_action": task.action,
                "start": start.isoformat() if start else "", "end": end.isoformat(),
                "duration": (end - start).total_seconds() if start else 0.0,
                "res": _plain(res) if res else {}, "ignore_errors": ignore_errors}
        self._run.steps.append(step_from_event(kind, data))

    def v2_runner_on_ok(self, result):
        self._step("runner_on_ok", result, result._result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._step("runner_on_failed", result, result._result, ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._step("runner_on_skipped", result, None)

    def v2_runner_on_unreachable(self, result):
        self._step("runner_on_unreachable", result, result._result)

    def v2_runner_item_on_failed(self, result):
        self._step("runner_item_on_failed", result, result._result)

    # -- the record
    def v2_playbook_on_stats(self, stats):
        if self._active and not self._done:
            self._stats = stats
            self._write()  # the drill play ended the run before the verdict play

    def _write(self) -> None:
        self._done = True
        from dcops.drills import replay
        from dcops.drills.runner import stats_of
        st = self._stats
        stats = stats_of({k: dict(getattr(st, k, {}) or {}) for k in ("ok", "changed", "failures", "dark",
                                                                       "skipped", "rescued", "ignored")}) if st else {}
        run = self._run
        run.stats = _plain(stats)
        run.custom = _plain((st.custom.get("_run", {}) if st else {}) or {})
        run.rc = 2 if any(stats.get("failures", {}).values()) else 4 if any(stats.get("dark", {}).values()) else 0
        run.status = "successful" if run.rc == 0 else "failed"
        run.ended = _now()
        hostvars = {}
        # every host of the inventory, whatever the current play is restricted to
        for h in (self._inventory.hosts.values() if self._inventory else []):
            hostvars[h.name] = _plain(combine_vars(get_group_vars(h.get_groups()), h.get_vars()))
        try:
            out = replay.record_run(self._file, run, extravars=self._extra, hostvars=hostvars,
                                    started=self._started, run_id=self._run_id)
        except Exception as e:  # noqa: BLE001 — the verdict play reports it and fails the job
            os.environ[RESULT_ENV] = json.dumps({"error": f"no drill record: {type(e).__name__}: {e}"})
            self._display.error(f"dcops_drill_record: no drill record: {type(e).__name__}: {e}")
            return
        r, paths = out
        summary = {"drill": r.drill, "id": r.id, "verdict": r.verdict, "reason": r.reason,
                   "environment": r.environment["kind"], "record": str(paths["json"]),
                   "hash": r.integrity.get("hash"), "signed": "sig" in paths}
        os.environ[RESULT_ENV] = json.dumps(summary, ensure_ascii=False)
        self._display.banner(f"DCOPS DRILL {r.drill}: {r.verdict.upper()} ({r.environment['kind']})")
        self._display.display(f"record {paths['json']}" + (f" — {r.reason}" if r.reason else ""))
