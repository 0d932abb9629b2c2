"""Safe pushes: backup → load → diff → commit-confirm → verify → confirm, as one fleet transaction.

Phases run concurrently over devices (one thread each, Nornir-style: results
collected per device, no shared state):

  1. prepare  connect, back up the running config, load the candidate
              (validated by the device; loading takes the device's lock, so a
              concurrent push elsewhere fails with "device busy"), diff. A
              failure here anywhere → candidates discarded everywhere (which
              releases our locks); nothing changed.
  2. commit   commit with revert_in=confirm_timeout, then verify over a *fresh*
              SSH session (the new config must still let us in).
  3. confirm  only when every device passed phase 2; releases the lock, then
              backs up the confirmed config (so an offline dry run diffs
              against what the device really runs).

If any device fails in phase 2 or 3, every device changed in this run is
rolled back now; one we can no longer reach reverts by itself when its
commit-confirm timer expires. The report names the device and the step, and
says only what is known: "reverting" when a commit-confirm is armed on an
unreachable device, "unknown" when the session died during commit and the
device cannot be asked. Every driver of one device shares one lock token.
Without `commit=True` only phase 1 runs (dry run: diffs and backups).
"""
from __future__ import annotations

import concurrent.futures as cf
import secrets
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
    # unchanged | would-change | confirmed | rolled-back | reverted | reverting | unknown | failed | discarded
    state: str = "pending"
    failed_step: str | None = None
    error: str | None = None
    diff: str = ""
    backup: Path | None = None          # the running config before this push
    backup_after: Path | None = None    # the confirmed config, fetched after confirm
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def committed(self) -> bool:
        """The device runs this push's candidate now (confirmed and kept)."""
        return self.state == "confirmed"

    def as_dict(self) -> dict:
        return {"device": self.device, "state": self.state, "committed": self.committed,
                "failed_step": self.failed_step, "error": self.error,
                "changed_lines": sum(1 for ln in self.diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")),
                "backup": str(self.backup) if self.backup else None,
                "backup_after": str(self.backup_after) if self.backup_after else None,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


@dataclass
class Report:
    outcomes: list[Outcome]
    commit: bool                 # --commit was asked for (False: dry run)
    seconds: float = 0.0
    lint: str = "passed"         # passed | skipped (--no-lint) | not run (library use)

    @property
    def committed(self) -> list[str]:
        """Devices that run this push's candidate now."""
        return [o.device for o in self.outcomes if o.committed]

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


class PushRefused(ValueError):
    """The push cannot be safe as asked (e.g. a confirm timeout the verify steps cannot meet)."""


def min_confirm_timeout(connect_timeout: float, command_timeout: float) -> float:
    """Worst case from arming the revert timer to confirming: the rest of the commit command, a fresh
    connection and one command to verify, the confirm command."""
    return connect_timeout + 3 * command_timeout


class _Session:
    """One device's drivers and outcome during a push."""

    def __init__(self, target: Target, hook: StepHook | None, timeout: float, command_timeout: float):
        self.t = target
        self.hook = hook
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.token = secrets.token_hex(16)   # this push's lock token (= candidate id) on this device
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
        return make_driver(self.t.platform, self.t.endpoint, timeout=self.timeout,
                           command_timeout=self.command_timeout, lock_token=self.token)

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
                 hook: StepHook | None = None, connect_timeout: float = 5, command_timeout: float = 8,
                 lint: str = "not run", timeout: float | None = None):
        if timeout is not None:  # the older name of connect_timeout
            connect_timeout = timeout
        self.backups = Path(backups)
        self.commit = commit
        self.confirm_timeout = int(confirm_timeout)
        self.workers = workers
        self.hook = hook
        self.timeout = connect_timeout
        self.command_timeout = command_timeout
        self.lint = lint
        need = min_confirm_timeout(connect_timeout, command_timeout)
        if commit and self.confirm_timeout <= need:
            raise PushRefused(
                f"confirm timeout {self.confirm_timeout} s cannot be met: verifying a commit may take up to "
                f"{need:g} s (connect {connect_timeout:g} s + 3 × command {command_timeout:g} s), so a good change "
                f"could revert before it is confirmed; give --confirm-timeout above {need:g} or lower the timeouts")

    def _parallel(self, sessions: list[_Session], fn) -> None:
        if not sessions:
            return
        with cf.ThreadPoolExecutor(max_workers=min(self.workers, len(sessions))) as pool:
            list(pool.map(lambda s: _guard(fn, s), sessions))

    def run(self, targets: list[Target]) -> Report:
        t0 = time.perf_counter()
        sessions = [_Session(t, self.hook, self.timeout, self.command_timeout) for t in targets]
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
        return Report([s.out for s in sessions], self.commit, time.perf_counter() - t0, self.lint)

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
        try:  # the backup of what the device runs now: offline diffs and `rollback --to latest` start here
            running = d.get_config(retrieve="running")["running"]
            s.out.backup_after = backup_mod.save(self.backups, s.t.name, running, s.t.extension)
        except Exception as e:  # confirmed is confirmed; say the backup is missing
            s.out.error = f"confirmed, but the backup after confirm failed: {_one_line(e)}"

    def _undo(self, s: _Session) -> None:
        """Roll back a device changed in this run; unreachable ones revert by their own timer.

        The state says what is known: rolled-back (done now), reverted (its timer already did),
        reverting (armed timer, device unreachable), unknown (the session died during commit and
        the device cannot be asked), failed (nothing was applied).
        """
        if self.hook:
            self.hook(s.t.name, "rollback", "start")
        d, opened = None, False
        for cand in (s.fresh, s.drv):
            try:
                if cand is not None and cand.is_alive().get("is_alive"):
                    d = cand
                    break
            except Exception:
                continue
        try:
            if d is None:
                d, opened = s.driver(), True
                d.open()
            if s.out.state == "confirmed" or d.has_pending_commit():
                d.rollback()              # our candidate runs (pending is ours: we hold the lock)
                s.out.state = "rolled-back"
            elif s.committed:
                s.out.state = "reverted"  # its commit-confirm timer ran out before we got here
                _note(s, "the device had already reverted by its commit-confirm timer")
            else:
                d.discard_config()        # nothing was applied; release our lock
                s.out.state = "failed"
                return
        except Exception as e:
            if s.out.state == "confirmed":  # confirmed stays confirmed: no timer will revert it
                _note(s, f"could not roll back ({_one_line(e)}); the device runs this push's config "
                         "(`dcops net rollback` when it can be reached)")
            elif s.committed:
                s.out.state = "reverting"
                _note(s, f"rollback not possible now ({_one_line(e)}); its commit-confirm reverts it by itself "
                         f"within {self.confirm_timeout} s")
            else:
                s.out.state = "unknown"
                _note(s, f"the session died during commit and the device cannot be asked ({_one_line(e)}); "
                         f"if the commit was applied, it reverts by itself within {self.confirm_timeout} s")
            return
        finally:
            if opened and d is not None:
                try:
                    d.close()
                except Exception:
                    pass
        if s.out.failed_step is None:
            s.out.error = s.out.error or "rolled back because another device failed"


def _note(s: _Session, note: str) -> None:
    s.out.error = f"{s.out.error}; {note}" if s.out.error else note


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
