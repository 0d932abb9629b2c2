"""Processes started inside namespaces, recorded in the lab state and stopped by pid.

A pid is stored with its kernel start time; `stop` refuses to signal a pid
whose start time differs, so a recycled pid of an unrelated process is safe.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Mapping, Sequence

from . import state


def start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(pid: int, started: int | None = None) -> bool:
    st = start_time(pid)
    if st is None:
        return False
    if started is not None and st != started:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def spawn(lab: str, ns: str | None, argv: Sequence[str], *, what: str, log: Path | None = None,
          binds: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Start `argv` in namespace `ns` (None = root namespace) in its own session; returns its pid.

    `binds` maps host folders onto mount points in a private mount namespace of
    this process only — how namespace hosts get their own /var/lib/... while
    sharing the machine's filesystem.
    """
    cmd = list(argv)
    if binds:
        script = " && ".join(f"mount --bind '{src}' '{dst}'" for src, dst in binds.items()) + ' && exec "$@"'
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *cmd]
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, **(env or {})})
    finally:
        if log:
            out.close()
    # `ip netns exec` and `unshare` exec() in place, so the pid is the final program's pid.
    with state.edit(lab) as st:
        st["processes"].append({"pid": proc.pid, "start": start_time(proc.pid), "ns": ns, "what": what})
    _children[proc.pid] = proc
    return proc.pid


_children: dict[int, subprocess.Popen] = {}


def stop(pid: int, started: int | None = None, *, timeout: float = 3.0) -> None:
    """SIGTERM the process group, then SIGKILL after `timeout`; reaps our own children."""
    if started is not None and not alive(pid, started):
        _reap(pid)
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid):
                return
            time.sleep(0.02)
    _reap(pid)


def _reap(pid: int) -> None:
    proc = _children.get(pid)
    if proc is not None and proc.poll() is not None:
        _children.pop(pid, None)


def stop_recorded(lab: str, pid: int) -> None:
    with state.edit(lab) as st:
        entries = [p for p in st["processes"] if p["pid"] == pid]
        st["processes"] = [p for p in st["processes"] if p["pid"] != pid]
    for e in entries:
        stop(e["pid"], e["start"])
