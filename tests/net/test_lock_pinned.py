"""The push lock's rules, pinned (issue 20): who holds a device, when a lock is stale, what busy says.

In-process (tmp_path state folders, no device): the API drivers' local lock (api_base) and the lock
file's rules shared with the Linux and netmiko drivers (locking.py). The lab tests push through real
drivers; these state every branch of the rules with exact values.
"""
from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from napalm.base.exceptions import CommitError, ReplaceConfigException

from dcops.net.drivers import locking
from dcops.net.drivers.api_base import ApiDriver
from dcops.net.drivers.locking import DeviceBusy

HOST = socket.gethostname()


def _gone_pid() -> int:
    """A pid no process can have (above the kernel's pid_max): never a real process, even under mutation
    testing, where a mutant may turn the liveness probe `kill(pid, 0)` into a real signal."""
    with open("/proc/sys/kernel/pid_max", encoding="ascii") as f:
        return int(f.read()) + 1


@pytest.fixture
def alive_pid():
    """A live process of this test's own (never the parent's, never init: see _gone_pid)."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield p.pid
    p.kill()
    p.wait()


class _Drv(ApiDriver):
    """The shared core with a device lock that can be told to fail (the vendor's own lock)."""

    vendor = "test"

    def __init__(self, *a, device_busy: bool = False, **kw):
        super().__init__(*a, **kw)
        self.device_busy, self.device_calls = device_busy, []

    def _device_lock(self) -> None:
        self.device_calls.append("lock")
        if self.device_busy:
            raise DeviceBusy(self.hostname, {"owner": "admin2"})

    def _device_unlock(self, force: bool = False) -> None:
        self.device_calls.append(f"unlock force={force}")
        if self.device_busy:
            raise RuntimeError("the device refuses")


def _drv(tmp_path, token: str, **kw) -> _Drv:
    return _Drv("fw1", "api", "secret", 5, {"state_dir": str(tmp_path), "port": 8443, "lock_token": token,
                                            "lock_owner": f"{token}@op"}, **kw)


# ---------------------------------------------------------------- locking.py
def test_parse_reads_key_value_lines_and_skips_the_rest():
    text = "token=abc\n owner = ops@host \nno separator\n=orphan\npid=12=3\n\nsince=2026-11-30T10:00:00Z"
    assert locking.parse(text) == {"token": "abc", "owner": "ops@host", "pid": "12=3",
                                   "since": "2026-11-30T10:00:00Z"}


def test_device_busy_names_the_holder_and_the_unlock_command():
    e = DeviceBusy("fw1", {"owner": "an@pc", "since": "T0", "pid": "42", "token": "0123456789abcdefXYZ"})
    assert isinstance(e, ReplaceConfigException)
    assert e.holder == {"owner": "an@pc", "since": "T0", "pid": "42", "token": "0123456789abcdefXYZ"}
    assert str(e) == ("fw1: device busy: locked by an@pc since T0 (pid 42, candidate 0123456789ab); "
                      "if that push is gone: `dcops net unlock fw1`")


def test_device_busy_with_an_unreadable_holder_says_question_marks():
    assert str(DeviceBusy("fw1", {})) == ("fw1: device busy: locked by ? since ? (pid ?, candidate ?); "
                                          "if that push is gone: `dcops net unlock fw1`")


def test_owner_is_user_at_this_host():
    assert locking.owner() == f"{getpass.getuser()}@{HOST}"


def test_owner_without_a_passwd_entry_is_the_uid(monkeypatch):
    def no_user():
        raise KeyError("getpwuid(): uid not found")
    monkeypatch.setattr(getpass, "getuser", no_user)
    assert locking.owner() == f"{os.getuid()}@{HOST}"


def test_holder_whose_process_here_is_gone_is_stale():
    assert locking.holder_gone({"owner": f"ops@{HOST}", "pid": str(_gone_pid())}) is True


def test_holder_whose_process_here_is_alive_is_not_stale(alive_pid):
    assert locking.holder_gone({"owner": f"ops@{HOST}", "pid": str(alive_pid)}) is False


@pytest.mark.parametrize("holder", [
    {"owner": f"ops@{HOST}", "pid": "SELF"},                       # this very process (its pid at run time)
    {"owner": f"ops@{HOST}", "pid": "0"},                          # would signal our process group
    {"owner": f"ops@{HOST}", "pid": "-1"},                         # would signal every process
    {"owner": f"ops@{HOST}", "pid": "not-a-pid"},
    {"owner": f"ops@{HOST}"},
    {"owner": "ops@another-machine", "pid": "999999999"},          # another machine: its pids mean nothing here
    {"pid": "999999999"},
], ids=["self", "pid0", "pid-1", "garbage", "no-pid", "other-host", "no-owner"])
def test_holder_is_not_stale_unless_it_ran_here_and_its_process_is_gone(holder):
    # "SELF" is resolved here, not in the parameter list: parameters are built when the tests are collected,
    # and a runner that collects once and forks per run (mutmut) would make str(os.getpid()) name the
    # collecting parent -- a live process a mutant of the probe then signals (SIGHUP stopped mutmut's run)
    holder = {k: str(os.getpid()) if v == "SELF" else v for k, v in holder.items()}
    assert locking.holder_gone(holder) is False


def test_liveness_probe_does_not_disturb_a_live_holder():
    """The probe is kill(pid, 0): asking whether the holder exists must not signal it (SIGHUP ends it)."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert locking.holder_gone({"owner": f"ops@{HOST}", "pid": str(p.pid)}) is False
        with pytest.raises(subprocess.TimeoutExpired):
            p.wait(timeout=0.2)
    finally:
        p.kill()
        p.wait()




# ---------------------------------------------------------------- the API drivers' local lock
def test_take_lock_records_token_owner_pid_and_since(tmp_path):
    d = _drv(tmp_path, "tok-a")
    d._take_lock()
    held = json.loads((tmp_path / "fw1_8443" / "lock.json").read_text(encoding="utf-8"))
    assert set(held) == {"token", "owner", "pid", "since"}
    assert (held["token"], held["owner"], held["pid"]) == ("tok-a", "tok-a@op", str(os.getpid()))
    assert len(held["since"]) == 20 and held["since"].endswith("Z")
    assert d._lock_path() == tmp_path / "fw1_8443" / "lock.json"
    assert d._holds_lock() is True and d.device_calls == ["lock"]
    assert d._lock_text() == f"held by tok-a@op since {held['since']}"


def test_take_lock_twice_by_the_holder_keeps_the_record(tmp_path):
    d = _drv(tmp_path, "tok-a")
    d._take_lock()
    before = d._lock_path().read_text(encoding="utf-8")
    (tmp_path / "fw1_8443" / "lock.json").write_text(before.replace('"since": "', '"since": "x'), encoding="utf-8")
    d._take_lock()
    assert json.loads(d._lock_path().read_text(encoding="utf-8"))["since"].startswith("x")


def test_second_operator_gets_device_busy_and_the_first_keeps_the_lock(tmp_path):
    a, b = _drv(tmp_path, "tok-a"), _drv(tmp_path, "tok-b")
    a._take_lock()
    with pytest.raises(DeviceBusy, match=r"^fw1: device busy: locked by tok-a@op since \S+Z \(pid \d+"):
        b._take_lock()
    assert a._holds_lock() is True and b._holds_lock() is False and b.device_calls == []


def test_lock_of_a_gone_process_here_is_taken_over(tmp_path):
    a, b = _drv(tmp_path, "tok-a"), _drv(tmp_path, "tok-b")
    a._record("lock.json", {"token": "tok-a", "owner": f"x@{HOST}", "pid": str(_gone_pid()), "since": "T"})
    b._take_lock()
    assert b._holds_lock() is True and a._holds_lock() is False


def test_lock_of_a_gone_process_is_not_taken_while_a_commit_is_pending(tmp_path):
    a, b = _drv(tmp_path, "tok-a"), _drv(tmp_path, "tok-b")
    a._record("lock.json", {"token": "tok-a", "owner": f"x@{HOST}", "pid": str(_gone_pid()), "since": "T"})
    a._record("pending.json", {"ref": "r"})
    with pytest.raises(DeviceBusy):
        b._take_lock()
    assert a._holds_lock() is True


def test_device_lock_refused_releases_the_local_lock(tmp_path):
    d = _drv(tmp_path, "tok-a", device_busy=True)
    with pytest.raises(DeviceBusy, match="locked by admin2"):
        d._take_lock()
    assert d._lock_path().exists() is False and d._lock_text() == "not held"


def test_release_removes_only_our_own_lock(tmp_path):
    a, b = _drv(tmp_path, "tok-a"), _drv(tmp_path, "tok-b")
    a._take_lock()
    b._release_lock()
    assert a._holds_lock() is True and b.device_calls == ["unlock force=False"]
    a._release_lock()
    assert a._lock_path().exists() is False and a.device_calls == ["lock", "unlock force=False"]


def test_release_goes_on_when_the_device_refuses_to_unlock(tmp_path):
    d = _drv(tmp_path, "tok-a")
    d._take_lock()
    d.device_busy = True
    d._release_lock()
    assert d._lock_path().exists() is False


def test_holds_lock_is_false_without_a_lock_file(tmp_path):
    assert _drv(tmp_path, "tok-a")._holds_lock() is False


def test_unlock_admin_returns_the_holder_and_removes_the_lock(tmp_path):
    a, admin = _drv(tmp_path, "tok-a"), _drv(tmp_path, "tok-b")
    a._take_lock()
    held = admin.device_lock.info()
    assert held["token"] == "tok-a"
    assert admin.device_lock.unlock() == held
    assert admin.device_calls == ["unlock force=True"]
    assert a._lock_path().exists() is False and admin.device_lock.info() is None


def test_unlock_admin_goes_on_when_the_device_refuses(tmp_path):
    a, admin = _drv(tmp_path, "tok-a"), _drv(tmp_path, "tok-b", device_busy=True)
    a._take_lock()
    assert admin.device_lock.unlock()["token"] == "tok-a"
    assert a._lock_path().exists() is False


def test_unlock_admin_refuses_while_a_commit_is_pending(tmp_path):
    a, admin = _drv(tmp_path, "tok-a"), _drv(tmp_path, "tok-b")
    a._take_lock()
    a._record("pending.json", {"ref": "r"})
    with pytest.raises(CommitError, match=r"^fw1: a commit is pending; its revert timer releases the lock$"):
        admin.device_lock.unlock()
    assert a._holds_lock() is True and admin.device_calls == []


def test_state_folder_is_private(tmp_path):
    d = _drv(tmp_path, "tok-a")
    d._take_lock()
    assert (tmp_path / "fw1_8443").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "fw1_8443" / ".mutex").exists() is True


def test_holder_whose_user_part_has_an_at_sign_is_still_matched_by_its_host():
    assert locking.holder_gone({"owner": f"an.nv@example.vn@{HOST}", "pid": str(_gone_pid())}) is True


def test_unlock_admin_with_no_lock_held_answers_none(tmp_path):
    admin = _drv(tmp_path, "tok-b")
    assert admin.device_lock.unlock() is None
    assert admin.device_calls == ["unlock force=True"]


# ---------------------------------------------------------------- the revert timer: whom _take_pending signals
@pytest.fixture
def session_leader():
    """A live process leading its own group that is not a revert timer (what a reused pid may be)."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield p
    p.kill()
    p.wait()


@pytest.mark.parametrize("pid", [None, 0, 1, -1, "SELF", "4242", True, "GONE", "LEADER", "MEMBER"],
                         ids=["none", "zero-own-group", "init-group", "minus-one", "self", "text", "bool", "gone",
                              "leader-not-a-timer", "not-a-leader"])
def test_take_pending_signals_no_process_but_its_own_timer(tmp_path, monkeypatch, session_leader, alive_pid, pid):
    """killpg(1) would SIGTERM init's group and killpg(0) our own; a pending.json put back after a failed
    revert names a timer that is gone, whose pid may now lead an unrelated session."""
    pid = {"SELF": os.getpid(), "GONE": _gone_pid(), "LEADER": session_leader.pid, "MEMBER": alive_pid}.get(pid, pid)
    signalled = []
    monkeypatch.setattr(os, "killpg", lambda *a: signalled.append(a))
    d = _drv(tmp_path, "tok-a")
    d._record("pending.json", {"snapshot": "r", "pid": pid})
    assert d._take_pending() == {"snapshot": "r", "pid": pid}
    assert signalled == [] and d._pending_file().exists() is False
    assert sorted(p.name for p in d.state.iterdir()) == []      # the taken file is gone too


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(bytes(1))
        return f"pid {pid}: group {os.getpgid(pid)}, argv {argv}"
    except OSError as e:
        return f"pid {pid}: {e!r}"


def test_the_armed_revert_timer_is_recognised_as_this_folders_timer_only(tmp_path):
    from dcops.net.drivers import api_base
    d = _drv(tmp_path, "tok-a")
    d._take_lock()
    d._arm(60, "snap-1")
    pid = json.loads(d._pending_file().read_text(encoding="utf-8"))["pid"]
    try:
        _started(pid)
        assert api_base._our_timer(pid, d.state) is True, _describe(pid)
        assert api_base._our_timer(pid, tmp_path / "another-device") is False
    finally:
        d._take_pending()


def _stand_in_timer(tmp_path, state) -> subprocess.Popen:
    """A process with the revert timer's command line (python -m dcops.net.drivers.api_base STATE) whose module
    only sleeps: unlike the real timer it cannot end by itself when pending.json is taken early."""
    pkg = tmp_path / "fake" / "dcops" / "net" / "drivers"
    pkg.mkdir(parents=True)
    for d in (pkg, pkg.parent, pkg.parent.parent):
        (d / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "api_base.py").write_text("import time\ntime.sleep(60)\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.Popen([sys.executable, "-m", "dcops.net.drivers.api_base", str(state)], cwd=tmp_path / "fake",
                         env=env, start_new_session=True)
    _started(p.pid)
    return p


def _started(pid: int) -> None:
    """Popen returns when exec has begun; /proc/PID/cmdline reads empty for a moment more (a confirm in that
    moment signals nothing, and the real timer then finds pending.json taken and ends)."""
    for _ in range(500):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if f.read():
                return
        time.sleep(0.01)
    raise AssertionError(f"{pid} did not start")


def test_take_pending_stops_its_own_revert_timer_with_sigterm(tmp_path):
    import signal
    d = _drv(tmp_path, "tok-a")
    timer = _stand_in_timer(tmp_path, d.state)
    try:
        d._record("pending.json", {"snapshot": "snap-1", "pid": timer.pid})
        assert d._take_pending() == {"snapshot": "snap-1", "pid": timer.pid}
        assert timer.wait(timeout=10) == -signal.SIGTERM
    finally:
        timer.kill()
        timer.wait()


@pytest.mark.parametrize("error", [ProcessLookupError, PermissionError])
def test_take_pending_goes_on_when_the_timer_cannot_be_signalled(tmp_path, monkeypatch, error):
    """The timer ended between the check and the signal, or runs as another user: pending.json is taken."""
    from dcops.net.drivers import api_base

    def refuse(*a):
        raise error(a)
    monkeypatch.setattr(api_base, "_our_timer", lambda pid, state: True)
    monkeypatch.setattr(os, "killpg", refuse)
    d = _drv(tmp_path, "tok-a")
    d._record("pending.json", {"snapshot": "r", "pid": 4242})
    assert d._take_pending() == {"snapshot": "r", "pid": 4242}
    assert d._pending_file().exists() is False


def test_timer_pids_up_to_1_and_our_own_are_refused_without_looking_them_up(tmp_path, monkeypatch):
    from dcops.net.drivers import api_base
    looked_up = []
    monkeypatch.setattr(os, "getpgid", lambda pid: looked_up.append(pid) or pid)
    monkeypatch.setattr(os, "getpid", lambda: 4242)   # not 2, which it is in a pid namespace's first child
    for pid in (None, "7", True, -1, 0, 1, 4242):
        assert api_base._our_timer(pid, tmp_path) is False
    assert looked_up == []
    assert api_base._our_timer(2, tmp_path) is False      # looked up: pid 2 is no timer of this folder
    assert looked_up == [2]


def test_timer_started_after_its_commit_was_confirmed_does_nothing(tmp_path):
    """Confirm can take pending.json before the timer process has read it: the timer ends quietly."""
    from dcops.net.drivers import api_base
    assert api_base._timer(tmp_path) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_holder_whose_process_belongs_to_another_user_is_not_stale(monkeypatch):
    def not_permitted(pid, sig):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "kill", not_permitted)
    assert locking.holder_gone({"owner": f"ops@{HOST}", "pid": "4242"}) is False


def test_release_goes_on_when_the_lock_was_removed_by_an_unlock_meanwhile(tmp_path, monkeypatch):
    """`dcops net unlock` removes lock.json without the mutex: releasing a lock file that is gone is no error."""
    d = _drv(tmp_path, "tok-a")
    d._take_lock()
    monkeypatch.setattr(d, "_read", lambda name: {"token": "tok-a"})
    d._lock_path().unlink()
    d._release_local()
    assert d._lock_path().exists() is False
