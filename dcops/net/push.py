"""Safe pushes: backup → load → diff → commit-confirm → verify → confirm, as one fleet transaction.

Phases run concurrently over devices (one thread each, Nornir-style: results
collected per device, no shared state):

  1. prepare  connect, back up the running config, load the candidate
              (validated by the device), diff. A failure here anywhere →
              candidates discarded everywhere; nothing changed.
  2. commit   commit with revert_in=confirm_timeout, then verify over a *fresh*
              SSH session (the new config must still let us in).
  3. confirm  only when every device passed phase 2.

If any device fails in phase 2 or 3, every device changed in this run is
rolled back now; one we can no longer reach reverts by itself when its
commit-confirm timer expires. The report names the device and the step.
Without `commit=True` only phase 1 runs (dry run: diffs and backups).
"""
from __future__ import annotations

import concurrent.futures as cf
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import backup as backup_mod
from .connect import Endpoint, make_driver

StepHook = Callable[[str, str, str], None]  # (device, step, "start" | "done")

STEPS = ("connect", "backup", "load", "diff", "commit", "verify", "confirm", "rollback")


@dataclass
class Target:
    name: str
    platform: str
    candidate: str
    endpoint: Endpoint
    extension: str = "cfg"
    rendered: str | None = None   # the candidate before secrets are resolved (safe to diff and print)

    def redact(self, text: str) -> str:
        from .connect import redactor
        return redactor(self.rendered)(text) if self.rendered else text


@dataclass
class Outcome:
    device: str
    state: str = "pending"       # unchanged | would-change | confirmed | rolled-back | reverting | failed | discarded
    failed_step: str | None = None
    error: str | None = None
    diff: str = ""
    backup: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"device": self.device, "state": self.state, "failed_step": self.failed_step, "error": self.error,
                "changed_lines": sum(1 for ln in self.diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")),
                "backup": str(self.backup) if self.backup else None,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


@dataclass
class Report:
    outcomes: list[Outcome]
    committed: bool
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed_step]

    def summary(self) -> str:
        if not self.failures:
            return "ok"
        f = self.failures[0]
        return f"{f.device} failed at {f.failed_step}: {f.error}"


class StepFailed(Exception):
    pass


class _Session:
    """One device's drivers and outcome during a push."""

    def __init__(self, target: Target, hook: StepHook | None, timeout: int):
        self.t = target
        self.hook = hook
        self.timeout = timeout
        self.out = Outcome(target.name)
        self.drv = None
        self.fresh = None
        self.committed = False

    def step(self, name: str, fn):
        if self.hook:
            self.hook(self.t.name, name, "start")
        t0 = time.perf_counter()
        try:
            result = fn()
            if self.hook:
                self.hook(self.t.name, name, "done")
        except Exception as e:
            self.out.failed_step, self.out.error = name, _one_line(e)
            self.out.seconds[name] = time.perf_counter() - t0
            raise StepFailed(name) from e
        self.out.seconds[name] = time.perf_counter() - t0
        return result

    def driver(self):
        return make_driver(self.t.platform, self.t.endpoint, timeout=self.timeout)

    def close(self) -> None:
        for d in (self.drv, self.fresh):
            if d is not None:
                try:
                    d.close()
                except Exception:
                    pass


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " / ".join(lines[:3])


class Pusher:
    def __init__(self, backups: Path, *, commit: bool = False, confirm_timeout: int = 60, workers: int = 16,
                 hook: StepHook | None = None, timeout: int = 20):
        self.backups = Path(backups)
        self.commit = commit
        self.confirm_timeout = int(confirm_timeout)
        self.workers = workers
        self.hook = hook
        self.timeout = timeout

    def _parallel(self, sessions: list[_Session], fn) -> None:
        if not sessions:
            return
        with cf.ThreadPoolExecutor(max_workers=min(self.workers, len(sessions))) as pool:
            list(pool.map(lambda s: _guard(fn, s), sessions))

    def run(self, targets: list[Target]) -> Report:
        t0 = time.perf_counter()
        sessions = [_Session(t, self.hook, self.timeout) for t in targets]
        try:
            self._parallel(sessions, self._prepare)
            if any(s.out.failed_step for s in sessions):
                self._parallel(sessions, self._discard)
                return self._report(sessions, t0)
            if not self.commit:
                self._parallel(sessions, self._discard_dry)
                return self._report(sessions, t0)
            changing = [s for s in sessions if s.out.diff]
            self._parallel([s for s in sessions if not s.out.diff], self._discard_dry)
            self._parallel(changing, self._commit)
            if any(s.out.failed_step for s in changing):
                self._parallel([s for s in changing if s.committed or s.out.failed_step], self._undo)
                return self._report(sessions, t0)
            self._parallel(changing, self._confirm)
            if any(s.out.failed_step for s in changing):
                self._parallel([s for s in changing if s.committed], self._undo)
            return self._report(sessions, t0)
        finally:
            for s in sessions:
                s.close()

    def _report(self, sessions: list[_Session], t0: float) -> Report:
        return Report([s.out for s in sessions], self.commit, time.perf_counter() - t0)

    # -- phases
    def _prepare(self, s: _Session) -> None:
        s.drv = s.driver()
        try:
            s.step("connect", s.drv.open)
        except StepFailed:
            if not self.commit:
                self._offline(s)
            raise
        running = s.step("backup", lambda: s.drv.get_config(retrieve="running")["running"])
        s.out.backup = backup_mod.save(self.backups, s.t.name, running, s.t.extension)
        s.step("load", lambda: s.drv.load_replace_candidate(config=s.t.candidate))
        s.out.diff = s.t.redact(s.step("diff", s.drv.compare_config))  # never print resolved secrets

    def _offline(self, s: _Session) -> None:
        """Dry run of an unreachable device: say so, and diff against its last backup instead."""
        from .offline import diff_against_backup
        try:
            s.out.diff, b = diff_against_backup(s.t.name, s.t.platform, s.t.rendered or s.t.candidate, self.backups)
            s.out.error = f"cannot reach the device ({s.out.error}); diff shown against its last backup {b.name}"
        except FileNotFoundError:
            s.out.error = f"cannot reach the device ({s.out.error}) and it has no backup under {self.backups}"

    def _discard_dry(self, s: _Session) -> None:
        s.drv.discard_config()
        s.out.state = "would-change" if s.out.diff else "unchanged"

    def _discard(self, s: _Session) -> None:
        if s.drv is not None and s.out.failed_step != "connect":
            try:
                s.drv.discard_config()
            except Exception:
                pass  # the candidate is inert: it is never applied without a commit
        if not s.out.failed_step:
            s.out.state = "discarded"
        else:
            s.out.state = "failed"

    def _commit(self, s: _Session) -> None:
        s.step("commit", lambda: s.drv.commit_config(message="dcops net push", revert_in=self.confirm_timeout))
        s.committed = True

        def verify():
            s.fresh = s.driver()
            s.fresh.open()
            if _device_tracks_commits(s.fresh) and not s.fresh.has_pending_commit():
                raise RuntimeError("the device shows no pending commit-confirm (reverted already?)")
        s.step("verify", verify)

    def _confirm(self, s: _Session) -> None:
        # Confirm over the fresh session when the device itself knows about the pending commit
        # (NAPALM drivers); adapters that keep that state per session confirm on their own session.
        d = s.fresh if _device_tracks_commits(s.fresh) else s.drv
        s.step("confirm", d.confirm_commit)
        s.out.state = "confirmed"

    def _undo(self, s: _Session) -> None:
        """Roll back a device changed in this run; unreachable ones revert by their own timer."""
        def changed(d) -> bool:
            # A device whose commit step failed changed only if its commit-confirm is armed; rolling
            # back one that did not change would restore the config of an older commit.
            return s.committed or s.out.state == "confirmed" or d.has_pending_commit()

        def rollback() -> bool:
            for d in (s.fresh, s.drv):
                if d is None:
                    continue
                try:
                    if d.is_alive().get("is_alive"):
                        if changed(d):
                            d.rollback()
                            return True
                        return False
                except Exception:
                    continue
            d = s.driver()
            d.open()
            try:
                if changed(d):
                    d.rollback()
                    return True
                return False
            finally:
                d.close()
        try:
            if self.hook:
                self.hook(s.t.name, "rollback", "start")
            if not rollback():
                s.out.state = "failed"  # nothing was applied on this device
                return
            s.out.state = "rolled-back"
        except Exception as e:
            s.out.state = "reverting"
            note = f"rollback not possible now ({_one_line(e)}); reverts by itself within {self.confirm_timeout} s"
            s.out.error = f"{s.out.error}; {note}" if s.out.error else note
        if s.out.failed_step is None:
            s.out.error = s.out.error or "rolled back because another device failed"


def _device_tracks_commits(driver) -> bool:
    """NAPALM drivers keep commit-confirm state on the device; an adapter may say otherwise."""
    return getattr(driver, "pending_commit_on_device", True)


def _guard(fn, s: _Session) -> None:
    try:
        fn(s)
    except StepFailed:
        s.out.state = "failed"
    except Exception as e:  # a bug or a driver surprise: still a per-device failure, never a crash
        s.out.state = "failed"
        s.out.failed_step = s.out.failed_step or "internal"
        s.out.error = s.out.error or _one_line(e)
