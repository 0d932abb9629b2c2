"""Shared core of the vendor-API drivers (FortiOS REST, PAN-OS XML API): lock, commit with revert.

Neither FortiOS nor PAN-OS has a commit-confirm that an API client can arm
(FortiOS `cfg-save revert` covers idle CLI sessions only and reverts by
rebooting; PAN-OS has none). So the revert is done on the operator's side:

  commit_config(revert_in=N)
      1. take a snapshot of what the device runs (`_snapshot()`: FortiOS — the
         full config backup, kept on this machine; PAN-OS — the running config
         imported back onto the device as a named file)
      2. write  <state_dir>/<device>/pending.json  and start a detached timer
         process (own session: it survives the pusher) that, after N s, takes
         pending.json by an atomic rename and restores the snapshot
      3. apply the candidate (`_apply()`); if that fails, the snapshot is
         restored at once
  confirm_commit()   takes pending.json by the same atomic rename and stops the timer:
                     confirm and revert race on one rename, exactly one wins
  rollback()         while pending: the same, then restores the snapshot

What this cannot do, and the report says so: the timer runs on the operator's
machine. If that machine dies (power, kernel) before the deadline, nobody
reverts — the device keeps the unconfirmed change until an operator runs
`dcops net rollback DEVICE` (the snapshot reference stays in pending.json and,
for PAN-OS, on the device). A dead *pusher process* is covered (the timer is
its own session); a lost network path is covered as long as the timer can
reach the device when it fires (it retries for `revert_retry_s`).

Locks: `load_*_candidate` takes this machine's lock for the device (an flock'ed
lock.json in the state folder, same wording as the Linux driver: "device busy:
locked by USER@HOST since T"); a subclass adds the device's own lock where
the vendor has one (PAN-OS config-lock). The candidate id is the lock token;
commit refuses when the lock is not ours any more.

optional_args: ``port`` (443), ``https`` (True; False only for a loopback
emulator), ``ca_file`` (verify the device's certificate against it; default:
the system store), ``state_dir`` (~/.local/state/dcops/api), ``command_timeout``,
``lock_token``, ``lock_owner``, ``revert_retry_s`` (60).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from napalm.base import NetworkDriver
from napalm.base.exceptions import CommitConfirmException, CommitError, ReplaceConfigException

from . import locking
from .locking import DeviceBusy

TIMER_ENV = "DCOPS_REVERT_CRED"   # the timer's credential: inherited, never written to disk


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "dcops" / "api"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unified(a: str, b: str, fa: str = "running", fb: str = "candidate") -> str:
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), fa, fb))


class ApiDriver(NetworkDriver):
    """NAPALM-shaped base; subclasses implement the vendor calls named _connect … _restore."""

    vendor = "api"

    def __init__(self, hostname: str, username: str, password: str | None = None, timeout: int = 60,
                 optional_args: dict[str, Any] | None = None):
        self.hostname, self.username, self.timeout = hostname, username, timeout
        self.secret = password or ""
        args = dict(optional_args or {})
        self.args = args
        self.port = int(args.get("port") or 443)
        self.https = bool(args.get("https", True))
        self.ca_file = args.get("ca_file")
        self.command_timeout = float(args.get("command_timeout") or max(timeout, 10))
        self.token = str(args.get("lock_token") or secrets.token_hex(16))
        self.owner = str(args.get("lock_owner") or locking.owner())
        self.revert_retry_s = float(args.get("revert_retry_s", 60))
        self.state = Path(args.get("state_dir") or default_state_dir()) / f"{hostname}_{self.port}"
        self._candidate: str | None = None
        self.device_lock = _LocalLockAdmin(self)

    # -- to implement per vendor
    def _connect(self) -> None: ...
    def _disconnect(self) -> None: ...
    def _running(self) -> str: ...
    def _stage(self, config: str) -> None:
        """Validate/stage the candidate on the device where the vendor can (else keep it here)."""
    def _unstage(self) -> None:
        """Drop the staged candidate on the device."""
    def _device_diff(self) -> str: ...
    def _snapshot(self, running: str) -> str:
        """Keep what the device runs now where _restore() finds it; returns the reference."""
    def _apply(self, config: str) -> None: ...
    def _restore(self, ref: str) -> None: ...
    def _device_lock(self) -> None:
        """Take the vendor's own lock (PAN-OS config-lock); DeviceBusy when another holds it."""
    def _device_unlock(self, force: bool = False) -> None: ...

    # -- NAPALM verbs
    def open(self) -> None:
        self._connect()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._disconnect()

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False,
                   format: str = "text") -> dict[str, str]:
        return {"running": self._running(), "candidate": self._candidate or "", "startup": ""}

    def load_replace_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        if (filename is None) == (config is None):
            raise ReplaceConfigException("give exactly one of filename or config")
        text = Path(filename).read_text(encoding="utf-8") if filename else config
        self._take_lock()
        try:
            self._stage(text)
        except Exception as e:
            self._release_lock()
            raise ReplaceConfigException(f"{self.hostname}: candidate refused: {e}") from e
        self._candidate = text

    def load_merge_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        raise NotImplementedError(f"{self.vendor}: dcops pushes whole configurations only (replace)")

    def compare_config(self) -> str:
        if self._candidate is None:
            return ""
        return self._device_diff()

    def discard_config(self) -> None:
        if self._candidate is not None:
            with contextlib.suppress(Exception):
                self._unstage()
        self._candidate = None
        if not self._pending_file().exists():
            self._release_lock()

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        if self._candidate is None:
            raise CommitError(f"{self.hostname}: no candidate loaded")
        if not self._holds_lock():
            raise CommitError(f"{self.hostname}: this session does not hold the device lock any more "
                              f"({self._lock_text()}); load again")
        if self._pending_file().exists():
            raise CommitError(f"{self.hostname}: a commit is pending confirmation; confirm or roll back first")
        running = self._running()
        ref = self._snapshot(running)
        self._record("last.json", {"snapshot": ref, "token": self.token, "at": _now()})
        if revert_in:
            self._arm(int(revert_in), ref)
        try:
            self._apply(self._candidate)
        except Exception as e:
            # the device may run part of the candidate (a 500 mid-restore): put the snapshot back now
            taken = self._take_pending() if revert_in else True
            restored = ""
            if taken:
                try:
                    self._restore(ref)
                    restored = "; the configuration before the commit was restored"
                except Exception as e2:
                    restored = (f"; restoring the configuration before the commit FAILED too ({e2}): "
                                f"`dcops net rollback` it")
            raise CommitError(f"{self.hostname}: commit failed: {e}{restored}") from e
        self._candidate = None
        if not revert_in:
            self._release_lock()

    def confirm_commit(self) -> None:
        taken = self._take_pending()
        if not taken:
            raise CommitConfirmException(f"{self.hostname}: no commit pending (reverted already, or confirmed)")
        self._release_lock()

    def has_pending_commit(self) -> bool:
        """A commit waits for confirmation, or its timer is reverting it right now."""
        return self._pending_file().exists() or any(self.state.glob("reverting.*.json"))

    def rollback(self) -> None:
        info = self._take_pending()
        if info:
            self._restore(info["snapshot"])
            self._release_lock()
            return
        last = self._read("last.json")
        if not last:
            raise CommitError(f"{self.hostname}: nothing to roll back to (no commit by dcops from this machine)")
        self._restore(last["snapshot"])

    def is_alive(self) -> dict[str, bool]:
        try:
            self._running_probe()
            return {"is_alive": True}
        except Exception:
            return {"is_alive": False}

    def _running_probe(self) -> None:
        self.get_facts()

    # -- pending commit and the revert timer
    def _pending_file(self) -> Path:
        return self.state / "pending.json"

    def _record(self, name: str, data: dict) -> None:
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.state / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.state / name)

    def _read(self, name: str) -> dict | None:
        try:
            return json.loads((self.state / name).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def _arm(self, seconds: int, ref: str) -> None:
        spec = {"module": type(self).__module__, "cls": type(self).__name__, "hostname": self.hostname,
                "username": self.username, "timeout": self.timeout,
                "optional_args": {**{k: v for k, v in self.args.items() if k not in ("lock_token",)},
                                  "lock_token": self.token, "state_dir": str(self.state.parent)},
                "snapshot": ref, "token": self.token, "owner": self.owner, "seconds": seconds,
                "deadline": time.time() + seconds, "armed": _now()}
        self._record("pending.json", spec)
        env = dict(os.environ, **{TIMER_ENV: self.secret})
        with open(self.state / "revert.log", "a") as log:
            proc = subprocess.Popen([sys.executable, "-m", "dcops.net.drivers.api_base", str(self.state)],
                                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                    start_new_session=True, close_fds=True)
        self._record("pending.json", {**spec, "pid": proc.pid})
        _reap_later(proc)

    def _take_pending(self) -> dict | None:
        """Take pending.json by an atomic rename (confirm, rollback and the timer race here; one wins)."""
        src, dst = self._pending_file(), self.state / f"taken.{os.getpid()}.{secrets.token_hex(4)}.json"
        try:
            os.rename(src, dst)
        except FileNotFoundError:
            return None
        info = json.loads(dst.read_text(encoding="utf-8"))
        dst.unlink()
        pid = info.get("pid")
        if _our_timer(pid, self.state):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        return info

    # -- this machine's lock for the device
    def _lock_path(self) -> Path:
        return self.state / "lock.json"

    @contextlib.contextmanager
    def _mutex(self):
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.state / ".mutex", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _lock_text(self) -> str:
        held = self._read("lock.json")
        return f"held by {held.get('owner')} since {held.get('since')}" if held else "not held"

    def _holds_lock(self) -> bool:
        held = self._read("lock.json")
        return bool(held and held.get("token") == self.token)

    def _take_lock(self) -> None:
        with self._mutex():
            held = self._read("lock.json")
            if held and held.get("token") != self.token:
                if self._pending_file().exists() or not locking.holder_gone(held):
                    raise DeviceBusy(self.hostname, held)
            if not held or held.get("token") != self.token:
                self._record("lock.json", {"token": self.token, "owner": self.owner, "pid": str(os.getpid()),
                                           "since": _now()})
        try:
            self._device_lock()
        except Exception:
            self._release_local()
            raise

    def _release_local(self) -> None:
        with self._mutex():
            held = self._read("lock.json")
            if held and held.get("token") == self.token:
                self._lock_path().unlink(missing_ok=True)

    def _release_lock(self) -> None:
        with contextlib.suppress(Exception):
            self._device_unlock()
        self._release_local()


class _LocalLockAdmin:
    """`dcops net unlock`: info() and unlock() (refused while a commit is pending)."""

    def __init__(self, drv: ApiDriver):
        self.drv = drv

    def info(self) -> dict | None:
        return self.drv._read("lock.json")

    def unlock(self) -> dict | None:
        if self.drv._pending_file().exists():
            raise CommitError(f"{self.drv.hostname}: a commit is pending; its revert timer releases the lock")
        was = self.info()
        with contextlib.suppress(Exception):
            self.drv._device_unlock(force=True)
        self.drv._lock_path().unlink(missing_ok=True)
        return was


def _our_timer(pid: Any, state: Path) -> bool:
    """Whether `pid` (pending.json's) is still this state folder's revert timer, the only process
    _take_pending may signal. Its group is signalled (killpg), so anything else is refused: no pid, pid 1
    and below (killpg(1) is init's group, 0 our own, negatives are refused by the kernel), this process, a
    process that leads no group, and a pid the system has given to another program since the timer ended
    (a failed revert puts pending.json back with the pid of a timer that is gone). Not signalling is
    safe: a timer that is still running finds pending.json taken when it wakes and does nothing."""
    if type(pid) is not int or pid <= 1 or pid == os.getpid():
        return False
    try:
        if os.getpgid(pid) != pid:       # the timer leads its own session (start_new_session)
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:                      # gone, or no /proc: nothing is known to be ours
        return False
    return argv[1:4] == [b"-m", b"dcops.net.drivers.api_base", os.fsencode(str(state))]


def _reap_later(proc: subprocess.Popen) -> None:
    """The timer outlives us normally; reap it if it ends first (no zombie in long-running callers)."""
    import threading
    threading.Thread(target=proc.wait, daemon=True).start()


def _timer(state: Path) -> int:
    """The detached revert timer: sleep to the deadline, then revert unless confirmed first."""
    import importlib
    try:
        spec = json.loads((state / "pending.json").read_text(encoding="utf-8"))
    except FileNotFoundError:   # confirmed or rolled back before this process got here: nothing to revert
        return 0
    time.sleep(max(0.0, spec["deadline"] - time.time()))
    cls = getattr(importlib.import_module(spec["module"]), spec["cls"])
    drv = cls(spec["hostname"], spec["username"], os.environ.get(TIMER_ENV, ""), spec["timeout"],
              optional_args=spec["optional_args"])
    src, dst = state / "pending.json", state / f"reverting.{os.getpid()}.json"
    try:
        os.rename(src, dst)   # confirm or rollback won the race: nothing to do
    except FileNotFoundError:
        return 0
    end = time.time() + drv.revert_retry_s
    while True:
        try:
            drv.open()
            drv._restore(spec["snapshot"])
            drv._release_lock()
            drv.close()
            _history(state, f"reverted: commit not confirmed within {spec['seconds']} s (lock of {spec['owner']} released)")
            dst.unlink(missing_ok=True)
            return 0
        except Exception as e:  # device unreachable for now: keep trying until revert_retry_s
            if time.time() > end:
                _history(state, f"REVERT FAILED: {e}; pending commit kept in {dst.name}: `dcops net rollback`")
                os.replace(dst, src)  # still pending: a later rollback finds it
                return 1
            time.sleep(1)


def _history(state: Path, line: str) -> None:
    with open(state / "history.log", "a", encoding="utf-8") as f:
        f.write(f"{_now()} {line}\n")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(_timer(Path(sys.argv[1])))
